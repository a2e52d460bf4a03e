//! `/healthz`, `/readyz` and `/metrics`, served on both listeners.

use crate::metrics::Format;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Alive: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// Ready: Redis answers a PING.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.0.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            state.0.metrics.record_redis_error();
            tracing::warn!(error = %e, "not ready: redis does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "redis": "down" })),
            )
                .into_response()
        }
    }
}

/// The metrics, in the exposition format the `Accept` header asks for.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = Format::negotiate(accept);
    (
        [(header::CONTENT_TYPE, format.content_type())],
        state.0.metrics.render(format),
    )
        .into_response()
}
