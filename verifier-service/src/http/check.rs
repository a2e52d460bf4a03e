//! `POST /v1/check`: is this locally valid token still good? (The decision is
//! `service::check`.)

use super::error::ApiError;
use super::extract::ValidJson;
use super::routes::Endpoint;
use super::state::AppState;
use crate::clock::unix_now;
use crate::service::check::decide;
use crate::telemetry::metrics::CheckOutcome;
use axum::extract::State;
use axum::Json;
use std::time::Instant;
use warden_core::protocol::{CheckRequest, CheckResponse};

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::post("/v1/check", handle)]
}

/// Refusals of the body are counted too, so the extractor's result is taken as it is.
pub async fn handle(
    State(state): State<AppState>,
    body: Result<ValidJson<CheckRequest>, ApiError>,
) -> Result<Json<CheckResponse>, ApiError> {
    let started = Instant::now();
    let result = async {
        let ValidJson(request) = body?;
        let now = unix_now().map_err(|_| ApiError::Internal)?;
        Ok(decide(&state.0, &request, now).await?)
    }
    .await;
    let outcome = match &result {
        Ok(response) => match response.reason {
            None => CheckOutcome::Allow,
            Some(reason) => CheckOutcome::Deny(reason),
        },
        Err(ApiError::BadRequest(_) | ApiError::PayloadTooLarge) => CheckOutcome::Invalid,
        Err(_) => CheckOutcome::Unavailable,
    };
    state.0.metrics.record_check(outcome, started.elapsed());
    result.map(Json)
}
