//! Typed extractors whose rejections are the API's own errors: [`ValidJson`] reads a JSON object
//! body into a type and validates it (400/413 as [`ApiError`]); path parameters and identifiers.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use warden_core::protocol::{CheckRequest, MAX_ID_BYTES};

/// What a body must satisfy beyond its JSON shape (ids within bounds, ...).
pub trait Validate {
    fn validate(&self) -> Result<(), ApiError>;
}

/// A JSON object body of at most `MAX_BODY_BYTES` (the router's body limit), read into `T` and
/// validated. Handlers that count refusals take `Result<ValidJson<T>, ApiError>`.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("could not read the request body")
                }
            })?;
        parse_json(&bytes).map(ValidJson)
    }
}

/// Parses and validates a JSON object body.
pub fn parse_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("body is not valid UTF-8"))?;
    // serde would also build a struct from a JSON array; only objects are accepted.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::bad_request("body must be a JSON object"));
    }
    let value: T = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    value.validate()?;
    Ok(value)
}

impl Validate for CheckRequest {
    fn validate(&self) -> Result<(), ApiError> {
        check_id("sub", &self.sub)?;
        self.jti
            .as_deref()
            .map_or(Ok(()), |jti| check_id("jti", jti))?;
        if let Some(sid) = &self.sid {
            check_id("sid", sid)?;
        }
        Ok(())
    }
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
        impl Validate for T {
            fn validate(&self) -> Result<(), ApiError> {
                Ok(())
            }
        }
        assert!(parse_json::<T>(b"{\"a\":1}").is_ok());
        for bad in [
            &b""[..],
            b"  ",
            b"{",
            b"{\"a\":\"x\"}",
            b"{\"a\":1}\xff",
            b"[1]",
        ] {
            assert!(
                matches!(parse_json::<T>(bad), Err(ApiError::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn check_requests_parse_and_validate() {
        let request: CheckRequest =
            parse_json(br#"{"sub":"alice","jti":"j1","sid":"s","ver":2,"iat":5,"exp":9}"#).unwrap();
        assert_eq!(request.sub, "alice");
        assert_eq!(request.ver, Some(2));
        let minimal: CheckRequest = parse_json(br#"{"sub":"alice","jti":"j1","exp":9}"#).unwrap();
        assert_eq!(minimal.sid, None);
        let long = "a".repeat(257);
        let cases: Vec<Vec<u8>> = vec![
            br#"{"jti":"j1","exp":9}"#.to_vec(),
            br#"{"sub":"alice","jti":"j1"}"#.to_vec(),
            br#"{"sub":"alice","jti":1,"exp":9}"#.to_vec(),
            br#"{"sub":"alice","jti":"j1","exp":"9"}"#.to_vec(),
            br#"{"sub":"alice","jti":"j1","exp":9,"ver":-1}"#.to_vec(),
            br#"{"sub":"","jti":"j1","exp":9}"#.to_vec(),
            br#"{"sub":"alice","jti":"","exp":9}"#.to_vec(),
            br#"{"sub":"alice","jti":"j1","sid":"","exp":9}"#.to_vec(),
            format!(r#"{{"sub":"{long}","jti":"j1","exp":9}}"#).into_bytes(),
            format!(r#"{{"sub":"a","jti":"{long}","exp":9}}"#).into_bytes(),
            format!(r#"{{"sub":"a","jti":"j","sid":"{long}","exp":9}}"#).into_bytes(),
            b"{\"sub\":\"al\xffice\",\"jti\":\"j1\",\"exp\":9}".to_vec(),
            b"not json".to_vec(),
        ];
        for case in cases {
            assert!(
                matches!(
                    parse_json::<CheckRequest>(&case),
                    Err(ApiError::BadRequest(_))
                ),
                "{}",
                String::from_utf8_lossy(&case)
            );
        }
    }
}
