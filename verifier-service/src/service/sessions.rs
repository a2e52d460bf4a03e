//! Sessions: created (with a refresh family when this verifier issues tokens), listed, ended.

use super::audit::{self, EventFacts, SecurityEvent, SessionEnd};
use super::revoke::feed_first;
use super::{internal, ServiceError, Services};
use crate::clock::{unix_seconds_rounded_up, ClockError};
use crate::issuer::{AccessToken, RefreshToken, REGISTERED_CLAIMS};
use crate::store::keys::UserTag;
use crate::store::sessions::{session_record_expiry, NewFamily, RefreshInfo};
use crate::store::{sid, SessionRecord};
use serde_json::{Map, Value};
use std::time::Duration;

/// Longest `device` label, in bytes.
pub const MAX_DEVICE_BYTES: usize = 256;

/// When a session starting at `since_epoch` and lasting at least `ttl` seconds ends. Expiry has
/// whole-second resolution, so the start is rounded up: rounded down, a 1-second session created
/// late in a second would already be gone when the client uses its sid.
pub fn session_end(since_epoch: Duration, ttl: u64) -> Result<i64, ClockError> {
    let start = unix_seconds_rounded_up(since_epoch)?;
    i64::try_from(ttl)
        .ok()
        .and_then(|ttl| start.checked_add(ttl))
        .ok_or(ClockError)
}

/// A create call, as the admin API received it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub sub: String,
    pub device: Option<String>,
    pub ttl_seconds: Option<u64>,
    /// Extra claims copied into the session's access tokens (needs a signing key).
    pub claims: Option<Map<String, Value>>,
}

/// A session just created.
#[derive(Debug)]
pub enum Created {
    /// Without an issuer: the session alone.
    Session { sid: String, expires_at: i64 },
    /// With an issuer: the session and its first tokens.
    WithTokens {
        sid: String,
        expires_at: i64,
        access: AccessToken,
        refresh: RefreshToken,
        /// How long the refresh token is good for, in seconds (its cookie's `Max-Age`).
        refresh_max_age: i64,
    },
}

/// Creates a session for `request.sub`, starting at `since_epoch`.
pub async fn create(
    svc: &Services,
    request: NewSession,
    since_epoch: Duration,
) -> Result<Created, ServiceError> {
    if let Some(device) = &request.device {
        if device.len() > MAX_DEVICE_BYTES {
            return Err(ServiceError::Invalid(format!(
                "`device` is longer than {MAX_DEVICE_BYTES} bytes"
            )));
        }
    }
    let settings = &svc.settings;
    let ttl = request
        .ttl_seconds
        .unwrap_or(settings.default_session_ttl_seconds);
    if ttl == 0 || ttl > settings.max_session_ttl_seconds {
        return Err(ServiceError::Invalid(format!(
            "`ttl_seconds` must be between 1 and {}",
            settings.max_session_ttl_seconds
        )));
    }
    let now = crate::clock::unix_seconds(since_epoch)?;
    let expires_at = session_end(since_epoch, ttl)?;
    let sub = request.sub.as_str();
    let tag = UserTag::of_sub(sub);
    let sid = sid::new_sid(&tag).map_err(internal("no randomness for a session id"))?;
    let device = request.device.as_deref().filter(|d| !d.is_empty());
    let created = EventFacts {
        sub: Some(sub),
        sid: Some(&sid),
        ..Default::default()
    };
    let Some(issuer) = svc.issuer.as_ref() else {
        if request.claims.is_some() {
            return Err(ServiceError::Invalid(
                "`claims` needs a signing key (--signing-key-file): without one no access tokens are issued".into(),
            ));
        }
        svc.store
            .create_session(&tag, &sid, sub, device, now, expires_at)
            .await
            .map_err(svc.failed("create_session"))?;
        audit::announce_session_start(svc, &sid, expires_at, now).await;
        tracing::info!(sub = %sub, sid = %sid, expires_at, "session created");
        audit::record(svc, SecurityEvent::SessionCreated, created, now).await;
        return Ok(Created::Session { sid, expires_at });
    };
    let claims = request.claims.clone().unwrap_or_default();
    if let Some(name) = REGISTERED_CLAIMS
        .iter()
        .find(|name| claims.contains_key(**name))
    {
        return Err(ServiceError::Invalid(format!(
            "`claims` may not set the registered claim `{name}`; the issuer sets it"
        )));
    }
    let refresh =
        RefreshToken::generate(&sid).map_err(internal("no randomness for a refresh token"))?;
    let token_settings = &issuer.settings;
    let idle = i64::try_from(token_settings.refresh_idle_ttl_seconds).unwrap_or(i64::MAX);
    let claims_json = Value::Object(claims.clone()).to_string();
    let family = NewFamily {
        tag: &tag,
        sid: &sid,
        sub,
        device,
        now,
        expires_at,
        refresh_hash: &refresh.hash(),
        refresh_idle_until: now.saturating_add(idle),
        record_until: session_record_expiry(
            now,
            token_settings.refresh_idle_ttl_seconds,
            token_settings.access_ttl_seconds,
            expires_at,
        ),
        claims_json: &claims_json,
    };
    let version = svc
        .store
        .create_session_with_refresh(&family)
        .await
        .map_err(svc.failed("create_session"))?;
    audit::announce_session_start(svc, &sid, family.record_until, now).await;
    let access = issuer
        .access_token(sub, &sid, version, now, expires_at, &claims)
        .map_err(internal("cannot sign an access token"))?;
    audit::record(svc, SecurityEvent::SessionCreated, created, now).await;
    let refresh_max_age = idle.min(expires_at.saturating_sub(now));
    Ok(Created::WithTokens {
        sid: sid.clone(),
        expires_at,
        access,
        refresh,
        refresh_max_age,
    })
}

/// The live sessions of `sub` (revoke-all ended every session created at or before it; they are
/// removed lazily, so they are left out here).
pub async fn list(svc: &Services, sub: &str, now: i64) -> Result<Vec<SessionRecord>, ServiceError> {
    let sessions = svc
        .store
        .list_sessions(&UserTag::of_sub(sub), now)
        .await
        .map_err(svc.failed("list_sessions"))?;
    let not_before = svc
        .store
        .read_not_before()
        .await
        .map_err(svc.failed("read_not_before"))?;
    Ok(sessions
        .into_iter()
        .filter(|s| not_before.is_none_or(|nb| s.created > nb))
        .collect())
}

/// Ends session `sid` (its end in the feed first). `NotFound` when there is no such session.
pub async fn delete(svc: &Services, sid: &str, now: i64) -> Result<(), ServiceError> {
    let Some(owner) = sid::owner_tag(sid) else {
        return Err(ServiceError::NotFound("session"));
    };
    let window = super::outbox::end_window(svc);
    let feed_entry = async {
        svc.store
            .feed_session_end(&owner, sid, now, window)
            .await
            .map_err(svc.failed("delete_session_feed"))
    };
    let (_, deleted) = feed_first(feed_entry, async {
        svc.store
            .delete_session(&owner, sid)
            .await
            .map_err(svc.failed("delete_session"))
    })
    .await?;
    if !deleted {
        return Err(ServiceError::NotFound("session"));
    }
    tracing::info!(sid = %sid, "session deleted");
    audit::session_ended(svc, SessionEnd::Deleted, None, sid, None, now).await;
    Ok(())
}

/// What the store knows of a live refresh token (`None`: not a live one, its session created at
/// or before the global not-before included).
pub async fn refresh_info(
    svc: &Services,
    refresh: &RefreshToken,
    now: i64,
) -> Result<Option<RefreshInfo>, ServiceError> {
    let Some(tag) = sid::owner_tag(refresh.sid()) else {
        return Ok(None);
    };
    let not_before = svc
        .store
        .read_not_before()
        .await
        .map_err(svc.failed("read_not_before"))?;
    svc.store
        .introspect_refresh(&tag, refresh.sid(), &refresh.hash(), now, not_before)
        .await
        .map_err(svc.failed("introspect_refresh"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_at_least_its_ttl() {
        assert_eq!(session_end(Duration::from_secs(100), 1), Ok(101));
        assert_eq!(session_end(Duration::from_millis(100_001), 1), Ok(102));
        assert_eq!(session_end(Duration::from_millis(100_999), 60), Ok(161));
        assert_eq!(
            session_end(Duration::from_secs(1), u64::MAX),
            Err(ClockError)
        );
    }
}
