//! Audit events of the token life cycle: each one is a structured log line (target
//! `warden_verifier::audit`), an entry on the capped Redis stream `warden:events`, and a count in
//! `/metrics`. Events name users, sessions and addresses, never a token or refresh token value.

use crate::state::AppState;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    SessionCreated,
    Refreshed,
    ReuseDetected,
    RefreshExpired,
    SessionRevoked,
    UserRevoked,
    AllRevoked,
    RateLimited,
}

impl SecurityEvent {
    pub const ALL: [SecurityEvent; 8] = [
        SecurityEvent::SessionCreated,
        SecurityEvent::Refreshed,
        SecurityEvent::ReuseDetected,
        SecurityEvent::RefreshExpired,
        SecurityEvent::SessionRevoked,
        SecurityEvent::UserRevoked,
        SecurityEvent::AllRevoked,
        SecurityEvent::RateLimited,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SecurityEvent::SessionCreated => "session_created",
            SecurityEvent::Refreshed => "refreshed",
            SecurityEvent::ReuseDetected => "reuse_detected",
            SecurityEvent::RefreshExpired => "refresh_expired",
            SecurityEvent::SessionRevoked => "session_revoked",
            SecurityEvent::UserRevoked => "user_revoked",
            SecurityEvent::AllRevoked => "all_revoked",
            SecurityEvent::RateLimited => "rate_limited",
        }
    }
}

/// What an event is about; every field optional.
#[derive(Debug, Default, Clone)]
pub struct EventFacts<'a> {
    pub sub: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub client: Option<IpAddr>,
    /// A short machine word: the route, the budget, the reason.
    pub detail: Option<&'a str>,
}

/// Logs, counts and streams one event. A stream failure is logged and counted as a Redis error;
/// the action it describes has already happened and stands.
pub async fn record(state: &AppState, event: SecurityEvent, facts: EventFacts<'_>, now: i64) {
    let client = facts.client.map(|c| c.to_string());
    tracing::info!(
        target: "warden_verifier::audit",
        event = event.name(),
        sub = facts.sub,
        sid = facts.sid,
        client = client.as_deref(),
        detail = facts.detail,
        at = now,
        "security event"
    );
    state.0.metrics.record_security_event(event);
    let mut fields = vec![("event", event.name().to_owned()), ("at", now.to_string())];
    let optional = [
        ("sub", facts.sub.map(str::to_owned)),
        ("sid", facts.sid.map(str::to_owned)),
        ("client", client),
        ("detail", facts.detail.map(str::to_owned)),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v))),
    );
    if let Err(error) = state.0.store.append_event(&fields).await {
        state.0.metrics.record_redis_error();
        tracing::warn!(event = event.name(), %error, "audit event not streamed");
    }
}

/// Why a session ended, together with its refresh family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// An already rotated refresh token came back (RFC 9700 §4.14.2).
    ReuseDetected,
    /// The refresh family passed its idle or absolute expiry.
    RefreshExpired,
    /// The session was created at or before the global not-before.
    RevokedAll,
    /// `POST /v1/token/revoke` with one of the family's refresh tokens.
    TokenRevoked,
    /// `DELETE /v1/admin/sessions/{sid}`.
    Deleted,
}

impl SessionEnd {
    /// Ends decided inside a refresh script (their end waits in the user's outbox); a delete
    /// writes its feed entry before the change.
    /// A revoke-all end is announced too (its tokens are also void by the global not-before), so
    /// no filter keeps the session as live.
    fn needs_feed_entry(self) -> bool {
        matches!(
            self,
            SessionEnd::ReuseDetected
                | SessionEnd::RefreshExpired
                | SessionEnd::TokenRevoked
                | SessionEnd::RevokedAll
        )
    }

    fn event(self) -> (SecurityEvent, &'static str) {
        match self {
            SessionEnd::ReuseDetected => (SecurityEvent::ReuseDetected, "refresh_token_reused"),
            SessionEnd::RefreshExpired => (SecurityEvent::RefreshExpired, "refresh_expired"),
            SessionEnd::RevokedAll => (SecurityEvent::SessionRevoked, "revoked_all"),
            SessionEnd::TokenRevoked => (SecurityEvent::SessionRevoked, "token_revoke"),
            SessionEnd::Deleted => (SecurityEvent::SessionRevoked, "admin_delete"),
        }
    }
}

/// Every place that ended one session (the store change is already done) reports here: the one
/// hook for whatever must follow a session's end.
pub async fn session_ended(
    state: &AppState,
    end: SessionEnd,
    sub: Option<&str>,
    sid: &str,
    client: Option<IpAddr>,
    now: i64,
) {
    if end.needs_feed_entry() {
        // The script that ended the session left the end in the user's outbox: relay it.
        crate::outbox::relay_after_end(state, sid).await;
    }
    let (event, detail) = end.event();
    let facts = EventFacts {
        sub,
        sid: Some(sid),
        client,
        detail: Some(detail),
    };
    record(state, event, facts, now).await;
}

/// Announces in the revocation feed that session `sid` exists until `until` (its record's expiry),
/// so stream-mode filters allow its tokens without a call. Call it after the record is stored (or
/// its expiry extended). A failure is only logged: filters that do not know the session ask the
/// verifier about its tokens, which answers exactly.
pub async fn announce_session_start(state: &AppState, sid: &str, until: i64, now: i64) {
    let change = warden_core::protocol::feed::Change::SessionStart {
        sid: sid.to_owned(),
        until,
    };
    if let Err(error) = state.0.store.append_feed(&[change], now).await {
        state.0.metrics.record_redis_error();
        tracing::warn!(sid = %sid, %error,
            "session start not in the revocation feed: stream-mode filters call out for its tokens");
    }
}
