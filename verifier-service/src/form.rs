//! OAuth-style requests and answers: `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2,
//! RFC 7009, RFC 7662) and the error answer of RFC 6749 §5.2.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
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

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex(*bytes.get(i + 1)?)?;
                let low = hex(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The form parameters. Empty values count as absent (RFC 6749 §3.1); a repeated parameter, a
/// body that is not a form, or bad percent-encoding is `invalid_request`.
pub fn parse(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<BTreeMap<String, String>, OAuthError> {
    let invalid = |why: &str| OAuthError::InvalidRequest(why.to_owned());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(invalid(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            invalid("the body is too large")
        } else {
            invalid("could not read the body")
        }
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid("the body is not UTF-8"))?;
    let mut params = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).ok_or_else(|| invalid("bad percent-encoding in the body"))?;
        let value = decode(value).ok_or_else(|| invalid("bad percent-encoding in the body"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<BTreeMap<String, String>, OAuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
        );
        parse(&headers, Ok(Bytes::copy_from_slice(body.as_bytes())))
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
        let json = parse(&HeaderMap::new(), Ok(Bytes::from_static(b"{}")));
        assert!(matches!(json, Err(OAuthError::InvalidRequest(_))));
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
