//! Response bodies. Fields are declared in alphabetical order: the bodies were built as JSON
//! maps, which serialise sorted, and clients may compare them byte for byte.

use serde::Serialize;
use serde_json::{Map, Value};

/// `/healthz`, `/readyz`.
#[derive(Debug, Serialize)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<&'static str>,
    pub status: &'static str,
}

/// `POST /v1/admin/revoke/token`.
#[derive(Debug, Serialize)]
pub struct RevokedToken {
    /// `null`: revoked for good.
    pub expires_at: Option<i64>,
    pub jti: String,
    pub sub: String,
}

/// `POST /v1/admin/revoke/user`.
#[derive(Debug, Serialize)]
pub struct RevokedUser {
    pub version: u64,
}

/// `POST /v1/admin/revoke/session`: the identity-provider session revoked, and until when.
#[derive(Debug, Serialize)]
pub struct RevokedIdpSession {
    pub iss: String,
    pub sid: String,
    pub until: i64,
}

/// `POST /v1/admin/revoke/all`.
#[derive(Debug, Serialize)]
pub struct RevokedAll {
    pub not_before: i64,
}

/// `POST /v1/admin/sessions` without a signing key.
#[derive(Debug, Serialize)]
pub struct SessionCreated {
    pub expires_at: i64,
    pub sid: String,
}

/// One session of `GET /v1/admin/users/{sub}/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub created: i64,
    pub device: Option<String>,
    pub expires_at: i64,
    pub last_seen: i64,
    pub sid: String,
}

/// `GET /v1/admin/users/{sub}/sessions`.
#[derive(Debug, Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
    pub sub: String,
}

/// The token answer (RFC 6749 §5.1), with what the route adds (`extra`: the admin API's `sid`,
/// `expires_at`, `set_cookie`).
#[derive(Debug, Serialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: &'static str,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Introspection of a refresh token (RFC 7662).
#[derive(Debug, Serialize)]
pub struct RefreshIntrospection {
    pub active: bool,
    pub aud: Value,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub sid: String,
    pub sub: String,
    pub token_type: &'static str,
}

/// `{"active": false}`.
#[derive(Debug, Serialize)]
pub struct Inactive {
    pub active: bool,
}

/// A body as a JSON value: its members sorted, whatever flattening put where.
pub fn to_value<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or_else(|e| {
        // Only maps with non-string keys fail, and no body here has one.
        tracing::error!(error = %e, "a response body did not serialise");
        Value::Null
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_serialise_sorted_as_before() {
        let mut extra = Map::new();
        extra.insert("sid".into(), json!("s"));
        extra.insert("expires_at".into(), json!(9));
        let answer = TokenAnswer {
            access_token: "a".into(),
            expires_in: 60,
            refresh_token: None,
            token_type: "Bearer",
            extra,
        };
        assert_eq!(
            to_value(&answer).to_string(),
            r#"{"access_token":"a","expires_at":9,"expires_in":60,"sid":"s","token_type":"Bearer"}"#
        );
        let revoked = RevokedToken {
            expires_at: None,
            jti: "j".into(),
            sub: "u".into(),
        };
        assert_eq!(
            serde_json::to_string(&revoked).unwrap(),
            json!({"sub": "u", "jti": "j", "expires_at": null}).to_string()
        );
    }
}
