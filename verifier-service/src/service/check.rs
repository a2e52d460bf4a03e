//! The check: is this locally valid token still good? (`POST /v1/check`, `/v1/ext_authz` and
//! introspection all decide here.)
//!
//! Order of the answers: `revoked_all`, `revoked`, `stale_version` (a token with `ver`) /
//! `user_revoked` (a token without), then `session_revoked` / `session_missing` /
//! `session_mismatch`. One Redis round trip: the per-user script, with the global not-before read
//! in the same pipeline when the in-process copy is older than a second, and for a token of a
//! configured identity provider that carries a `sid`, that provider session's revocation beside
//! it (its own slot: in the pipeline on one Redis, at the same time on a cluster).
//!
//! Whose session a `sid` names is decided by the token's issuer: a configured identity
//! provider's `iss` means that provider's session, never looked up among Warden's; any other
//! issuer (or none) means a Warden session.

use super::not_before::revoked_by_not_before;
use super::{ServiceError, Services};
use crate::store::keys::UserTag;
use crate::store::sid;
use crate::store::{IdpSession, UserCheck, UserVerdict};
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
    /// The session of the identity provider that issued the token: checked by its revocation.
    Provider(IdpSession<'a>),
    /// A sid of this user's: checked by the script.
    Own(&'a str),
    /// A well-formed sid of another user's slot.
    Foreign(UserTag),
    /// Not a sid this verifier makes: no such session.
    Malformed,
}

/// `provider`: the token's `iss`, when it is a configured identity provider's.
fn place_sid<'a>(sid: Option<&'a str>, tag: &UserTag, provider: Option<&'a str>) -> SidPlace<'a> {
    match (sid, provider) {
        (None, _) => SidPlace::Absent,
        (Some(sid), Some(iss)) => SidPlace::Provider(IdpSession { iss, sid }),
        (Some(sid), None) => match sid::owner_tag(sid) {
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
    let iss = request.iss.as_deref();
    let provider = iss.filter(|_| shared.settings.identity_providers.owns_sessions_of(iss));
    let place = place_sid(request.sid.as_deref(), &tag, provider);
    let query = UserCheck {
        tag: &tag,
        sub: &request.sub,
        jti: request.jti.as_deref(),
        version: request.ver,
        iat: request.iat,
        sid: match place {
            SidPlace::Own(sid) => Some(sid),
            _ => None,
        },
        idp_session: match place {
            SidPlace::Provider(session) => Some(session),
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
        // The store's verdict covered these (a revoked provider session is `session_revoked`).
        SidPlace::Absent | SidPlace::Own(_) | SidPlace::Provider(_) => Ok(CheckResponse::allow()),
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
        assert_eq!(place_sid(None, &alice, None), SidPlace::Absent);
        assert_eq!(
            place_sid(Some(&alice_sid), &alice, None),
            SidPlace::Own(&alice_sid)
        );
        assert_eq!(
            place_sid(Some(&bob_sid), &alice, None),
            SidPlace::Foreign(bob)
        );
        assert_eq!(
            place_sid(Some("made-up"), &alice, None),
            SidPlace::Malformed
        );
        // A provider's token: its sid is the provider's, whatever its shape (even one of ours).
        let idp = Some("https://idp.example");
        for sid in ["idp-s-1", alice_sid.as_str(), bob_sid.as_str()] {
            assert_eq!(
                place_sid(Some(sid), &alice, idp),
                SidPlace::Provider(IdpSession {
                    iss: "https://idp.example",
                    sid
                })
            );
        }
        assert_eq!(place_sid(None, &alice, idp), SidPlace::Absent);
    }
}
