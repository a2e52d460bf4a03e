//! What the filter answers instead of forwarding: RFC 6750 bearer errors and the fail-closed 503.

use crate::Reason;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub const REALM: &str = "warden";

/// 401 for a missing or refused token, 503 when the verifier could not answer, 400 for a path
/// that upstreams could read in different ways (no token could make it acceptable).
pub fn deny(reason: Reason) -> LocalResponse {
    let json = |error: &str| {
        serde_json::json!({ "error": error, "error_description": reason.as_str() }).to_string()
    };
    match reason {
        Reason::VerifierUnavailable => LocalResponse {
            status: 503,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json("temporarily_unavailable"),
        },
        Reason::PathRejected => LocalResponse {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json("invalid_request"),
        },
        // The route names a requirement the filter lacks: a configuration fault no token can
        // mend, so no challenge.
        Reason::RequirementUnknown => LocalResponse {
            status: 403,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json("access_denied"),
        },
        // RFC 6750 §3.1: a request without credentials gets no error code.
        Reason::TokenMissing => LocalResponse {
            status: 401,
            headers: vec![
                ("www-authenticate".into(), format!("Bearer realm=\"{REALM}\"")),
                ("content-type".into(), "application/json".into()),
            ],
            body: json("unauthorized"),
        },
        _ => LocalResponse {
            status: 401,
            headers: vec![
                (
                    "www-authenticate".into(),
                    format!("Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{reason}\""),
                ),
                ("content-type".into(), "application/json".into()),
            ],
            body: json("invalid_token"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_token_answer() {
        let r = deny(Reason::SignatureInvalid);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.headers[0].1,
            "Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"signature_invalid\""
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], "signature_invalid");
    }

    #[test]
    fn missing_token_has_no_error_code() {
        let r = deny(Reason::TokenMissing);
        assert_eq!(r.status, 401);
        assert_eq!(r.headers[0].1, "Bearer realm=\"warden\"");
    }

    #[test]
    fn ambiguous_path_is_400_without_challenge() {
        let r = deny(Reason::PathRejected);
        assert_eq!(r.status, 400);
        assert!(r.headers.iter().all(|(k, _)| k != "www-authenticate"));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error_description"], "path_rejected");
    }

    #[test]
    fn verifier_down_is_503_without_challenge() {
        let r = deny(Reason::VerifierUnavailable);
        assert_eq!(r.status, 503);
        assert!(r.headers.iter().all(|(k, _)| k != "www-authenticate"));
    }
}
