//! The public token routes on the check listener: `POST /v1/token` (RFC 6749 §6 refresh with
//! rotation and reuse detection), `POST /v1/token/revoke` (RFC 7009) and
//! `GET /.well-known/jwks.json`. The decisions are `service::refresh`.

use super::cookie;
use super::error::ApiError;
use super::oauth::{no_store, token_answer, OAuthError, OAuthForm};
use super::routes::Endpoint;
use super::state::AppState;
use crate::clock::{unix_now, unix_now_ms};
use crate::issuer::{Issuer, JWKS_MAX_AGE_SECONDS};
use crate::net::{client_address, peer};
use crate::service::refresh::{self, Caller};
use axum::extract::State;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Map;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post("/v1/token", refresh),
        Endpoint::post("/v1/token/revoke", revoke),
        Endpoint::get("/.well-known/jwks.json", jwks),
    ]
}

fn issuer(state: &AppState) -> Result<&Issuer, OAuthError> {
    state.0.issuer.as_ref().ok_or(OAuthError::NotConfigured)
}

/// `GET /.well-known/jwks.json`: the public keys of every `--signing-key-file`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match &state.0.issuer {
        Some(issuer) => {
            let mut response = axum::Json(issuer.jwks()).into_response();
            if let Ok(value) =
                HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))
            {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        None => ApiError::NotFound("JWKS (no --signing-key-file)").into_response(),
    }
}

/// Who calls, and when: the client address (behind `--trusted-proxy`, from `X-Forwarded-For`).
fn caller(
    issuer: &Issuer,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<Caller, OAuthError> {
    Ok(Caller {
        client: client_address(peer(extensions), headers, &issuer.settings.trusted_proxies),
        now: unix_now().map_err(|_| OAuthError::Internal)?,
        now_ms: unix_now_ms().map_err(|_| OAuthError::Internal)?,
    })
}

/// The refresh token of a request: in cookie mode the cookie's (for `/v1/token` only the cookie's,
/// `fallback_param` lets revoke take a `token` parameter too), else the form parameter.
fn presented_refresh(
    issuer: &Issuer,
    headers: &HeaderMap,
    form: &OAuthForm,
    param: &str,
    fallback_param: bool,
) -> Result<String, OAuthError> {
    let missing = || OAuthError::InvalidRequest(format!("`{param}` is missing"));
    match &issuer.settings.refresh_cookie {
        Some(name) => match cookie::read(headers, name) {
            Ok(Some(value)) => Ok(value),
            Ok(None) if fallback_param => form.get(param).cloned().ok_or_else(missing),
            Ok(None) => Err(OAuthError::InvalidRequest(format!(
                "the refresh token cookie `{name}` is missing"
            ))),
            Err(cookie::DuplicateCookie) => Err(OAuthError::InvalidRequest(format!(
                "the cookie `{name}` is sent more than once"
            ))),
        },
        None => form.get(param).cloned().ok_or_else(missing),
    }
}

/// `POST /v1/token`: `grant_type=refresh_token&refresh_token=…`.
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<OAuthForm, OAuthError>,
) -> Result<Response, OAuthError> {
    let issuer = issuer(&state)?;
    let form = form?;
    match form.get("grant_type").map(String::as_str) {
        None => return Err(OAuthError::InvalidRequest("`grant_type` is missing".into())),
        Some("refresh_token") => {}
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
    }
    let presented = presented_refresh(issuer, &headers, &form, "refresh_token", false)?;
    let caller = caller(issuer, &headers, &extensions)?;
    refresh::charge_address(&state.0, issuer, caller, "token").await?;
    let refreshed = refresh::refresh(&state.0, issuer, &presented, caller).await?;
    Ok(token_answer(
        issuer,
        &refreshed.access,
        &refreshed.refresh,
        refreshed.refresh_max_age,
        StatusCode::OK,
        Map::new(),
    ))
}

/// `POST /v1/token/revoke` (RFC 7009): `token=…[&token_type_hint=…]`. Always 200 once the
/// request is well formed, for unknown tokens too.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    form: Result<OAuthForm, OAuthError>,
) -> Result<Response, OAuthError> {
    let issuer = issuer(&state)?;
    let form = form?;
    let token = presented_refresh(issuer, &headers, &form, "token", true)?;
    let caller = caller(issuer, &headers, &extensions)?;
    refresh::charge_address(&state.0, issuer, caller, "revoke").await?;
    refresh::revoke(&state.0, issuer, &token, caller).await?;
    let mut response = StatusCode::OK.into_response();
    no_store(response.headers_mut());
    if let Some(name) = &issuer.settings.refresh_cookie {
        if let Ok(value) = HeaderValue::from_str(&cookie::clear(name)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}
