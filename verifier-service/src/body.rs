//! Reading request bodies and path parameters into typed values, with 400/413 answers in JSON.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use warden_core::protocol::MAX_ID_BYTES;

/// Parses a JSON body of at most `MAX_BODY_BYTES` (enforced by the router's body limit).
pub fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("could not read the request body")
        }
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("body is not valid UTF-8"))?;
    // serde would also build a struct from a JSON array; only objects are accepted.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::bad_request("body must be a JSON object"));
    }
    serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// A path parameter, or 400.
pub fn path_param<T>(param: Result<axum::extract::Path<T>, PathRejection>) -> Result<T, ApiError> {
    param
        .map(|axum::extract::Path(value)| value)
        .map_err(|_| ApiError::bad_request("invalid path parameter"))
}

/// An identifier (`sub`, `jti`, `sid`): 1..=256 bytes.
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad_request(format!(
            "`{field}` must not be empty"
        )));
    }
    if value.len() > MAX_ID_BYTES {
        return Err(ApiError::bad_request(format!(
            "`{field}` is longer than {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_limits() {
        assert!(check_id("sub", "a").is_ok());
        assert!(check_id("sub", &"a".repeat(MAX_ID_BYTES)).is_ok());
        assert!(check_id("sub", &"a".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(check_id("sub", "").is_err());
        // Bytes, not characters: 128 two-byte characters fit, 129 do not.
        assert!(check_id("sub", &"é".repeat(128)).is_ok());
        assert!(check_id("sub", &"é".repeat(129)).is_err());
    }

    #[test]
    fn body_parsing() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        assert!(json_body::<T>(Ok(Bytes::from_static(b"{\"a\":1}"))).is_ok());
        for bad in [
            &b""[..],
            b"  ",
            b"{",
            b"{\"a\":\"x\"}",
            b"{\"a\":1}\xff",
            b"[1]",
        ] {
            assert!(
                matches!(
                    json_body::<T>(Ok(Bytes::copy_from_slice(bad))),
                    Err(ApiError::BadRequest(_))
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
