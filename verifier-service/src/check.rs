//! `POST /v1/check`: is this locally valid token still good?
//!
//! Order of the answers: `revoked_all`, `revoked`, `stale_version`, then `session_missing` /
//! `session_mismatch`. One Redis round trip: the per-user script, with the global not-before read
//! in the same pipeline when the in-process copy is older than a second.

use crate::body::{check_id, json_body};
use crate::error::ApiError;
use crate::metrics::CheckOutcome;
use crate::not_before::revoked_by_not_before;
use crate::sid;
use crate::state::{unix_now, AppState};
use crate::store::keys::UserTag;
use crate::store::{UserCheck, UserVerdict};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::time::Instant;
use warden_core::protocol::{CheckRequest, CheckResponse};
use warden_core::Reason;

pub async fn handle(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let result = match parse(body) {
        Ok(request) => decide(&state, &request).await,
        Err(e) => Err(e),
    };
    let outcome = match &result {
        Ok(response) => match response.reason {
            None => CheckOutcome::Allow,
            Some(reason) => CheckOutcome::Deny(reason),
        },
        Err(ApiError::BadRequest(_) | ApiError::PayloadTooLarge) => CheckOutcome::Invalid,
        Err(_) => CheckOutcome::Unavailable,
    };
    state.0.metrics.record_check(outcome, started.elapsed());
    match result {
        Ok(response) => Json(response).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Parses and validates the body.
pub fn parse(body: Result<Bytes, BytesRejection>) -> Result<CheckRequest, ApiError> {
    let request: CheckRequest = json_body(body)?;
    check_id("sub", &request.sub)?;
    check_id("jti", &request.jti)?;
    if let Some(sid) = &request.sid {
        check_id("sid", sid)?;
    }
    Ok(request)
}

/// A revocation entry lives until the token's `exp` + the revocation skew; past that moment the
/// entry may be gone, so the token itself is refused here, whatever clock skew a filter allows.
/// `exp` 0 is a token without expiry (its revocations never lapse).
pub fn past_revocation_window(exp: i64, now: i64, skew_seconds: u64) -> bool {
    let skew = i64::try_from(skew_seconds).unwrap_or(i64::MAX);
    exp != 0 && exp.saturating_add(skew) <= now
}

/// Where the token's sid points, relative to its sub.
#[derive(Debug, PartialEq, Eq)]
enum SidPlace<'a> {
    /// No sid in the token: no session check.
    Absent,
    /// A sid of this user's: checked by the script.
    Own(&'a str),
    /// A well-formed sid of another user's slot.
    Foreign(UserTag),
    /// Not a sid this verifier makes: no such session.
    Malformed,
}

fn place_sid<'a>(sid: Option<&'a str>, tag: &UserTag) -> SidPlace<'a> {
    match sid {
        None => SidPlace::Absent,
        Some(sid) => match sid::owner_tag(sid) {
            Some(owner) if owner == *tag => SidPlace::Own(sid),
            Some(owner) => SidPlace::Foreign(owner),
            None => SidPlace::Malformed,
        },
    }
}

pub(crate) async fn decide(
    state: &AppState,
    request: &CheckRequest,
) -> Result<CheckResponse, ApiError> {
    let shared = &state.0;
    let now = unix_now()?;
    if past_revocation_window(request.exp, now, shared.settings.revocation_skew_seconds) {
        return Ok(CheckResponse::deny(Reason::TokenExpired));
    }
    let cached_not_before = shared.not_before.get(Instant::now());
    if let Some(not_before) = cached_not_before {
        if revoked_by_not_before(not_before, request.iat) {
            return Ok(CheckResponse::deny(Reason::RevokedAll));
        }
    }

    let tag = UserTag::of_sub(&request.sub);
    let place = place_sid(request.sid.as_deref(), &tag);
    let query = UserCheck {
        tag: &tag,
        sub: &request.sub,
        jti: &request.jti,
        version: request.ver.unwrap_or(0),
        sid: match place {
            SidPlace::Own(sid) => Some(sid),
            _ => None,
        },
        now,
        last_seen_interval_seconds: shared.settings.last_seen_interval_seconds,
    };
    let read_at = Instant::now();
    let (verdict, fresh_not_before) = shared
        .store
        .check(&query, cached_not_before.is_none())
        .await
        .map_err(|e| state.store_failed("check", e))?;
    if let Some(not_before) = fresh_not_before {
        shared.not_before.put(not_before, read_at);
        if revoked_by_not_before(not_before, request.iat) {
            return Ok(CheckResponse::deny(Reason::RevokedAll));
        }
    }
    if let UserVerdict::Deny(reason) = verdict {
        return Ok(CheckResponse::deny(reason));
    }
    match place {
        SidPlace::Absent | SidPlace::Own(_) => Ok(CheckResponse::allow()),
        SidPlace::Malformed => Ok(CheckResponse::deny(Reason::SessionMissing)),
        SidPlace::Foreign(owner) => {
            // Rare (a token whose sid names another user's session): one more call, in that slot.
            let sid = request.sid.as_deref().unwrap_or_default();
            let exists = shared
                .store
                .session_exists(&owner, sid)
                .await
                .map_err(|e| state.store_failed("check_foreign_session", e))?;
            Ok(CheckResponse::deny(if exists {
                Reason::SessionMismatch
            } else {
                Reason::SessionMissing
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &[u8]) -> Result<Bytes, BytesRejection> {
        Ok(Bytes::copy_from_slice(text))
    }

    #[test]
    fn parses_the_wire_format() {
        let request = parse(body(
            br#"{"sub":"alice","jti":"j1","sid":"s","ver":2,"iat":5,"exp":9}"#,
        ))
        .unwrap();
        assert_eq!(request.sub, "alice");
        assert_eq!(request.ver, Some(2));
        let minimal = parse(body(br#"{"sub":"alice","jti":"j1","exp":9}"#)).unwrap();
        assert_eq!(minimal.sid, None);
    }

    #[test]
    fn refuses_bad_requests() {
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
                matches!(parse(body(&case)), Err(ApiError::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    #[test]
    fn revocation_window_bounds_acceptance() {
        assert!(!past_revocation_window(0, 1_000_000, 300));
        assert!(!past_revocation_window(1000, 1299, 300));
        assert!(past_revocation_window(1000, 1300, 300));
        assert!(past_revocation_window(1000, 5000, 300));
        assert!(!past_revocation_window(i64::MAX, 0, u64::MAX));
    }

    #[test]
    fn sid_placement() {
        let alice = UserTag::of_sub("alice");
        let bob = UserTag::of_sub("bob");
        let alice_sid = sid::new_sid(&alice).unwrap();
        let bob_sid = sid::new_sid(&bob).unwrap();
        assert_eq!(place_sid(None, &alice), SidPlace::Absent);
        assert_eq!(
            place_sid(Some(&alice_sid), &alice),
            SidPlace::Own(&alice_sid)
        );
        assert_eq!(place_sid(Some(&bob_sid), &alice), SidPlace::Foreign(bob));
        assert_eq!(place_sid(Some("made-up"), &alice), SidPlace::Malformed);
    }
}
