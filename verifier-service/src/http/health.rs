//! `/healthz`, `/readyz` and `/metrics`, served on both listeners.

use super::routes::Endpoint;
use super::state::AppState;
use super::views::Status;
use crate::telemetry::metrics::Format;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::get("/healthz", healthz),
        Endpoint::get("/readyz", readyz),
        Endpoint::get("/metrics", metrics),
    ]
}

/// Alive: the process answers.
pub async fn healthz() -> Json<Status> {
    Json(Status {
        redis: None,
        status: "ok",
    })
}

/// Ready: Redis answers a PING.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.0.store.ping().await {
        Ok(()) => Json(Status {
            redis: None,
            status: "ready",
        })
        .into_response(),
        Err(e) => {
            state.0.metrics.record_redis_error();
            tracing::warn!(error = %e, "not ready: redis does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Status {
                    redis: Some("down"),
                    status: "unavailable",
                }),
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
