//! What every admin route shares: the bearer token check and the count of each action.

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::telemetry::logging::{admin_action, ActionFacts};
use crate::telemetry::metrics::AdminAction;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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

/// Counts and logs the action's outcome (`facts`: what it was about) and passes its result on.
pub fn counted<T>(
    state: &AppState,
    action: AdminAction,
    facts: ActionFacts<'_>,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    recorded(state, action, result.is_ok(), result.as_ref().err(), facts);
    result
}

/// Counts and logs an action whose success is not simply an `Ok` (a delete answered 404).
pub fn recorded(
    state: &AppState,
    action: AdminAction,
    ok: bool,
    error: Option<&ApiError>,
    facts: ActionFacts<'_>,
) {
    state.0.metrics.record_admin(action, ok);
    let answered = error.map(|e| (e.status().as_u16(), e.code()));
    admin_action(action, ok, answered, facts);
}
