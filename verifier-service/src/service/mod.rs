//! Decisions and orchestration, free of HTTP: what a check answers, what a revocation writes and
//! in which order, how a session starts, refreshes and ends, what the feed serves. Handlers in
//! `http` read a request into plain values, call in here, and turn the result into an answer.

pub mod admin_token;
pub mod audit;
pub mod check;
pub mod error;
pub mod feed;
pub mod identity_providers;
pub mod idp_claims;
pub mod idp_events;
pub mod idp_keys;
pub mod not_before;
pub mod outbox;
pub mod refresh;
pub mod revoke;
pub mod sessions;

pub use error::{internal, ServiceError};

use crate::issuer::Issuer;
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;
use admin_token::AdminToken;
use feed::cache::SnapshotCache;
use idp_keys::IdpKeys;
use not_before::NotBeforeCache;
use outbox::pending::OutboxRelay;
use std::time::Duration;

/// Longest time the global not-before is trusted from memory.
pub const NOT_BEFORE_CACHE_MAX_AGE: Duration = Duration::from_secs(1);

/// Tunables of the check and admin logic (their defaults are in `config`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Revocation entries live until the token's `exp` plus this many seconds.
    pub revocation_skew_seconds: u64,
    /// A check rewrites a session's last-seen time at most this often.
    pub last_seen_interval_seconds: u64,
    /// Session lifetime when `ttl_seconds` is not given.
    pub default_session_ttl_seconds: u64,
    /// Longest session lifetime accepted.
    pub max_session_ttl_seconds: u64,
    /// Where `/v1/ext_authz` reads the claims Envoy's `jwt_authn` forwards (lower case).
    pub ext_authz_payload_header: String,
    /// Where the playground page is served from (`--playground-dir`); `None`: not served.
    pub playground_dir: Option<std::path::PathBuf>,
    /// The bearer token `GET /v1/revocations` requires (`--feed-token-file`); `None`: open.
    pub feed_token: Option<AdminToken>,
    /// Most live sessions a feed snapshot lists (`--feed-max-live`).
    pub feed_max_live: u64,
    /// The identity providers whose tokens carry their own sessions (`--identity-providers`).
    pub identity_providers: identity_providers::IdentityProviders,
}

/// The services and settings every request uses.
pub struct Services {
    pub store: Store,
    pub admin_token: AdminToken,
    pub settings: Settings,
    pub metrics: Metrics,
    pub not_before: NotBeforeCache,
    /// The token issuer, when signing keys are configured (`--signing-key-file`).
    pub issuer: Option<Issuer>,
    /// The last feed snapshot, shared by concurrent snapshot requests.
    pub snapshots: SnapshotCache,
    /// Session ends waiting in outboxes for the feed.
    pub outbox: OutboxRelay,
    /// The identity providers' signing keys (their logout tokens and security events).
    pub idp_keys: IdpKeys,
}

impl Services {
    pub fn new(
        store: Store,
        admin_token: AdminToken,
        settings: Settings,
        issuer: Option<Issuer>,
    ) -> Services {
        let metrics = Metrics::default();
        for provider in settings.identity_providers.all() {
            metrics.prepare_idp_events(
                idp_claims::metric_label_sets()
                    .into_iter()
                    .map(|(event, outcome)| (provider.name.as_str(), event, outcome)),
            );
        }
        Services {
            idp_keys: IdpKeys::new(&settings.identity_providers),
            store,
            admin_token,
            settings,
            metrics,
            not_before: NotBeforeCache::new(NOT_BEFORE_CACHE_MAX_AGE),
            issuer,
            snapshots: Default::default(),
            outbox: Default::default(),
        }
    }

    /// Logs and counts a store failure, and turns it into the service's error.
    pub fn store_failed(&self, what: &str, error: StoreError) -> ServiceError {
        self.metrics.record_redis_error();
        tracing::warn!(operation = what, error = %error, "redis call failed");
        match error {
            StoreError::ReplicationTimeout { .. } | StoreError::NotFsynced { .. } => {
                ServiceError::ReplicationTimeout
            }
            StoreError::Redis(_) | StoreError::Timeout | StoreError::UnexpectedReply(_) => {
                ServiceError::Unavailable
            }
        }
    }

    /// A closure for `map_err` that reports a failed store call named `what`.
    pub fn failed<'a>(&'a self, what: &'a str) -> impl Fn(StoreError) -> ServiceError + 'a {
        move |error| self.store_failed(what, error)
    }
}
