//! Every default of the verifier's settings, once: the flags and the settings' `Default`s
//! both use these.

/// `--revocation-skew-seconds`.
pub const DEFAULT_REVOCATION_SKEW_SECONDS: u64 = 300;
/// `--last-seen-interval-seconds`.
pub const DEFAULT_LAST_SEEN_INTERVAL_SECONDS: u64 = 5;
/// `--session-ttl-seconds`: a day.
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 86_400;
/// `--max-session-ttl-seconds`: 30 days.
pub const DEFAULT_MAX_SESSION_TTL_SECONDS: u64 = 30 * 86_400;
/// `--ext-authz-payload-header`: where Envoy's `jwt_authn` forwards the payload by convention.
pub const DEFAULT_EXT_AUTHZ_PAYLOAD_HEADER: &str = "x-jwt-payload";
/// `--feed-max-live`: the filter's default `max_entries`.
pub const DEFAULT_FEED_MAX_LIVE: u64 = 100_000;
/// `--access-ttl-seconds`: 15 minutes.
pub const DEFAULT_ACCESS_TTL_SECONDS: u64 = 900;
/// `--refresh-idle-ttl-seconds`: 14 days.
pub const DEFAULT_REFRESH_IDLE_TTL_SECONDS: u64 = 14 * 86_400;
/// `--refresh-retry-grace-seconds`.
pub const DEFAULT_REFRESH_RETRY_GRACE_SECONDS: u64 = 10;
/// `--refresh-retry-max-uses`: no bound.
pub const DEFAULT_REFRESH_RETRY_MAX_USES: u64 = 0;
/// `--refresh-rate-per-minute`.
pub const DEFAULT_REFRESH_RATE_PER_MINUTE: u32 = 30;
/// An identity provider's longest access-token lifetime when its entry does not say
/// (`max_token_lifetime_seconds`): a revoked session of it is kept this long plus the skew.
pub const DEFAULT_IDP_MAX_TOKEN_LIFETIME_SECONDS: u64 = 86_400;
