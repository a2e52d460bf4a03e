//! What every admin route shares: the bearer token check and the count of each action.

use crate::http::error::ApiError;
use crate::http::state::AppState;
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

/// Counts the action's outcome and passes its result on.
pub fn counted<T>(
    state: &AppState,
    action: AdminAction,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    state.0.metrics.record_admin(action, result.is_ok());
    result
}
