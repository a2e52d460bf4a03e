//! What every handler shares.

use crate::admin_token::AdminToken;
use crate::error::ApiError;
use crate::issuer::Issuer;
use crate::metrics::Metrics;
use crate::not_before::NotBeforeCache;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest time the global not-before is trusted from memory.
pub const NOT_BEFORE_CACHE_MAX_AGE: Duration = Duration::from_secs(1);

/// Tunables of the check and admin logic.
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            revocation_skew_seconds: 300,
            last_seen_interval_seconds: 5,
            default_session_ttl_seconds: 86_400,
            max_session_ttl_seconds: 30 * 86_400,
            ext_authz_payload_header: crate::ext_authz::DEFAULT_PAYLOAD_HEADER.to_string(),
            playground_dir: None,
            feed_token: None,
            feed_max_live: crate::revocations::DEFAULT_FEED_MAX_LIVE,
        }
    }
}

/// The services and settings every handler uses, behind the [`AppState`] handle.
pub struct Services {
    pub store: Store,
    pub admin_token: AdminToken,
    pub settings: Settings,
    pub metrics: Metrics,
    pub not_before: NotBeforeCache,
    /// The token issuer, when signing keys are configured (`--signing-key-file`).
    pub issuer: Option<Issuer>,
    /// The last revocation-feed snapshot, shared by concurrent snapshot requests.
    pub snapshots: crate::revocations::SnapshotCache,
    /// Session ends waiting in outboxes for the revocation feed.
    pub outbox: crate::outbox::OutboxRelay,
}

/// The handlers' state: a cheap, clonable handle to the one [`Services`].
#[derive(Clone)]
pub struct AppState(pub Arc<Services>);

impl AppState {
    pub fn new(store: Store, admin_token: AdminToken, settings: Settings) -> AppState {
        AppState::with_issuer(store, admin_token, settings, None)
    }

    /// The state with a token issuer (sessions then hand out access and refresh tokens).
    pub fn with_issuer(
        store: Store,
        admin_token: AdminToken,
        settings: Settings,
        issuer: Option<Issuer>,
    ) -> AppState {
        AppState(Arc::new(Services {
            store,
            admin_token,
            settings,
            metrics: Metrics::default(),
            not_before: NotBeforeCache::new(NOT_BEFORE_CACHE_MAX_AGE),
            issuer,
            snapshots: Default::default(),
            outbox: Default::default(),
        }))
    }

    /// Logs and counts a store failure, and turns it into the answer the client gets.
    pub fn store_failed(&self, what: &str, error: StoreError) -> ApiError {
        self.0.metrics.record_redis_error();
        tracing::warn!(operation = what, error = %error, "redis call failed");
        match error {
            StoreError::ReplicationTimeout { .. } | StoreError::NotFsynced { .. } => {
                ApiError::ReplicationTimeout
            }
            StoreError::Redis(_) | StoreError::Timeout | StoreError::UnexpectedReply(_) => {
                ApiError::Unavailable
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> Result<i64, ApiError> {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ApiError::Internal)?;
    i64::try_from(elapsed.as_millis()).map_err(|_| ApiError::Internal)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> Result<i64, ApiError> {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ApiError::Internal)?;
    i64::try_from(elapsed.as_secs()).map_err(|_| ApiError::Internal)
}
