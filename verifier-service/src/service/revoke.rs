//! Revocations: one token (by its `jti`), one user (every token before now), one session of an
//! identity provider (by its issuer and `sid`), everything issued up to now. Each one writes its
//! feed entry before the change it announces, so a change a caller saw acknowledged is always in
//! the feed (a stream-mode filter never misses it).

use super::audit::{self, EventFacts, SecurityEvent};
use super::{ServiceError, Services};
use crate::store::keys::UserTag;
use std::future::Future;
use warden_core::protocol::feed::Change;
use warden_core::protocol::MAX_ID_BYTES;

/// Latest `exp` accepted: the filter's NumericDate bound, so both sides agree on what a date is.
pub const MAX_EXP: i64 = warden_core::token::MAX_NUMERIC_DATE;

/// Until when a revocation of a token with this `exp` is kept: `exp` + the revocation skew, for
/// good when `exp` is absent or `0` (what the filter sends for a token without `exp`).
///
/// Every check refuses a token past `exp` + skew, so an entry that would expire at once protects
/// nothing; and acknowledging what is not stored would be a lie if the caller got `exp` wrong.
/// Such a request is refused clearly instead.
pub fn revocation_until(
    exp: Option<i64>,
    now: i64,
    skew_seconds: u64,
) -> Result<Option<i64>, ServiceError> {
    let exp = exp.filter(|&exp| exp != 0);
    if let Some(exp) = exp {
        if !(1..=MAX_EXP).contains(&exp) {
            return Err(ServiceError::Invalid(
                "`exp` must be a Unix time in seconds".into(),
            ));
        }
    }
    let skew = i64::try_from(skew_seconds).unwrap_or(i64::MAX);
    let until = exp.map(|exp| exp.saturating_add(skew));
    if until.is_some_and(|at| at <= now) {
        return Err(ServiceError::Invalid(
            "`exp` is already past the revocation window (exp + revocation skew): every check refuses this token; give the token's real `exp`, or omit it to revoke for good".into(),
        ));
    }
    Ok(until)
}

/// Revokes token `jti` of `sub` until `until` (`None`: for good). The feed entry first, then the
/// change: this is the one place a token revocation is written (the admin API and RFC 7009
/// revocation of an access token both come here).
pub async fn revoke_token(
    svc: &Services,
    sub: &str,
    jti: &str,
    until: Option<i64>,
    now: i64,
) -> Result<(), ServiceError> {
    let change = Change::Jti {
        sub: sub.to_owned(),
        jti: jti.to_owned(),
        until,
    };
    let tag = UserTag::of_sub(sub);
    feed_first(append(svc, &[change], now, "revoke_token_feed"), async {
        svc.store
            .revoke_token(&tag, jti, until)
            .await
            .map_err(svc.failed("revoke_token"))
    })
    .await
    .map(drop)
}

/// The feed entry first, then the change: `change` runs only once `feed_entry` succeeded, so
/// every change a caller saw acknowledged is in the feed (a failed entry leaves the change unmade
/// and is the caller's answer). A later entry fixing up what the change really did may follow.
/// Returns what both gave.
pub async fn feed_first<E, T>(
    feed_entry: impl Future<Output = Result<E, ServiceError>>,
    change: impl Future<Output = Result<T, ServiceError>>,
) -> Result<(E, T), ServiceError> {
    let entry = feed_entry.await?;
    Ok((entry, change.await?))
}

/// Appends `changes` to the feed (`what` names the call in logs).
pub async fn append(
    svc: &Services,
    changes: &[Change],
    now: i64,
    what: &str,
) -> Result<(), ServiceError> {
    svc.store
        .append_feed(changes, now)
        .await
        .map(drop)
        .map_err(svc.failed(what))
}

/// Revokes every token of `sub` issued so far and ends its sessions: tokens with `ver` by the
/// user's version (it rises), tokens without by the user's not-before (`iat` at or before
/// `store::user_not_before(now)`; tokens issued later are accepted). Returns the version reached.
pub async fn revoke_user(svc: &Services, sub: &str, now: i64) -> Result<u64, ServiceError> {
    let tag = UserTag::of_sub(sub);
    let window = super::outbox::end_window(svc);
    // The feed entries name the user's sessions too (their ends).
    let feed_entries = async {
        svc.store
            .feed_user_revocation(&tag, sub, now, window)
            .await
            .map_err(svc.failed("revoke_user_feed"))
    };
    let (announced, revoked) = feed_first(feed_entries, async {
        svc.store
            .revoke_user(&tag, now)
            .await
            .map_err(svc.failed("revoke_user"))
    })
    .await?;
    // Sessions created between the feed entries and the revocation: their tokens may be
    // known live to stream-mode filters, so their ends go to the feed before the answer.
    svc.store
        .feed_missed_session_ends(&announced.sids, &revoked.sessions, now, window)
        .await
        .map_err(svc.failed("revoke_user_feed"))?;
    let (version, announced) = (revoked.version, announced.version);
    if version > announced {
        // A concurrent revocation went first: announce the version really reached, with the
        // not-before in force (the script never lowers it below this revocation's).
        let change = Change::User {
            sub: sub.to_owned(),
            version,
            not_before: Some(revoked.not_before),
        };
        append(svc, &[change], now, "revoke_user_feed").await?;
    }
    tracing::info!(sub = %sub, version, "user revoked");
    let facts = EventFacts {
        sub: Some(sub),
        ..Default::default()
    };
    audit::record(svc, SecurityEvent::UserRevoked, facts, now).await;
    Ok(version)
}

/// Until when the revocation of a session of `provider` is kept: every access token the session
/// could cover must be past use by then. `exp` (the latest `exp` of its tokens, when the caller
/// knows it) + the revocation skew; absent or `0`: `now` + the provider's longest token
/// lifetime + the skew.
///
/// An `exp` whose window has already passed is refused, as for a token revocation: every check
/// refuses such tokens already, and a revocation stored for nothing would be acknowledged
/// falsely if the caller got `exp` wrong (omit it to cover the provider's longest lifetime).
pub fn idp_session_until(
    exp: Option<i64>,
    now: i64,
    max_token_lifetime_seconds: u64,
    skew_seconds: u64,
) -> Result<i64, ServiceError> {
    let skew = i64::try_from(skew_seconds).unwrap_or(i64::MAX);
    match revocation_until(exp, now, skew_seconds) {
        Ok(Some(until)) => Ok(until),
        Ok(None) => {
            let lifetime = i64::try_from(max_token_lifetime_seconds).unwrap_or(i64::MAX);
            Ok(now.saturating_add(lifetime).saturating_add(skew))
        }
        Err(_) if exp.is_some_and(|exp| (1..=MAX_EXP).contains(&exp)) => {
            Err(ServiceError::Invalid(
                "`exp` is already past the revocation window (exp + revocation skew): every check refuses the session's tokens of that `exp`; give the latest `exp` of its tokens, or omit it to cover the provider's longest token lifetime".into(),
            ))
        }
        Err(e) => Err(e),
    }
}

/// Revokes session `sid` of the identity provider whose issuer is `iss`: every token with that
/// `iss` and `sid` is refused (`session_revoked`) until [`idp_session_until`] of `until` (the
/// latest `exp` of the session's tokens when known; `None`: the provider's
/// `max_token_lifetime_seconds` from `now`), plus the revocation skew. The feed entry first, then
/// the change; stored before it returns (the admin API, back-channel logout and security events
/// all come here). Returns the moment the revocation lapses. An `iss` that is not a configured
/// provider is refused: its tokens' sids are Warden sessions.
pub async fn revoke_idp_session(
    svc: &Services,
    iss: &str,
    sid: &str,
    until: Option<i64>,
    now: i64,
) -> Result<i64, ServiceError> {
    if sid.is_empty() || sid.len() > MAX_ID_BYTES {
        // A check refuses such a sid before any lookup: storing it would protect nothing.
        return Err(ServiceError::Invalid(format!(
            "`sid` must be 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    let Some(provider) = svc.settings.identity_providers.by_issuer(iss) else {
        return Err(ServiceError::Invalid(format!(
            "`iss`: {iss:?} is not a configured identity provider (--identity-providers); a token of another issuer carries a Warden session, ended with DELETE /v1/admin/sessions/{{sid}}"
        )));
    };
    let until = idp_session_until(
        until,
        now,
        provider.max_token_lifetime_seconds,
        svc.settings.revocation_skew_seconds,
    )?;
    let change = Change::IdpSession {
        iss: iss.to_owned(),
        sid: sid.to_owned(),
        until,
    };
    feed_first(
        append(svc, &[change], now, "revoke_idp_session_feed"),
        async {
            svc.store
                .revoke_idp_session(iss, sid, until)
                .await
                .map_err(svc.failed("revoke_idp_session"))
        },
    )
    .await?;
    tracing::info!(iss = %iss, sid = %sid, until, "identity-provider session revoked");
    let facts = EventFacts {
        sid: Some(sid),
        detail: Some("idp_session"),
        ..Default::default()
    };
    audit::record(svc, SecurityEvent::SessionRevoked, facts, now).await;
    Ok(until)
}

/// Revokes every token issued up to `now` (the global not-before). Returns the not-before set.
pub async fn revoke_all(svc: &Services, now: i64) -> Result<i64, ServiceError> {
    let entry = [Change::NotBefore { not_before: now }];
    let ((), not_before) = feed_first(append(svc, &entry, now, "revoke_all_feed"), async {
        svc.store
            .revoke_all(now)
            .await
            .map_err(svc.failed("revoke_all"))
    })
    .await?;
    svc.not_before
        .put(Some(not_before), std::time::Instant::now());
    tracing::info!(not_before, "all tokens issued up to now revoked");
    let facts = EventFacts {
        detail: Some("not_before"),
        ..Default::default()
    };
    audit::record(svc, SecurityEvent::AllRevoked, facts, now).await;
    Ok(not_before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn the_change_waits_for_its_feed_entry() {
        let changed = AtomicBool::new(false);
        let change = || async {
            changed.store(true, Ordering::SeqCst);
            Ok(7)
        };
        let refused = feed_first(async { Err::<(), _>(ServiceError::Unavailable) }, change()).await;
        assert_eq!(refused, Err(ServiceError::Unavailable));
        assert!(
            !changed.load(Ordering::SeqCst),
            "changed without a feed entry"
        );
        let entry_seen = AtomicBool::new(false);
        let done = feed_first(
            async {
                entry_seen.store(true, Ordering::SeqCst);
                Ok(())
            },
            async {
                assert!(entry_seen.load(Ordering::SeqCst), "change before its entry");
                change().await
            },
        )
        .await;
        assert_eq!(done, Ok(((), 7)));
        assert!(changed.load(Ordering::SeqCst));
    }

    #[test]
    fn revocations_last_until_exp_plus_skew() {
        assert_eq!(revocation_until(None, 100, 300), Ok(None));
        assert_eq!(revocation_until(Some(0), 100, 300), Ok(None));
        assert_eq!(revocation_until(Some(1000), 100, 300), Ok(Some(1300)));
        assert_eq!(
            revocation_until(Some(MAX_EXP), 100, u64::MAX),
            Ok(Some(i64::MAX))
        );
        for bad in [-1, MAX_EXP + 1] {
            assert!(
                matches!(
                    revocation_until(Some(bad), 100, 300),
                    Err(ServiceError::Invalid(m)) if m.contains("Unix time")
                ),
                "{bad}"
            );
        }
        // Already past the window: refused rather than stored for nothing.
        assert!(matches!(
            revocation_until(Some(1000), 1300, 300),
            Err(ServiceError::Invalid(m)) if m.contains("revocation window")
        ));
        assert_eq!(revocation_until(Some(1000), 1299, 300), Ok(Some(1300)));
    }

    #[test]
    fn idp_sessions_last_until_their_tokens_are_past_use() {
        // exp given: exp + skew.
        assert_eq!(idp_session_until(Some(1000), 100, 3600, 300), Ok(1300));
        // exp absent or 0: the provider's longest token lifetime from now, + skew.
        assert_eq!(idp_session_until(None, 100, 3600, 300), Ok(4000));
        assert_eq!(idp_session_until(Some(0), 100, 3600, 300), Ok(4000));
        assert_eq!(idp_session_until(None, 100, u64::MAX, 300), Ok(i64::MAX));
        // exp already past its window: refused, not stored for nothing.
        assert!(matches!(
            idp_session_until(Some(1000), 1300, 3600, 300),
            Err(ServiceError::Invalid(m)) if m.contains("revocation window")
        ));
        assert!(matches!(
            idp_session_until(Some(-5), 100, 3600, 300),
            Err(ServiceError::Invalid(m)) if m.contains("Unix time")
        ));
    }
}
