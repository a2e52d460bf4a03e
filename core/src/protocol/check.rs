//! The check protocol between the filter and the verifier (`POST /v1/check`).

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
    /// Absent only for a token of a provider configured with `require_jti: false` (such a token
    /// cannot be revoked by itself, only by its user, session or a revoke-all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_numeric_date"
    )]
    pub iat: Option<i64>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// A date on the wire: an integer, or a fraction truncated toward zero as the filter reads the
/// token's NumericDates (`token::numeric_date_value`), so a caller posting a token's own
/// claims gets the same second as the filter.
fn wire_date(n: &serde_json::Number) -> Option<i64> {
    if let Some(v) = n.as_i64() {
        return Some(v);
    }
    // A fraction only within ±2⁵³, where an f64 is exact: an integer beyond i64 (such as
    // -9223372036854775809) also arrives here, rounded, and must not pass as a nearby date.
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    #[allow(clippy::cast_possible_truncation)] // in range, checked first
    n.as_f64()
        .filter(|v| (-LIMIT..=LIMIT).contains(v))
        .map(|v| v.trunc() as i64)
}

fn numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    wire_date(&n).ok_or_else(|| serde::de::Error::custom("date out of range"))
}

fn optional_numeric_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => wire_date(&n)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("date out of range")),
    }
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
    check_request_with(claims, true)
}

/// [`check_request`] for a provider's `require_jti` setting: when `false`, a token without `jti`
/// is checked without one (a `jti` that is present is still checked, and must be well-formed).
pub fn check_request_with(claims: &Claims, require_jti: bool) -> Result<CheckRequest, Reason> {
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
    let jti = id("jti")?;
    if require_jti && jti.is_none() {
        return Err(Reason::ClaimMissing);
    }
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
        None
        | Some(Reason::TokenMissing | Reason::VerifierUnavailable | Reason::RequirementUnknown) => {
            Reason::Revoked
        }
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
            jti: Some("j1".into()),
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
    fn a_token_without_jti_is_checked_only_when_its_provider_allows_it() {
        let claims: Claims = serde_json::from_str(r#"{"sub":"a","exp":9}"#).unwrap();
        assert_eq!(check_request(&claims), Err(Reason::ClaimMissing));
        assert_eq!(check_request_with(&claims, true), Err(Reason::ClaimMissing));
        let req = check_request_with(&claims, false).unwrap();
        assert_eq!(req.jti, None);
        // On the wire the field is left out, and a body without it reads back the same.
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(json, r#"{"sub":"a","exp":9}"#);
        assert_eq!(serde_json::from_str::<CheckRequest>(&json).unwrap(), req);
        // A jti that is there must still be a proper id.
        for bad in [
            r#"{"sub":"a","jti":"","exp":9}"#,
            r#"{"sub":"a","jti":5,"exp":9}"#,
        ] {
            let claims: Claims = serde_json::from_str(bad).unwrap();
            assert_eq!(
                check_request_with(&claims, false),
                Err(Reason::TokenMalformed),
                "{bad}"
            );
        }
        let claims: Claims = serde_json::from_str(r#"{"sub":"a","jti":"j","exp":9}"#).unwrap();
        assert_eq!(
            check_request_with(&claims, false).unwrap().jti.as_deref(),
            Some("j")
        );
    }

    #[test]
    fn check_request_dates_truncate_fractions_like_the_filter() {
        let parse = |body: &str| serde_json::from_str::<CheckRequest>(body);
        let req = parse(r#"{"sub":"a","jti":"j","iat":1234.999,"exp":1700000600.5}"#).unwrap();
        assert_eq!((req.iat, req.exp), (Some(1234), 1_700_000_600));
        // The same second the filter reads from the token's claims.
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"a","jti":"j","iat":1234.999,"exp":1700000600.5}"#)
                .unwrap();
        assert_eq!(check_request(&claims).unwrap(), req);
        let req = parse(r#"{"sub":"a","jti":"j","iat":null,"exp":-1}"#).unwrap();
        assert_eq!((req.iat, req.exp), (None, -1));
        let req = parse(r#"{"sub":"a","jti":"j","exp":-9223372036854775808}"#).unwrap();
        assert_eq!(req.exp, i64::MIN);
        for bad in [
            r#"{"sub":"a","jti":"j","exp":1e19}"#,
            r#"{"sub":"a","jti":"j","exp":-9223372036854775809}"#,
            r#"{"sub":"a","jti":"j","exp":9223372036854775808}"#,
            r#"{"sub":"a","jti":"j","exp":-9.3e18}"#,
            r#"{"sub":"a","jti":"j","exp":9007199254740993.5e3}"#,
            r#"{"sub":"a","jti":"j","exp":"5"}"#,
            r#"{"sub":"a","jti":"j","exp":5,"iat":true}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
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
