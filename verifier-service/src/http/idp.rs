//! Where identity providers tell the verifier about logouts and security events, on the check
//! listener:
//!
//! - `POST /v1/backchannel-logout/{name}`: OpenID Connect Back-Channel Logout 1.0, form body
//!   `logout_token=…`; `200` once the revocation is stored, `400` with `{"error":
//!   "invalid_request", "error_description"}` for a token that fails any check (§2.8), every
//!   answer `Cache-Control: no-store`.
//! - `POST /v1/ssf/{name}`: a Security Event Token pushed per RFC 8935 (body
//!   `application/secevent+jwt`); `202` with no body once stored, `400` with `{"err",
//!   "description"}` (§2.3, §2.4).
//!
//! Both: `404` for a name no provider has, `503` when the provider's keys or the store are
//! unavailable (the provider retries).

use super::oauth::{no_store, OAuthError, OAuthForm};
use super::routes::Endpoint;
use super::state::AppState;
use crate::clock;
use crate::net::peer;
use crate::service::idp_events::{self, IdpError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub const BACKCHANNEL_LOGOUT_PATH: &str = "/v1/backchannel-logout/{name}";
pub const SSF_PUSH_PATH: &str = "/v1/ssf/{name}";

/// Seconds a provider is asked to wait before retrying after a `503`.
const RETRY_AFTER_SECONDS: &str = "10";

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post(BACKCHANNEL_LOGOUT_PATH, backchannel_logout),
        Endpoint::post(SSF_PUSH_PATH, ssf_push),
    ]
}

/// `POST /v1/backchannel-logout/{name}`.
async fn backchannel_logout(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    extensions: Extensions,
    form: Result<OAuthForm, OAuthError>,
) -> Response {
    let svc = &state.0;
    // A segment that does not decode names no provider either.
    let name = name.map(|Path(name)| name).unwrap_or_default();
    if svc.settings.identity_providers.by_name(&name).is_none() {
        return logout_error(StatusCode::NOT_FOUND, "not_found", unknown_provider(&name));
    }
    let form = match form {
        Ok(form) => form,
        Err(OAuthError::InvalidRequest(why)) => return invalid_logout(why),
        Err(_) => return invalid_logout("could not read the form body".into()),
    };
    let Some(token) = form.get("logout_token") else {
        return invalid_logout("the form has no `logout_token`".into());
    };
    let Ok(now) = clock::unix_now() else {
        return logout_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no clock".into(),
        );
    };
    let client = peer(&extensions).ip();
    match idp_events::backchannel_logout(svc, &name, token, client, now).await {
        Ok(_) => {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        }
        Err(IdpError::UnknownProvider) => {
            logout_error(StatusCode::NOT_FOUND, "not_found", unknown_provider(&name))
        }
        Err(IdpError::Refused(refusal)) => invalid_logout(refusal.describe().into()),
        Err(IdpError::KeysUnavailable) => unavailable(logout_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the identity provider's keys could not be fetched; retry later".into(),
        )),
        Err(IdpError::Failed(_)) => unavailable(logout_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the revocation could not be stored; retry later".into(),
        )),
    }
}

fn unknown_provider(name: &str) -> String {
    format!(
        "no identity provider is named {:?}",
        name.chars().take(64).collect::<String>()
    )
}

fn invalid_logout(description: String) -> Response {
    logout_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// A Back-Channel Logout error answer (§2.8: the OAuth error shape, never cached).
fn logout_error(status: StatusCode, code: &str, description: String) -> Response {
    let body = json!({ "error": code, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    no_store(response.headers_mut());
    response
}

fn unavailable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

/// `POST /v1/ssf/{name}`.
async fn ssf_push(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let svc = &state.0;
    let name = name.map(|Path(name)| name).unwrap_or_default();
    if svc.settings.identity_providers.by_name(&name).is_none() {
        return push_error(StatusCode::NOT_FOUND, "not_found", &unknown_provider(&name));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media != "application/secevent+jwt" {
        return invalid_push("the body must be application/secevent+jwt (RFC 8935 §2)");
    }
    let Ok(body) = body else {
        return invalid_push("could not read the body");
    };
    let Ok(token) = std::str::from_utf8(&body) else {
        return invalid_push("the body is not a JWT");
    };
    let Ok(now) = clock::unix_now() else {
        return push_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no clock",
        );
    };
    let client = peer(&extensions).ip();
    match idp_events::security_event(svc, &name, token.trim(), client, now).await {
        Ok(_) => StatusCode::ACCEPTED.into_response(),
        Err(IdpError::UnknownProvider) => {
            push_error(StatusCode::NOT_FOUND, "not_found", &unknown_provider(&name))
        }
        Err(IdpError::Refused(refusal)) => push_error(
            StatusCode::BAD_REQUEST,
            refusal.push_error_code(),
            refusal.describe(),
        ),
        Err(IdpError::KeysUnavailable) => unavailable(push_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the transmitter's keys could not be fetched; retry later",
        )),
        Err(IdpError::Failed(_)) => unavailable(push_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the revocation could not be stored; retry later",
        )),
    }
}

fn invalid_push(description: &str) -> Response {
    push_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// A push delivery error answer (RFC 8935 §2.3: `err` and `description`).
fn push_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = json!({ "err": code, "description": description });
    let mut response = (status, axum::Json(body)).into_response();
    no_store(response.headers_mut());
    response
}
