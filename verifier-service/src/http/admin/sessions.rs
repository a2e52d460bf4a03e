//! `POST /v1/admin/sessions`, `DELETE /v1/admin/sessions/{sid}`,
//! `GET /v1/admin/users/{sub}/sessions`.

use super::guard::{counted, recorded};
use crate::clock::{since_epoch, unix_now};
use crate::http::cookie;
use crate::http::error::ApiError;
use crate::http::extract::{check_id, path_param, ValidJson, Validate};
use crate::http::oauth::token_answer;
use crate::http::routes::Endpoint;
use crate::http::state::AppState;
use crate::http::views::{SessionCreated, SessionList, SessionView};
use crate::service::sessions::{self, Created, NewSession};
use crate::telemetry::logging::ActionFacts;
use crate::telemetry::metrics::AdminAction;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::post("/v1/admin/sessions", create_session),
        Endpoint::delete("/v1/admin/sessions/{sid}", delete_session),
        Endpoint::get("/v1/admin/users/{sub}/sessions", list_sessions),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionRequest {
    pub sub: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Extra claims copied into the session's access tokens (needs a signing key).
    #[serde(default)]
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Validate for CreateSessionRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_id("sub", &self.sub)
    }
}

pub async fn create_session(
    State(state): State<AppState>,
    body: Result<ValidJson<CreateSessionRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let sub = body.as_ref().ok().map(|ValidJson(r)| r.sub.clone());
    let result = async {
        let ValidJson(request) = body?;
        let started = since_epoch().map_err(|_| ApiError::Internal)?;
        let request = NewSession {
            sub: request.sub,
            device: request.device,
            ttl_seconds: request.ttl_seconds,
            claims: request.claims,
        };
        let created = sessions::create(&state.0, request, started).await?;
        Ok(match created {
            Created::Session { sid, expires_at } => (
                StatusCode::CREATED,
                Json(SessionCreated { expires_at, sid }),
            )
                .into_response(),
            Created::WithTokens {
                sid,
                expires_at,
                access,
                refresh,
                refresh_max_age,
            } => {
                let issuer = state.0.issuer.as_ref().ok_or(ApiError::Internal)?;
                let mut extra = serde_json::Map::new();
                extra.insert("sid".into(), json!(sid));
                extra.insert("expires_at".into(), json!(expires_at));
                if let Some(name) = &issuer.settings.refresh_cookie {
                    extra.insert(
                        "set_cookie".into(),
                        json!(cookie::set(name, refresh.as_str(), refresh_max_age)),
                    );
                }
                let mut response = token_answer(
                    issuer,
                    &access,
                    &refresh,
                    refresh_max_age,
                    StatusCode::CREATED,
                    extra,
                );
                // The backend forwards the cookie itself (from `set_cookie`); this answer sets none.
                response.headers_mut().remove(header::SET_COOKIE);
                response
            }
        })
    }
    .await;
    let facts = ActionFacts {
        sub: sub.as_deref(),
        ..ActionFacts::default()
    };
    counted(&state, AdminAction::CreateSession, facts, result)
}

pub async fn list_sessions(
    State(state): State<AppState>,
    sub: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let sub = path_param(sub);
    let named = sub.as_ref().ok().cloned();
    let result = async {
        let sub = sub?;
        check_id("sub", &sub)?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        let sessions = sessions::list(&state.0, &sub, now)
            .await?
            .into_iter()
            .map(|s| SessionView {
                created: s.created,
                device: s.device,
                expires_at: s.expires_at,
                last_seen: s.last_seen,
                sid: s.sid,
            })
            .collect();
        Ok(Json(SessionList { sessions, sub }))
    }
    .await;
    let facts = ActionFacts {
        sub: named.as_deref(),
        ..ActionFacts::default()
    };
    counted(&state, AdminAction::ListSessions, facts, result)
}

pub async fn delete_session(
    State(state): State<AppState>,
    sid: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let sid = path_param(sid);
    let named = sid.as_ref().ok().cloned();
    let result = async {
        let sid = sid?;
        check_id("sid", &sid)?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        sessions::delete(&state.0, &sid, now).await?;
        Ok(StatusCode::NO_CONTENT)
    }
    .await;
    // A 404 is an answer, not a failed action.
    let ok = matches!(result, Ok(_) | Err(ApiError::NotFound(_)));
    let facts = ActionFacts {
        sid: named.as_deref(),
        ..ActionFacts::default()
    };
    recorded(
        &state,
        AdminAction::DeleteSession,
        ok,
        result.as_ref().err(),
        facts,
    );
    result
}
