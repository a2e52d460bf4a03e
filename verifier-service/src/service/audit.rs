//! Audit events of the token life cycle: each one is a structured log line (target
//! `warden_verifier::audit`), an entry on the capped Redis stream `warden:events`, and a count in
//! `/metrics`. Events name users, sessions and addresses, never a token or refresh token value.

use super::Services;
use std::net::IpAddr;

pub use crate::telemetry::events::{EventFacts, SecurityEvent};

/// Logs, counts and streams one event. A stream failure is logged and counted as a Redis error;
/// the action it describes has already happened and stands.
pub async fn record(svc: &Services, event: SecurityEvent, facts: EventFacts<'_>, now: i64) {
    record_with(svc, event, facts, Vec::new(), now).await;
}

/// [`record`] with more named fields (an identity provider's event: its provider, issuer, event
/// type and outcome), in the log line and the stream entry.
pub async fn record_with(
    svc: &Services,
    event: SecurityEvent,
    facts: EventFacts<'_>,
    extra: Vec<(&'static str, String)>,
    now: i64,
) {
    let client = facts.client.map(|c| c.to_string());
    let extra_text = (!extra.is_empty()).then(|| {
        extra
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    });
    tracing::info!(
        target: "warden_verifier::audit",
        event = event.name(),
        sub = facts.sub,
        sid = facts.sid,
        client = client.as_deref(),
        detail = facts.detail,
        extra = extra_text.as_deref(),
        at = now,
        "security event"
    );
    svc.metrics.record_security_event(event);
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
    fields.extend(extra);
    if let Err(error) = svc.store.append_event(&fields).await {
        svc.metrics.record_redis_error();
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
    svc: &Services,
    end: SessionEnd,
    sub: Option<&str>,
    sid: &str,
    client: Option<IpAddr>,
    now: i64,
) {
    if end.needs_feed_entry() {
        // The script that ended the session left the end in the user's outbox: relay it.
        super::outbox::relay_after_end(svc, sid).await;
    }
    let (event, detail) = end.event();
    let facts = EventFacts {
        sub,
        sid: Some(sid),
        client,
        detail: Some(detail),
    };
    record(svc, event, facts, now).await;
}

/// Announces in the revocation feed that session `sid` exists until `until` (its record's expiry),
/// so stream-mode filters allow its tokens without a call. Call it after the record is stored (or
/// its expiry extended). A failure is only logged: filters that do not know the session ask the
/// verifier about its tokens, which answers exactly.
pub async fn announce_session_start(svc: &Services, sid: &str, until: i64, now: i64) {
    let change = warden_core::protocol::feed::Change::SessionStart {
        sid: sid.to_owned(),
        until,
    };
    if let Err(error) = svc.store.append_feed(&[change], now).await {
        svc.metrics.record_redis_error();
        tracing::warn!(sid = %sid, %error,
            "session start not in the revocation feed: stream-mode filters call out for its tokens");
    }
}
