//! OAuth-style requests and answers: [`OAuthForm`], the `application/x-www-form-urlencoded` body
//! (RFC 6749 §3.2, RFC 7009, RFC 7662), and [`OAuthError`], the error answer of RFC 6749 §5.2.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::cookie;
use super::views::{to_value, TokenAnswer};
use crate::issuer::{AccessToken, Issuer, RefreshToken};
use crate::service::refresh::GrantError;
use crate::service::ServiceError;
use std::collections::BTreeMap;

/// An RFC 6749 §5.2 error (and the few answers beside it: 429, 503, 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest(String),
    InvalidGrant,
    UnsupportedGrantType,
    /// 429 with `Retry-After` seconds.
    RateLimited(u64),
    /// 503: the store did not answer.
    Unavailable,
    /// 404: token issuing is not configured on this verifier.
    NotConfigured,
    Internal,
}

impl OAuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidRequest(_)
            | OAuthError::InvalidGrant
            | OAuthError::UnsupportedGrantType => StatusCode::BAD_REQUEST,
            OAuthError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::NotConfigured => StatusCode::NOT_FOUND,
            OAuthError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::RateLimited(_) => "rate_limited",
            OAuthError::Unavailable => "temporarily_unavailable",
            OAuthError::NotConfigured => "not_found",
            OAuthError::Internal => "server_error",
        }
    }

    fn description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(why) => why.clone(),
            OAuthError::InvalidGrant => {
                "the refresh token is unknown, expired, already used or revoked".into()
            }
            OAuthError::UnsupportedGrantType => "only grant_type=refresh_token is served".into(),
            OAuthError::RateLimited(_) => "too many requests; retry later".into(),
            OAuthError::Unavailable => "the session store is unavailable".into(),
            OAuthError::NotConfigured => {
                "token issuing is not configured (no --signing-key-file)".into()
            }
            OAuthError::Internal => "internal error".into(),
        }
    }
}

impl From<ServiceError> for OAuthError {
    /// A refused store write of any kind is "temporarily unavailable" to an OAuth client.
    fn from(error: ServiceError) -> OAuthError {
        match error {
            ServiceError::Invalid(message) => OAuthError::InvalidRequest(message),
            ServiceError::NotFound(_) => OAuthError::InvalidGrant,
            ServiceError::Unavailable | ServiceError::ReplicationTimeout => OAuthError::Unavailable,
            ServiceError::Internal => OAuthError::Internal,
        }
    }
}

impl From<GrantError> for OAuthError {
    fn from(error: GrantError) -> OAuthError {
        match error {
            GrantError::InvalidGrant => OAuthError::InvalidGrant,
            GrantError::RateLimited(seconds) => OAuthError::RateLimited(seconds),
            GrantError::Failed(error) => error.into(),
        }
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1): answers that carry or
/// concern tokens are never cached.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "error_description": self.description() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        no_store(response.headers_mut());
        if let OAuthError::RateLimited(seconds) = self {
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 §3.2, RFC 7009, RFC 7662) as its
/// parameters. Empty values count as absent (RFC 6749 §3.1); a repeated parameter, a body that is
/// not a form, or bad percent-encoding is `invalid_request`. Handlers that check something first
/// (is token issuing configured?) take `Result<OAuthForm, OAuthError>`.
#[derive(Debug, Default)]
pub struct OAuthForm(pub BTreeMap<String, String>);

impl OAuthForm {
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.get(name)
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthForm {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidRequest(why.to_owned());
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(invalid(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    invalid("the body is too large")
                } else {
                    invalid("could not read the body")
                }
            })?;
        parse_form(&bytes).map(OAuthForm)
    }
}

/// The parameters of a form body.
pub fn parse_form(bytes: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let invalid = |why: &str| OAuthError::InvalidRequest(why.to_owned());
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("the body is not UTF-8"))?;
    let mut params = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = warden_core::percent::decode_form(name)
            .ok_or_else(|| invalid("bad percent-encoding in the body"))?;
        let value = warden_core::percent::decode_form(value)
            .ok_or_else(|| invalid("bad percent-encoding in the body"))?;
        if value.is_empty() {
            continue;
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(OAuthError::InvalidRequest(format!(
                "parameter `{}` is repeated",
                name.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(params)
}

/// The token answer (RFC 6749 §5.1); in cookie mode the refresh token goes into the cookie
/// (and into the body too when `status` is 201, the admin API's answer to its backend).
pub fn token_answer(
    issuer: &Issuer,
    access: &AccessToken,
    refresh: &RefreshToken,
    refresh_max_age: i64,
    status: StatusCode,
    extra: Map<String, Value>,
) -> Response {
    let cookie = issuer
        .settings
        .refresh_cookie
        .as_ref()
        .map(|name| cookie::set(name, refresh.as_str(), refresh_max_age));
    let body = TokenAnswer {
        access_token: access.token.clone(),
        expires_in: access.expires_in,
        refresh_token: (cookie.is_none() || status == StatusCode::CREATED)
            .then(|| refresh.as_str().to_owned()),
        token_type: "Bearer",
        extra,
    };
    let mut response = (status, axum::Json(to_value(&body))).into_response();
    no_store(response.headers_mut());
    if let Some(cookie) = cookie {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn extract(content_type: Option<&str>, body: &str) -> Result<OAuthForm, OAuthError> {
        let mut request = Request::builder().method("POST").uri("/v1/token");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        OAuthForm::from_request(request, &()).await
    }

    fn form(body: &str) -> Result<BTreeMap<String, String>, OAuthError> {
        parse_form(body.as_bytes())
    }

    #[test]
    fn parses_forms() {
        let p = form("grant_type=refresh_token&refresh_token=a%2Eb+c&empty=").unwrap();
        assert_eq!(p["grant_type"], "refresh_token");
        assert_eq!(p["refresh_token"], "a.b c");
        assert!(!p.contains_key("empty"));
        assert!(matches!(
            form("a=1&a=2"),
            Err(OAuthError::InvalidRequest(_))
        ));
        assert!(matches!(form("a=%zz"), Err(OAuthError::InvalidRequest(_))));
        assert!(matches!(form("a=%ff"), Err(OAuthError::InvalidRequest(_))));
        assert!(matches!(form("a=%4"), Err(OAuthError::InvalidRequest(_))));
        assert_eq!(form("a%2Bb=c%2bd").unwrap()["a+b"], "c+d");
    }

    #[tokio::test]
    async fn the_extractor_wants_a_form() {
        let json = extract(None, "{}").await;
        assert!(matches!(json, Err(OAuthError::InvalidRequest(_))));
        let json = extract(Some("application/json"), "a=1").await;
        assert!(matches!(json, Err(OAuthError::InvalidRequest(_))));
        let form = extract(
            Some("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            "token=t",
        )
        .await
        .unwrap();
        assert_eq!(form.get("token").map(String::as_str), Some("t"));
    }

    #[test]
    fn errors_are_rfc6749_shaped() {
        let r = OAuthError::RateLimited(7).into_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert_eq!(OAuthError::InvalidGrant.status(), 400);
    }
}
