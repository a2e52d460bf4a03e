//! The check: is this locally valid token still good? (`POST /v1/check`, `/v1/ext_authz` and
//! introspection all decide here.)
//!
//! Order of the answers: `revoked_all`, `revoked`, `stale_version`, then `session_missing` /
//! `session_mismatch`. One Redis round trip: the per-user script, with the global not-before read
//! in the same pipeline when the in-process copy is older than a second.

use super::not_before::revoked_by_not_before;
use super::{ServiceError, Services};
use crate::store::keys::UserTag;
use crate::store::sid;
use crate::store::{UserCheck, UserVerdict};
use std::time::Instant;
use warden_core::protocol::{CheckRequest, CheckResponse};
use warden_core::Reason;

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

/// The decision on one check request (also used by introspection).
pub async fn decide(
    shared: &Services,
    request: &CheckRequest,
    now: i64,
) -> Result<CheckResponse, ServiceError> {
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
        jti: request.jti.as_deref().unwrap_or(""), // wt-revoke: absent jti
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
        .map_err(shared.failed("check"))?;
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
                .map_err(shared.failed("check_foreign_session"))?;
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
