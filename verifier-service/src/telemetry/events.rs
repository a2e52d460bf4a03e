//! The audit vocabulary: which security events exist, and what one is about. Recording them (a
//! log line, the Redis stream, a count) is `service::audit`.

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
    /// An identity provider's back-channel logout token arrived (accepted or refused).
    IdpLogout,
    /// An identity provider's security event token arrived (accepted, ignored or refused).
    IdpEvent,
}

impl SecurityEvent {
    pub const ALL: [SecurityEvent; 10] = [
        SecurityEvent::SessionCreated,
        SecurityEvent::Refreshed,
        SecurityEvent::ReuseDetected,
        SecurityEvent::RefreshExpired,
        SecurityEvent::SessionRevoked,
        SecurityEvent::UserRevoked,
        SecurityEvent::AllRevoked,
        SecurityEvent::RateLimited,
        SecurityEvent::IdpLogout,
        SecurityEvent::IdpEvent,
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
            SecurityEvent::IdpLogout => "idp_logout",
            SecurityEvent::IdpEvent => "idp_event",
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
