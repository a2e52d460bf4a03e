//! The admin API (admin listener only, behind the bearer admin token).

use crate::body::{check_id, json_body, path_param};
use crate::error::ApiError;
use crate::metrics::AdminAction;
use crate::sid;
use crate::state::{unix_now, AppState};
use crate::store::keys::UserTag;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};
use warden_core::protocol::feed::Change;

/// Latest `exp` accepted: the filter's NumericDate bound, so both sides agree on what a date is.
const MAX_EXP: i64 = warden_core::token::MAX_NUMERIC_DATE;
/// Longest `device` label, in bytes.
const MAX_DEVICE_BYTES: usize = 256;

/// Middleware: 401 unless the request carries the admin token.
pub async fn require_admin_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if state.0.admin_token.accepts(presented) {
        next.run(request).await
    } else {
        state.0.metrics.record_admin_unauthorized();
        ApiError::Unauthorized.into_response()
    }
}

fn finish<T: IntoResponse>(
    state: &AppState,
    action: AdminAction,
    result: Result<T, ApiError>,
) -> Response {
    state.0.metrics.record_admin(action, result.is_ok());
    match result {
        Ok(response) => response.into_response(),
        Err(e) => e.into_response(),
    }
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

pub async fn revoke_token(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let request: RevokeTokenRequest = json_body(body)?;
        check_id("sub", &request.sub)?;
        check_id("jti", &request.jti)?;
        let exp = request.exp.filter(|&exp| exp != 0);
        if let Some(exp) = exp {
            if !(1..=MAX_EXP).contains(&exp) {
                return Err(ApiError::bad_request(
                    "`exp` must be a Unix time in seconds",
                ));
            }
        }
        let now = unix_now()?;
        let skew = i64::try_from(state.0.settings.revocation_skew_seconds).unwrap_or(i64::MAX);
        let expires_at = exp.map(|exp| exp.saturating_add(skew));
        // Every check refuses a token past `exp` + skew, so an entry that would expire at once
        // protects nothing; and acknowledging what is not stored would be a lie if the caller
        // got `exp` wrong. Refuse it clearly instead.
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::bad_request(
                "`exp` is already past the revocation window (exp + revocation skew): every check refuses this token; give the token's real `exp`, or omit it to revoke for good",
            ));
        }
        let tag = UserTag::of_sub(&request.sub);
        // The feed entry first (see store::feed): an acknowledged revocation is always in it.
        let change = Change::Jti {
            sub: request.sub.clone(),
            jti: request.jti.clone(),
            until: expires_at,
        };
        state
            .0
            .store
            .append_feed(&[change], now)
            .await
            .map_err(|e| state.store_failed("revoke_token_feed", e))?;
        state
            .0
            .store
            .revoke_token(&tag, &request.jti, expires_at)
            .await
            .map_err(|e| state.store_failed("revoke_token", e))?;
        tracing::info!(sub = %request.sub, jti = %request.jti, ?expires_at, "token revoked");
        Ok(Json(
            json!({ "sub": request.sub, "jti": request.jti, "expires_at": expires_at }),
        ))
    }
    .await;
    finish(&state, AdminAction::RevokeToken, result)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeUserRequest {
    pub sub: String,
}

pub async fn revoke_user(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let request: RevokeUserRequest = json_body(body)?;
        check_id("sub", &request.sub)?;
        let tag = UserTag::of_sub(&request.sub);
        let now = unix_now()?;
        let window = crate::outbox::end_window(&state);
        let announced = state
            .0
            .store
            .feed_user_revocation(&tag, &request.sub, now, window)
            .await
            .map_err(|e| state.store_failed("revoke_user_feed", e))?;
        let revoked = state
            .0
            .store
            .revoke_user(&tag)
            .await
            .map_err(|e| state.store_failed("revoke_user", e))?;
        // Sessions created between the feed entries and the revocation: their tokens may be
        // known live to stream-mode filters, so their ends go to the feed before the answer.
        state
            .0
            .store
            .feed_missed_session_ends(&announced.sids, &revoked.sessions, now, window)
            .await
            .map_err(|e| state.store_failed("revoke_user_feed", e))?;
        let (version, announced) = (revoked.version, announced.version);
        if version > announced {
            // A concurrent revocation went first: announce the version really reached.
            let change = Change::User {
                sub: request.sub.clone(),
                version,
            };
            state
                .0
                .store
                .append_feed(&[change], now)
                .await
                .map_err(|e| state.store_failed("revoke_user_feed", e))?;
        }
        tracing::info!(sub = %request.sub, version, "user revoked");
        let facts = crate::events::EventFacts {
            sub: Some(&request.sub),
            ..Default::default()
        };
        crate::events::record(
            &state,
            crate::events::SecurityEvent::UserRevoked,
            facts,
            unix_now()?,
        )
        .await;
        Ok(Json(json!({ "version": version })))
    }
    .await;
    finish(&state, AdminAction::RevokeUser, result)
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

pub async fn create_session(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let request: CreateSessionRequest = json_body(body)?;
        check_id("sub", &request.sub)?;
        if let Some(device) = &request.device {
            if device.len() > MAX_DEVICE_BYTES {
                return Err(ApiError::bad_request(format!(
                    "`device` is longer than {MAX_DEVICE_BYTES} bytes"
                )));
            }
        }
        let settings = &state.0.settings;
        let ttl = request
            .ttl_seconds
            .unwrap_or(settings.default_session_ttl_seconds);
        if ttl == 0 || ttl > settings.max_session_ttl_seconds {
            return Err(ApiError::bad_request(format!(
                "`ttl_seconds` must be between 1 and {}",
                settings.max_session_ttl_seconds
            )));
        }
        let now = unix_now()?;
        let expires_at = session_end(ttl)?;
        let tag = UserTag::of_sub(&request.sub);
        let sid = sid::new_sid(&tag).map_err(|e| {
            tracing::error!(error = %e, "no randomness for a session id");
            ApiError::Internal
        })?;
        let device = request.device.as_deref().filter(|d| !d.is_empty());
        let Some(issuer) = state.0.issuer.as_ref() else {
            if request.claims.is_some() {
                return Err(ApiError::bad_request(
                    "`claims` needs a signing key (--signing-key-file): without one no access tokens are issued",
                ));
            }
            state
                .0
                .store
                .create_session(&tag, &sid, &request.sub, device, now, expires_at)
                .await
                .map_err(|e| state.store_failed("create_session", e))?;
            crate::events::announce_session_start(&state, &sid, expires_at, now).await;
            tracing::info!(sub = %request.sub, sid = %sid, expires_at, "session created");
            let facts = crate::events::EventFacts {
                sub: Some(&request.sub),
                sid: Some(&sid),
                ..Default::default()
            };
            crate::events::record(&state, crate::events::SecurityEvent::SessionCreated, facts, now)
                .await;
            return Ok((
                StatusCode::CREATED,
                Json(json!({ "sid": sid, "expires_at": expires_at })),
            )
                .into_response());
        };
        let claims = request.claims.unwrap_or_default();
        if let Some(name) = crate::issuer::REGISTERED_CLAIMS
            .iter()
            .find(|name| claims.contains_key(**name))
        {
            return Err(ApiError::bad_request(format!(
                "`claims` may not set the registered claim `{name}`; the issuer sets it"
            )));
        }
        let refresh = crate::issuer::RefreshToken::generate(&sid).map_err(|e| {
            tracing::error!(error = %e, "no randomness for a refresh token");
            ApiError::Internal
        })?;
        let settings = &issuer.settings;
        let idle = i64::try_from(settings.refresh_idle_ttl_seconds).unwrap_or(i64::MAX);
        let access_ttl = i64::try_from(settings.access_ttl_seconds).unwrap_or(i64::MAX);
        let idle_until = now.saturating_add(idle);
        let claims_json = serde_json::Value::Object(claims.clone()).to_string();
        let family = crate::store::sessions::NewFamily {
            tag: &tag,
            sid: &sid,
            sub: &request.sub,
            device,
            now,
            expires_at,
            refresh_hash: &refresh.hash(),
            refresh_idle_until: idle_until,
            record_until: idle_until.max(now.saturating_add(access_ttl)).min(expires_at),
            claims_json: &claims_json,
        };
        let version = state
            .0
            .store
            .create_session_with_refresh(&family)
            .await
            .map_err(|e| state.store_failed("create_session", e))?;
        crate::events::announce_session_start(&state, &sid, family.record_until, now).await;
        let access = issuer
            .access_token(&request.sub, &sid, version, now, expires_at, &claims)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign an access token");
                ApiError::Internal
            })?;
        let facts = crate::events::EventFacts {
            sub: Some(&request.sub),
            sid: Some(&sid),
            ..Default::default()
        };
        crate::events::record(&state, crate::events::SecurityEvent::SessionCreated, facts, now)
            .await;
        let mut extra = serde_json::Map::new();
        extra.insert("sid".into(), json!(sid));
        extra.insert("expires_at".into(), json!(expires_at));
        let max_age = idle.min(expires_at.saturating_sub(now));
        if let Some(name) = &settings.refresh_cookie {
            extra.insert(
                "set_cookie".into(),
                json!(crate::cookie::set(name, refresh.as_str(), max_age)),
            );
        }
        let mut response = crate::token::token_answer(
            issuer,
            &access,
            &refresh,
            max_age,
            StatusCode::CREATED,
            extra,
        );
        // The backend forwards the cookie itself (from `set_cookie`); this answer sets none.
        response.headers_mut().remove(header::SET_COOKIE);
        Ok(response)
    }
    .await;
    finish(&state, AdminAction::CreateSession, result)
}

/// When a session starting now and lasting at least `ttl` seconds ends. Expiry has whole-second
/// resolution, so the start is rounded up: rounded down, a 1-second session created late in a
/// second would already be gone when the client uses its sid.
fn session_end(ttl: u64) -> Result<i64, ApiError> {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ApiError::Internal)?;
    let start = elapsed
        .as_secs()
        .saturating_add(u64::from(elapsed.subsec_nanos() > 0));
    i64::try_from(start.saturating_add(ttl)).map_err(|_| ApiError::Internal)
}

pub async fn list_sessions(
    State(state): State<AppState>,
    sub: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let sub = path_param(sub)?;
        check_id("sub", &sub)?;
        let now = unix_now()?;
        let sessions = state
            .0
            .store
            .list_sessions(&UserTag::of_sub(&sub), now)
            .await
            .map_err(|e| state.store_failed("list_sessions", e))?;
        // Revoke-all ended every session created at or before it (they are removed lazily).
        let not_before = state
            .0
            .store
            .read_not_before()
            .await
            .map_err(|e| state.store_failed("read_not_before", e))?;
        let sessions = sessions
            .into_iter()
            .filter(|s| not_before.is_none_or(|nb| s.created > nb));
        let sessions: Vec<_> = sessions
            .into_iter()
            .map(|s| {
                json!({
                    "sid": s.sid,
                    "device": s.device,
                    "created": s.created,
                    "last_seen": s.last_seen,
                    "expires_at": s.expires_at,
                })
            })
            .collect();
        Ok(Json(json!({ "sub": sub, "sessions": sessions })))
    }
    .await;
    finish(&state, AdminAction::ListSessions, result)
}

pub async fn delete_session(
    State(state): State<AppState>,
    sid: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let sid = path_param(sid)?;
        check_id("sid", &sid)?;
        let Some(owner) = sid::owner_tag(&sid) else {
            return Err(ApiError::NotFound("session"));
        };
        let now = unix_now()?;
        let window = crate::outbox::end_window(&state);
        state
            .0
            .store
            .feed_session_end(&owner, &sid, now, window)
            .await
            .map_err(|e| state.store_failed("delete_session_feed", e))?;
        let deleted = state
            .0
            .store
            .delete_session(&owner, &sid)
            .await
            .map_err(|e| state.store_failed("delete_session", e))?;
        if !deleted {
            return Err(ApiError::NotFound("session"));
        }
        tracing::info!(sid = %sid, "session deleted");
        crate::events::session_ended(
            &state,
            crate::events::SessionEnd::Deleted,
            None,
            &sid,
            None,
            unix_now()?,
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    }
    .await;
    // A 404 is an answer, not a failed action.
    let ok = matches!(result, Ok(_) | Err(ApiError::NotFound(_)));
    state.0.metrics.record_admin(AdminAction::DeleteSession, ok);
    match result {
        Ok(status) => status.into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn revoke_all(State(state): State<AppState>) -> Response {
    let result = async {
        let now = unix_now()?;
        state
            .0
            .store
            .append_feed(&[Change::NotBefore { not_before: now }], now)
            .await
            .map_err(|e| state.store_failed("revoke_all_feed", e))?;
        let not_before = state
            .0
            .store
            .revoke_all(now)
            .await
            .map_err(|e| state.store_failed("revoke_all", e))?;
        state
            .0
            .not_before
            .put(Some(not_before), std::time::Instant::now());
        tracing::info!(not_before, "all tokens issued up to now revoked");
        let facts = crate::events::EventFacts {
            detail: Some("not_before"),
            ..Default::default()
        };
        crate::events::record(&state, crate::events::SecurityEvent::AllRevoked, facts, now).await;
        Ok(Json(json!({ "not_before": not_before })))
    }
    .await;
    finish(&state, AdminAction::RevokeAll, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_at_least_its_ttl() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let end = session_end(1).unwrap();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let end = std::time::Duration::from_secs(u64::try_from(end).unwrap());
        assert!(end >= before + std::time::Duration::from_secs(1));
        assert!(end <= after + std::time::Duration::from_secs(2));
    }
}
