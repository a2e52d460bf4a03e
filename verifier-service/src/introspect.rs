//! `POST /v1/admin/introspect` (RFC 7662, admin listener): is this access or refresh token active?
//! An access token gets every check the edge applies (signature by a listed key, `exp`, `nbf`,
//! issuer, audience, then the verifier's own revocation, version, session and not-before checks).

use crate::form::{self, no_store, OAuthError};
use crate::issuer::RefreshToken;
use crate::metrics::AdminAction;
use crate::state::{unix_now, AppState};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use warden_core::protocol::CheckRequest;

fn inactive() -> Value {
    json!({ "active": false })
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = introspect(&state, &headers, body).await;
    state
        .0
        .metrics
        .record_admin(AdminAction::Introspect, result.is_ok());
    match result {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn introspect(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, OAuthError> {
    let params = form::parse(headers, body)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::InvalidRequest("`token` is missing".into()))?;
    let Some(issuer) = state.0.issuer.as_ref() else {
        return Ok(inactive());
    };
    let now = unix_now().map_err(|_| OAuthError::Internal)?;
    let store_failed = |what: &str, e| {
        let _ = state.store_failed(what, e);
        OAuthError::Unavailable
    };
    if let Some(refresh) = RefreshToken::parse(token) {
        let Some(tag) = crate::sid::owner_tag(refresh.sid()) else {
            return Ok(inactive());
        };
        let not_before = state
            .0
            .store
            .read_not_before()
            .await
            .map_err(|e| store_failed("read_not_before", e))?;
        let info = state
            .0
            .store
            .introspect_refresh(&tag, refresh.sid(), &refresh.hash(), now, not_before)
            .await
            .map_err(|e| store_failed("introspect_refresh", e))?;
        return Ok(match info {
            Some(info) => json!({
                "active": true,
                "token_type": "refresh_token",
                "sub": info.sub,
                "sid": refresh.sid(),
                "iat": info.issued_at,
                "exp": info.expires_at,
                "iss": issuer.settings.issuer,
                "aud": audience(&issuer.settings.audiences),
            }),
            None => inactive(),
        });
    }
    let Some(claims) = issuer.verify_access(token, now) else {
        return Ok(inactive());
    };
    let Some(request) = check_request(&claims) else {
        return Ok(inactive());
    };
    let verdict = crate::check::decide(state, &request)
        .await
        .map_err(|_| OAuthError::Unavailable)?;
    if verdict.reason.is_some() {
        return Ok(inactive());
    }
    let mut answer = Map::new();
    answer.insert("active".into(), Value::from(true));
    answer.insert("token_type".into(), Value::from("access_token"));
    for name in ["sub", "sid", "exp", "iat", "jti", "iss", "aud", "client_id"] {
        if let Some(value) = claims.get(name) {
            answer.insert(name.into(), value.clone());
        }
    }
    Ok(Value::Object(answer))
}

fn audience(audiences: &[String]) -> Value {
    match audiences {
        [one] => Value::from(one.clone()),
        many => Value::from(many.to_vec()),
    }
}

/// The check the filter would send for these claims.
fn check_request(claims: &Map<String, Value>) -> Option<CheckRequest> {
    let request = json!({
        "sub": claims.get("sub")?,
        "jti": claims.get("jti")?,
        "sid": claims.get("sid"),
        "ver": claims.get("ver"),
        "iat": claims.get("iat"),
        "exp": claims.get("exp")?,
    });
    serde_json::from_value(request).ok()
}
