//! The refresh family's life: `POST /v1/token` (rotation with reuse detection, RFC 6749 §6 and
//! RFC 9700 §4.14.2) and `POST /v1/token/revoke` (RFC 7009), both charged to the client's and
//! the session's budgets.

use super::audit::{self, EventFacts, SecurityEvent, SessionEnd};
use super::{internal, ServiceError, Services};
use crate::issuer::{AccessToken, Issuer, RefreshToken};
use crate::store::keys::UserTag;
use crate::store::sessions::{
    address_rate_key, session_rate_key, session_record_expiry, FamilyGrant, RefreshCall,
    RefreshOutcome, RevokeRefreshOutcome,
};
use crate::store::sid;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// Why a grant gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// The refresh token is unknown, expired, already used or revoked (`invalid_grant`).
    InvalidGrant,
    /// A budget is spent; retry after this many seconds.
    RateLimited(u64),
    Failed(ServiceError),
}

impl From<ServiceError> for GrantError {
    fn from(error: ServiceError) -> GrantError {
        GrantError::Failed(error)
    }
}

/// Where a request comes from and when.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub client: IpAddr,
    pub now: i64,
    pub now_ms: i64,
}

/// A successful refresh: the access token and the refresh token the holder now uses.
#[derive(Debug)]
pub struct Refreshed {
    pub access: AccessToken,
    pub refresh: RefreshToken,
    /// How long `refresh` is good for, in seconds (its cookie's `Max-Age`).
    pub refresh_max_age: i64,
}

/// Charges the client address's budget (`route` names it in the audit event).
pub async fn charge_address(
    svc: &Services,
    issuer: &Issuer,
    caller: Caller,
    route: &str,
) -> Result<(), GrantError> {
    let rate = issuer.settings.refresh_rate_per_minute;
    let wait = svc
        .store
        .charge_rate(&address_rate_key(&caller.client), caller.now_ms, rate)
        .await
        .map_err(svc.failed("rate_limit"))?;
    match wait {
        None => Ok(()),
        Some(seconds) => {
            let facts = EventFacts {
                client: Some(caller.client),
                detail: Some(route),
                ..EventFacts::default()
            };
            Err(rate_limited(svc, facts, caller.now, seconds).await)
        }
    }
}

/// The global not-before, read fresh (a session created at or before it is over).
async fn fresh_not_before(svc: &Services) -> Result<Option<i64>, ServiceError> {
    let read_at = std::time::Instant::now();
    let value = svc
        .store
        .read_not_before()
        .await
        .map_err(svc.failed("read_not_before"))?;
    svc.not_before.put(value, read_at);
    Ok(value.max(svc.not_before.get(read_at).flatten()))
}

fn extra_claims(grant: &FamilyGrant) -> Map<String, Value> {
    serde_json::from_str(&grant.claims_json).unwrap_or_default()
}

/// Exchanges the `presented` refresh token (already charged to the client's budget) for a new
/// pair: a rotation, or the same successor again for the retry of a lost answer.
pub async fn refresh(
    svc: &Services,
    issuer: &Issuer,
    presented: &str,
    caller: Caller,
) -> Result<Refreshed, GrantError> {
    let Caller {
        client,
        now,
        now_ms,
    } = caller;
    let presented = RefreshToken::parse(presented).ok_or(GrantError::InvalidGrant)?;
    let sid = presented.sid().to_owned();
    let tag = sid::owner_tag(&sid).ok_or(GrantError::InvalidGrant)?;
    let not_before = fresh_not_before(svc).await?;
    let successor =
        RefreshToken::generate(&sid).map_err(internal("no randomness for a refresh token"))?;
    let sealed = presented
        .seal(&successor)
        .map_err(internal("cannot seal the successor"))?;
    let settings = &issuer.settings;
    let call = RefreshCall {
        tag: &tag,
        sid: &sid,
        presented_hash: &presented.hash(),
        successor_hash: &successor.hash(),
        successor_sealed: &sealed,
        now,
        now_ms,
        idle_ttl_seconds: settings.refresh_idle_ttl_seconds,
        retry_grace_seconds: settings.refresh_retry_grace_seconds,
        retry_max_uses: settings.refresh_retry_max_uses,
        access_ttl_seconds: settings.access_ttl_seconds,
        not_before,
        rate_per_minute: settings.refresh_rate_per_minute,
    };
    let outcome = svc
        .store
        .refresh(&call)
        .await
        .map_err(svc.failed("refresh"))?;
    let sid_ref = sid.as_str();
    let ended = |end: SessionEnd, sub: String| async move {
        audit::session_ended(svc, end, Some(&sub), sid_ref, Some(client), now).await;
        GrantError::InvalidGrant
    };
    let (grant, current, detail) = match outcome {
        RefreshOutcome::Rotated(grant) => {
            // The rotation moved the record's expiry.
            let keep = session_record_expiry(
                now,
                settings.refresh_idle_ttl_seconds,
                settings.access_ttl_seconds,
                grant.expires_at,
            );
            audit::announce_session_start(svc, &sid, keep, now).await;
            (grant, successor, "rotated")
        }
        RefreshOutcome::Grace { grant, sealed } => {
            // The retry of a refresh whose answer was lost: the same successor again.
            let current = presented.open(&sealed).ok_or_else(|| {
                tracing::error!(sid = %sid, "a sealed successor does not open with its predecessor");
                GrantError::InvalidGrant
            })?;
            (grant, current, "retry")
        }
        RefreshOutcome::Limited { sub, retry_after } => {
            let facts = EventFacts {
                sub: Some(&sub),
                sid: Some(&sid),
                client: Some(client),
                detail: Some("session"),
            };
            return Err(rate_limited(svc, facts, now, retry_after).await);
        }
        RefreshOutcome::ReuseDetected { sub } => {
            return Err(ended(SessionEnd::ReuseDetected, sub).await)
        }
        RefreshOutcome::Expired { sub } => return Err(ended(SessionEnd::RefreshExpired, sub).await),
        RefreshOutcome::RevokedAll { sub } => return Err(ended(SessionEnd::RevokedAll, sub).await),
        RefreshOutcome::Invalid => return Err(GrantError::InvalidGrant),
    };
    let access = issuer
        .access_token(
            &grant.sub,
            &sid,
            grant.version,
            now,
            grant.expires_at,
            &extra_claims(&grant),
        )
        .map_err(internal("cannot sign an access token"))?;
    let facts = EventFacts {
        sub: Some(&grant.sub),
        sid: Some(&sid),
        client: Some(client),
        detail: Some(detail),
    };
    audit::record(svc, SecurityEvent::Refreshed, facts, now).await;
    let idle = i64::try_from(settings.refresh_idle_ttl_seconds).unwrap_or(i64::MAX);
    Ok(Refreshed {
        access,
        refresh: current,
        refresh_max_age: idle.min(grant.expires_at.saturating_sub(now)),
    })
}

/// RFC 7009: ends the family of a refresh token, or revokes an access token this issuer signed;
/// anything else is ignored (the answer is the same for unknown tokens).
pub async fn revoke(
    svc: &Services,
    issuer: &Issuer,
    token: &str,
    caller: Caller,
) -> Result<(), GrantError> {
    let Caller {
        client,
        now,
        now_ms,
    } = caller;
    let settings = &issuer.settings;
    if let Some(refresh) = RefreshToken::parse(token) {
        let sid = refresh.sid().to_owned();
        if let Some(tag) = sid::owner_tag(&sid) {
            let outcome = svc
                .store
                .revoke_refresh_family(
                    &tag,
                    &sid,
                    &refresh.hash(),
                    now_ms,
                    settings.refresh_rate_per_minute,
                )
                .await
                .map_err(svc.failed("revoke_refresh"))?;
            match outcome {
                RevokeRefreshOutcome::Ended { sub } => {
                    audit::session_ended(
                        svc,
                        SessionEnd::TokenRevoked,
                        Some(&sub),
                        &sid,
                        Some(client),
                        now,
                    )
                    .await;
                }
                RevokeRefreshOutcome::Limited { sub, retry_after } => {
                    let facts = EventFacts {
                        sub: Some(&sub),
                        sid: Some(&sid),
                        client: Some(client),
                        detail: Some("session"),
                    };
                    return Err(rate_limited(svc, facts, now, retry_after).await);
                }
                RevokeRefreshOutcome::Unknown => {}
            }
        }
    } else if let Some(claims) = issuer.verify_access(token, now) {
        revoke_access(svc, issuer, &claims, now, now_ms).await?;
    }
    Ok(())
}

/// Revokes an access token this issuer signed (by its `jti`, until `exp` + the revocation skew).
async fn revoke_access(
    svc: &Services,
    issuer: &Issuer,
    claims: &Map<String, Value>,
    now: i64,
    now_ms: i64,
) -> Result<(), GrantError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let (Some(sub), Some(jti)) = (text("sub"), text("jti")) else {
        return Ok(());
    };
    if let Some(sid) = text("sid") {
        // The token is ours and names its session: the request counts against that session.
        let wait = svc
            .store
            .charge_rate(
                &session_rate_key(&UserTag::of_sub(sub), sid),
                now_ms,
                issuer.settings.refresh_rate_per_minute,
            )
            .await
            .map_err(svc.failed("rate_limit"))?;
        if let Some(seconds) = wait {
            let facts = EventFacts {
                sub: Some(sub),
                sid: Some(sid),
                detail: Some("session"),
                ..EventFacts::default()
            };
            return Err(rate_limited(svc, facts, now, seconds).await);
        }
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    let skew = i64::try_from(svc.settings.revocation_skew_seconds).unwrap_or(i64::MAX);
    let until = Some(exp.saturating_add(skew));
    super::revoke::revoke_token(svc, sub, jti, until, now).await?;
    tracing::info!(sub = %sub, jti = %jti, "access token revoked by its holder");
    Ok(())
}

/// Records the `rate_limited` security event and gives the error that says when to retry.
async fn rate_limited(
    svc: &Services,
    facts: EventFacts<'_>,
    now: i64,
    retry_after: u64,
) -> GrantError {
    audit::record(svc, SecurityEvent::RateLimited, facts, now).await;
    GrantError::RateLimited(retry_after)
}
