//! `POST /v1/check`: is this locally valid token still good? (The decision is
//! `service::check`.)

use super::error::ApiError;
use super::extract::ValidJson;
use super::routes::Endpoint;
use super::state::AppState;
use crate::clock::unix_now;
use crate::service::check::decide;
use crate::telemetry::logging::{check_decided, Subject};
use crate::telemetry::metrics::CheckOutcome;
use axum::extract::State;
use axum::Json;
use std::time::Instant;
use warden_core::protocol::{CheckRequest, CheckResponse};

pub fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::post(ROUTE, handle)]
}

/// Refusals of the body are counted (and logged) too, so the extractor's result is taken as it
/// is.
pub async fn handle(
    State(state): State<AppState>,
    body: Result<ValidJson<CheckRequest>, ApiError>,
) -> Result<Json<CheckResponse>, ApiError> {
    let started = Instant::now();
    let (result, request) = match body {
        Err(refused) => (Err(refused), None),
        Ok(ValidJson(request)) => {
            let result = async {
                let now = unix_now().map_err(|_| ApiError::Internal)?;
                Ok(decide(&state.0, &request, now).await?)
            }
            .await;
            (result, Some(request))
        }
    };
    let outcome = outcome_of(&result);
    state.0.metrics.record_check(outcome, started.elapsed());
    let subject = request.as_ref().map(Subject::of).unwrap_or_default();
    check_decided(ROUTE, outcome, subject);
    result.map(Json)
}

const ROUTE: &str = "/v1/check";

fn outcome_of(result: &Result<CheckResponse, ApiError>) -> CheckOutcome {
    match result {
        Ok(response) => match response.reason {
            None => CheckOutcome::Allow,
            Some(reason) => CheckOutcome::Deny(reason),
        },
        Err(ApiError::BadRequest(_) | ApiError::PayloadTooLarge) => CheckOutcome::Invalid,
        Err(_) => CheckOutcome::Unavailable,
    }
}
