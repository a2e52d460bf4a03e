//! `/v1/ext_authz` (and every path under it, since Envoy appends the request's path to the
//! service's `path_prefix`): the verifier as Envoy's HTTP `ext_authz` service, for deployments
//! that cannot load wasm. Envoy's `jwt_authn` has verified the token and forwards its payload
//! (`forward_payload_header`: the payload as base64url JSON) in a header, `x-jwt-payload` unless
//! `--ext-authz-payload-header` says otherwise; this applies the checks of `POST /v1/check` to
//! those claims and answers as the filter would: 200 to allow, 401 with the reason (RFC 6750
//! `WWW-Authenticate`) to deny, 503 when Redis cannot answer.
//!
//! Any method is answered: `ext_authz` sends the original request's method.

use super::extract::check_id;
use super::routes::Endpoint;
use super::state::AppState;
use crate::clock::unix_now;
use crate::service::check;
use crate::service::ServiceError;
use crate::telemetry::logging::{check_decided, Subject};
use crate::telemetry::metrics::CheckOutcome;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use warden_core::protocol::{self, CheckRequest};
use warden_core::token::Claims;
use warden_core::{answer, b64, Reason};

/// Largest payload header read; a token's payload is far smaller (`max_token_bytes` 8 KiB).
const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// `/v1/ext_authz` and everything under it, any method.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::any("/v1/ext_authz", handle),
        Endpoint::any("/v1/ext_authz/", handle),
        Endpoint::any("/v1/ext_authz/{*rest}", handle),
    ]
}

pub async fn handle(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let header = &state.0.settings.ext_authz_payload_header;
    let request = request_from(&headers, header);
    let decided = match &request {
        Ok(request) => match unix_now() {
            Ok(now) => check::decide(&state.0, request, now)
                .await
                .map(|response| response.reason),
            Err(_) => Err(ServiceError::Internal),
        },
        Err(reason) => Ok(Some(*reason)),
    };
    let outcome = match &decided {
        Ok(None) => CheckOutcome::Allow,
        Ok(Some(reason)) => CheckOutcome::Deny(*reason),
        Err(_) => CheckOutcome::Unavailable,
    };
    state.0.metrics.record_check(outcome, started.elapsed());
    let subject = request.as_ref().map(Subject::of).unwrap_or_default();
    check_decided("/v1/ext_authz", outcome, subject);
    match decided {
        Ok(None) => StatusCode::OK.into_response(),
        Ok(Some(reason)) => refusal(reason),
        Err(_) => refusal(Reason::VerifierUnavailable),
    }
}

/// The claims Envoy forwarded, as the check request of `POST /v1/check`. The payload is trusted
/// only because `jwt_authn` removes a client's own copy of the header and writes its own (keep
/// `forward_payload_header` and this header the same).
pub fn request_from(headers: &HeaderMap, name: &str) -> Result<CheckRequest, Reason> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(Reason::TokenMissing)?;
    if values.next().is_some() {
        return Err(Reason::TokenMalformed);
    }
    let claims = claims(value).ok_or(Reason::TokenMalformed)?;
    let request = protocol::check_request(&claims)?;
    for (field, id) in [("sub", Some(&request.sub)), ("jti", request.jti.as_ref())]
        .into_iter()
        .chain([("sid", request.sid.as_ref())])
    {
        if let Some(id) = id {
            check_id(field, id).map_err(|_| Reason::TokenMalformed)?;
        }
    }
    Ok(request)
}

fn claims(value: &HeaderValue) -> Option<Claims> {
    let text = value.to_str().ok()?;
    if text.len() > MAX_PAYLOAD_BYTES {
        return None;
    }
    // Envoy writes base64url; accept its padded form too.
    let bytes = b64::decode(text.trim_end_matches('='))?;
    serde_json::from_slice(&bytes).ok()
}

/// The filter's own answer for `reason` (status, `WWW-Authenticate`, JSON body).
fn refusal(reason: Reason) -> Response {
    let local = answer::deny(reason);
    let status = u16::try_from(local.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut response = (status, local.body).into_response();
    for (name, value) in local.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn default_header() -> String {
        crate::service::Settings::default().ext_authz_payload_header
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::try_from(*name).unwrap(),
                HeaderValue::try_from(*value).unwrap(),
            );
        }
        map
    }

    fn payload(claims: serde_json::Value) -> String {
        b64::encode(claims.to_string().as_bytes())
    }

    #[test]
    fn reads_the_forwarded_payload() {
        let p = payload(
            json!({"sub": "alice", "jti": "j1", "sid": "s1", "ver": 2, "iat": 5, "exp": 9}),
        );
        let h = default_header();
        let request = request_from(&headers(&[(h.as_str(), p.as_str())]), &h).unwrap();
        assert_eq!(request.sub, "alice");
        assert_eq!(request.jti.as_deref(), Some("j1"));
        assert_eq!(request.sid.as_deref(), Some("s1"));
        assert_eq!(request.ver, Some(2));
        assert_eq!(request.exp, 9);
        // Padded base64url, another header name.
        let padded = format!("{p}==");
        assert!(request_from(&headers(&[("x-claims", &padded)]), "x-claims").is_ok());
    }

    #[test]
    fn refuses_what_cannot_be_checked() {
        let h = default_header();
        let h = h.as_str();
        let good = payload(json!({"sub": "alice", "jti": "j1", "exp": 9}));
        let cases: Vec<(Vec<(&str, String)>, Reason)> = vec![
            (vec![], Reason::TokenMissing),
            (
                vec![(h, good.clone()), (h, good.clone())],
                Reason::TokenMalformed,
            ),
            (vec![(h, "not base64!".into())], Reason::TokenMalformed),
            (vec![(h, b64::encode(b"not json"))], Reason::TokenMalformed),
            (vec![(h, payload(json!(["sub"])))], Reason::TokenMalformed),
            (
                vec![(h, payload(json!({"jti": "j1", "exp": 9})))],
                Reason::ClaimMissing,
            ),
            (
                vec![(h, payload(json!({"sub": "a", "exp": 9})))],
                Reason::ClaimMissing,
            ),
            (
                vec![(h, payload(json!({"sub": 1, "jti": "j", "exp": 9})))],
                Reason::TokenMalformed,
            ),
            (
                vec![(h, payload(json!({"sub": "a", "jti": "j", "exp": "9"})))],
                Reason::TokenMalformed,
            ),
            (
                vec![(h, payload(json!({"sub": "a", "jti": "j", "ver": -1})))],
                Reason::TokenMalformed,
            ),
            (
                vec![(h, payload(json!({"sub": "a".repeat(257), "jti": "j"})))],
                Reason::TokenMalformed,
            ),
            (
                vec![(h, "a".repeat(MAX_PAYLOAD_BYTES + 4))],
                Reason::TokenMalformed,
            ),
        ];
        for (pairs, reason) in cases {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(request_from(&headers(&pairs), h), Err(reason), "{pairs:?}");
        }
    }

    #[test]
    fn refusals_are_the_filters_answers() {
        let r = refusal(Reason::Revoked);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"revoked\""
        );
        assert_eq!(
            refusal(Reason::VerifierUnavailable).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
