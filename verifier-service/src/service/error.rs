//! Why a service call gave no result.

use crate::clock::ClockError;

/// Why a service call gave no result; `http` maps each variant to its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The request asks for something that cannot be done; the text says why.
    Invalid(String),
    /// The named thing does not exist.
    NotFound(&'static str),
    /// Redis could not answer; the detail is logged, not returned.
    Unavailable,
    /// The write is on the primary but not on enough replicas in time.
    ReplicationTimeout,
    /// A fault of this process (the clock, randomness, signing); logged where it happened.
    Internal,
}

impl From<ClockError> for ServiceError {
    fn from(_: ClockError) -> ServiceError {
        ServiceError::Internal
    }
}

/// Logs `what` and the error, and gives [`ServiceError::Internal`] (for `map_err`).
pub fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServiceError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        ServiceError::Internal
    }
}
