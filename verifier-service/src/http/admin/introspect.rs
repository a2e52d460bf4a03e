//! `POST /v1/admin/introspect` (RFC 7662, admin listener): is this access or refresh token active?
//! An access token gets every check the edge applies (signature by a listed key, `exp`, `nbf`,
//! issuer, audience, then the verifier's own revocation, version, session and not-before checks).

use crate::clock::unix_now;
use crate::http::oauth::{no_store, OAuthError, OAuthForm};
use crate::http::routes::Endpoint;
use crate::http::state::AppState;
use crate::http::views::{to_value, Inactive, RefreshIntrospection};
use crate::issuer::RefreshToken;
use crate::service::check;
use crate::service::sessions;
use crate::telemetry::logging::{admin_action, ActionFacts};
use crate::telemetry::metrics::AdminAction;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use warden_core::protocol::CheckRequest;

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::post("/v1/admin/introspect", handle)]
}

fn inactive() -> Value {
    to_value(&Inactive { active: false })
}

pub async fn handle(
    State(state): State<AppState>,
    form: Result<OAuthForm, OAuthError>,
) -> Response {
    let result = introspect(&state, form).await;
    state
        .0
        .metrics
        .record_admin(AdminAction::Introspect, result.is_ok());
    // The token introspected is never logged.
    admin_action(
        AdminAction::Introspect,
        result.is_ok(),
        None,
        ActionFacts::default(),
    );
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
    form: Result<OAuthForm, OAuthError>,
) -> Result<Value, OAuthError> {
    let params = form?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::InvalidRequest("`token` is missing".into()))?;
    let Some(issuer) = state.0.issuer.as_ref() else {
        return Ok(inactive());
    };
    let now = unix_now().map_err(|_| OAuthError::Internal)?;
    if let Some(refresh) = RefreshToken::parse(token) {
        let info = sessions::refresh_info(&state.0, &refresh, now)
            .await
            .map_err(|_| OAuthError::Unavailable)?;
        return Ok(match info {
            Some(info) => to_value(&RefreshIntrospection {
                active: true,
                aud: audience(&issuer.settings.audiences),
                exp: info.expires_at,
                iat: info.issued_at,
                iss: issuer.settings.issuer.clone(),
                sid: refresh.sid().to_owned(),
                sub: info.sub,
                token_type: "refresh_token",
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
    let verdict = check::decide(&state.0, &request, now)
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
