//! Every failure the HTTP API can answer, mapped to a status and a JSON body
//! `{"error": code, "message": text}` that never carries internal details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::ServiceError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request is malformed; the message says what is wrong with it.
    BadRequest(String),
    PayloadTooLarge,
    Unauthorized,
    /// `GET /v1/revocations` without the feed's bearer token (`--feed-token-file`).
    FeedUnauthorized,
    NotFound(&'static str),
    MethodNotAllowed,
    /// Redis could not answer; the detail is logged, not returned.
    Unavailable,
    /// The write is on the primary but not on enough replicas in time.
    ReplicationTimeout,
    Internal,
}

/// Longest message echoed back (serde messages can quote the input).
const MAX_MESSAGE_CHARS: usize = 300;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        let mut message: String = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        ApiError::BadRequest(message)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthorized | ApiError::FeedUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable | ApiError::ReplicationTimeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unauthorized | ApiError::FeedUnauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable => "unavailable",
            ApiError::ReplicationTimeout => "replication_timeout",
            ApiError::Internal => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(message) => message.clone(),
            ApiError::PayloadTooLarge => format!(
                "request body is larger than {} bytes",
                super::routes::MAX_BODY_BYTES
            ),
            ApiError::Unauthorized => "a valid admin bearer token is required".into(),
            ApiError::FeedUnauthorized => "a valid feed bearer token is required".into(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::MethodNotAllowed => "method not allowed on this route".into(),
            ApiError::Unavailable => "the revocation store is unavailable".into(),
            ApiError::ReplicationTimeout => {
                "the write was not acknowledged by enough replicas in time".into()
            }
            ApiError::Internal => "internal error".into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::Invalid(message) => ApiError::bad_request(message),
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Unavailable => ApiError::Unavailable,
            ServiceError::ReplicationTimeout => ApiError::ReplicationTimeout,
            ServiceError::Internal => ApiError::Internal,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code(), "message": self.message() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        let realm = match self {
            ApiError::Unauthorized => Some("Bearer realm=\"warden-admin\""),
            ApiError::FeedUnauthorized => Some("Bearer realm=\"warden-feed\""),
            _ => None,
        };
        if let Some(realm) = realm {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(realm));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut() {
        let ApiError::BadRequest(message) = ApiError::bad_request("x".repeat(1000)) else {
            unreachable!("bad_request builds BadRequest")
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn service_errors_keep_their_meaning() {
        assert_eq!(
            ApiError::from(ServiceError::ReplicationTimeout),
            ApiError::ReplicationTimeout
        );
        assert_eq!(
            ApiError::from(ServiceError::Unavailable),
            ApiError::Unavailable
        );
        assert_eq!(
            ApiError::from(ServiceError::NotFound("session")),
            ApiError::NotFound("session")
        );
        assert_eq!(
            ApiError::from(ServiceError::Invalid("x".into())),
            ApiError::BadRequest("x".into())
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(
            ApiError::Unavailable.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::PayloadTooLarge.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(ApiError::bad_request("x").status(), StatusCode::BAD_REQUEST);
    }
}
