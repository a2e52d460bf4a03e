//! The check protocol between the filter and the verifier (`POST /v1/check`).
//! Both sides use these types, so they agree on the wire by construction.

use crate::Reason;
use serde::{Deserialize, Serialize};

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
