//! The check protocol between the filter and the verifier (`POST /v1/check`).
//! Both sides use these types, so they agree on the wire by construction.

use crate::token::{self, Claims};
use crate::Reason;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest `sub`, `jti` or `sid` the verifier accepts, in bytes.
pub const MAX_ID_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub sub: String,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResponse {
    pub allow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl CheckResponse {
    pub fn allow() -> Self {
        CheckResponse {
            allow: true,
            reason: None,
        }
    }

    pub fn deny(reason: Reason) -> Self {
        CheckResponse {
            allow: false,
            reason: Some(reason),
        }
    }
}

/// The verifier request for an allowed token; a token without string `sub` and `jti` cannot be
/// checked for revocation and is refused.
pub fn check_request(claims: &Claims) -> Result<CheckRequest, Reason> {
    let id = |name: &str| -> Result<Option<String>, Reason> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(Reason::TokenMalformed),
        }
    };
    let sub = id("sub")?.ok_or(Reason::ClaimMissing)?;
    let jti = id("jti")?.ok_or(Reason::ClaimMissing)?;
    let sid = id("sid")?;
    let ver = match claims.get("ver") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(Reason::TokenMalformed)?),
    };
    Ok(CheckRequest {
        sub,
        jti,
        sid,
        ver,
        iat: token::numeric_date(claims, "iat")?,
        exp: token::numeric_date(claims, "exp")?.unwrap_or(0),
        iss: claims
            .get("iss")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(Reason),
    /// Not a clear answer: apply the failure mode.
    Failure,
}

/// Reads the verifier's answer. Only `200` with a well-formed body is an answer.
pub fn verifier_verdict(status: Option<u32>, body: &[u8]) -> Verdict {
    if status != Some(200) {
        return Verdict::Failure;
    }
    let Ok(raw) = serde_json::from_slice::<Value>(body) else {
        return Verdict::Failure;
    };
    match raw.get("allow") {
        Some(Value::Bool(true)) => Verdict::Allow,
        Some(Value::Bool(false)) => {
            let reason = raw
                .get("reason")
                .and_then(Value::as_str)
                .and_then(Reason::parse);
            Verdict::Deny(deny_reason(reason))
        }
        _ => Verdict::Failure,
    }
}

/// A verifier deny is always a 401 `invalid_token`, even when the reason is one this filter does
/// not know or one that would change the kind of answer (no token, unavailable).
fn deny_reason(reason: Option<Reason>) -> Reason {
    match reason {
        None | Some(Reason::TokenMissing | Reason::VerifierUnavailable) => Reason::Revoked,
        Some(r) => r,
    }
}

impl From<CheckResponse> for Verdict {
    fn from(r: CheckResponse) -> Self {
        if r.allow {
            Verdict::Allow
        } else {
            Verdict::Deny(deny_reason(r.reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_request_round_trips_and_omits_absent_fields() {
        let req = CheckRequest {
            sub: "alice".into(),
            jti: "j1".into(),
            sid: None,
            ver: Some(2),
            iat: None,
            exp: 100,
            iss: None,
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(json, r#"{"sub":"alice","jti":"j1","ver":2,"exp":100}"#);
        assert_eq!(serde_json::from_str::<CheckRequest>(&json).unwrap(), req);
    }

    #[test]
    fn check_response_wire_format() {
        assert_eq!(
            serde_json::to_string(&CheckResponse::allow()).unwrap(),
            r#"{"allow":true}"#
        );
        assert_eq!(
            serde_json::to_string(&CheckResponse::deny(Reason::StaleVersion)).unwrap(),
            r#"{"allow":false,"reason":"stale_version"}"#
        );
    }
}
