//! `POST /v1/admin/revoke/{token,user,session,all}`.

use super::guard::counted;
use crate::clock::unix_now;
use crate::http::error::ApiError;
use crate::http::extract::{check_id, ValidJson, Validate};
use crate::http::routes::Endpoint;
use crate::http::state::AppState;
use crate::http::views::{RevokedAll, RevokedIdpSession, RevokedToken, RevokedUser};
use crate::service::revoke;
use crate::telemetry::logging::ActionFacts;
use crate::telemetry::metrics::AdminAction;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post("/v1/admin/revoke/token", revoke_token),
        Endpoint::post("/v1/admin/revoke/user", revoke_user),
        Endpoint::post("/v1/admin/revoke/session", revoke_session),
        Endpoint::post("/v1/admin/revoke/all", revoke_all),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenRequest {
    pub sub: String,
    pub jti: String,
    /// The token's `exp`; absent or `0` (what the filter sends for a token without `exp`) for a
    /// token that never expires, which is then revoked for good.
    #[serde(default)]
    pub exp: Option<i64>,
}

impl Validate for RevokeTokenRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_id("sub", &self.sub)?;
        check_id("jti", &self.jti)
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    body: Result<ValidJson<RevokeTokenRequest>, ApiError>,
) -> Result<Json<RevokedToken>, ApiError> {
    let about = body
        .as_ref()
        .ok()
        .map(|ValidJson(r)| (r.sub.clone(), r.jti.clone()));
    let result = async {
        let ValidJson(request) = body?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        let skew = state.0.settings.revocation_skew_seconds;
        let expires_at = revoke::revocation_until(request.exp, now, skew)?;
        revoke::revoke_token(&state.0, &request.sub, &request.jti, expires_at, now).await?;
        Ok(Json(RevokedToken {
            expires_at,
            jti: request.jti,
            sub: request.sub,
        }))
    }
    .await;
    let facts = ActionFacts {
        sub: about.as_ref().map(|(sub, _)| sub.as_str()),
        jti: about.as_ref().map(|(_, jti)| jti.as_str()),
        ..ActionFacts::default()
    };
    counted(&state, AdminAction::RevokeToken, facts, result)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeUserRequest {
    pub sub: String,
}

impl Validate for RevokeUserRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_id("sub", &self.sub)
    }
}

pub async fn revoke_user(
    State(state): State<AppState>,
    body: Result<ValidJson<RevokeUserRequest>, ApiError>,
) -> Result<Json<RevokedUser>, ApiError> {
    let sub = body.as_ref().ok().map(|ValidJson(r)| r.sub.clone());
    let result = async {
        let ValidJson(request) = body?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        let version = revoke::revoke_user(&state.0, &request.sub, now).await?;
        Ok(Json(RevokedUser { version }))
    }
    .await;
    let facts = ActionFacts {
        sub: sub.as_deref(),
        ..ActionFacts::default()
    };
    counted(&state, AdminAction::RevokeUser, facts, result)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeSessionRequest {
    /// The issuer of a configured identity provider.
    pub iss: String,
    /// That provider's session id.
    pub sid: String,
    /// The latest `exp` of the session's tokens, when known; absent or `0`: the provider's
    /// longest token lifetime from now.
    #[serde(default)]
    pub exp: Option<i64>,
}

impl Validate for RevokeSessionRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_id("iss", &self.iss)?;
        check_id("sid", &self.sid)
    }
}

/// Revokes a session of an identity provider (`iss`, `sid`): its tokens are refused
/// (`session_revoked`) until the answer's `until`.
pub async fn revoke_session(
    State(state): State<AppState>,
    body: Result<ValidJson<RevokeSessionRequest>, ApiError>,
) -> Result<Json<RevokedIdpSession>, ApiError> {
    let about = body
        .as_ref()
        .ok()
        .map(|ValidJson(r)| (r.iss.clone(), r.sid.clone()));
    let result = async {
        let ValidJson(request) = body?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        let until =
            revoke::revoke_idp_session(&state.0, &request.iss, &request.sid, request.exp, now)
                .await?;
        Ok(Json(RevokedIdpSession {
            iss: request.iss,
            sid: request.sid,
            until,
        }))
    }
    .await;
    let facts = ActionFacts {
        iss: about.as_ref().map(|(iss, _)| iss.as_str()),
        sid: about.as_ref().map(|(_, sid)| sid.as_str()),
        ..ActionFacts::default()
    };
    counted(&state, AdminAction::RevokeSession, facts, result)
}

pub async fn revoke_all(State(state): State<AppState>) -> Result<Json<RevokedAll>, ApiError> {
    let result = async {
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        let not_before = revoke::revoke_all(&state.0, now).await?;
        Ok(Json(RevokedAll { not_before }))
    }
    .await;
    counted(
        &state,
        AdminAction::RevokeAll,
        ActionFacts::default(),
        result,
    )
}
