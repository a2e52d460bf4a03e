//! The configuration the filter runs: validated, with defaults filled in.

use super::requirement::Requirement;
use crate::jwk::KeySet;
use crate::token::Requirements;
use serde::Deserialize;
use std::fmt;

/// How revocation is checked: a `POST` per request, or a local view fed by the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierMode {
    Callout,
    Stream,
}

/// `verifier.stream`: where the revocation feed is polled and how far the view is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub path: String,
    /// The view is trusted only this long after the feed last confirmed it.
    pub max_staleness_ms: u64,
    /// Past this many entries the view is not trusted (callouts instead).
    pub max_entries: usize,
    /// Sent as `Authorization: Bearer …` with every poll (the verifier's `--feed-token-file`).
    pub feed_token: Option<BearerToken>,
}

/// Shortest feed token accepted, as the verifier requires for its token files.
pub const MIN_FEED_TOKEN_BYTES: usize = 16;

/// A bearer token the filter sends: kept as the whole header value, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken {
    header_value: String,
}

impl BearerToken {
    /// `value` must be printable ASCII without spaces, at least [`MIN_FEED_TOKEN_BYTES`] long.
    pub fn new(value: &str) -> Result<BearerToken, String> {
        if value.len() < MIN_FEED_TOKEN_BYTES {
            return Err(format!(
                "must be at least {MIN_FEED_TOKEN_BYTES} characters"
            ));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(BearerToken {
            header_value: format!("Bearer {value}"),
        })
    }

    /// `Bearer <token>`.
    pub fn header_value(&self) -> &str {
        &self.header_value
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    Deny,
    Allow,
}

#[derive(Debug)]
pub struct Config {
    pub providers: Vec<Provider>,
    pub rules: Vec<Rule>,
    pub verifier: Option<VerifierConfig>,
    /// Every header any provider sets from claims: stripped from every incoming request.
    pub claim_header_names: Vec<String>,
    /// Named requirements (`requirements`), selected by a rule's `requirement_name` (copied
    /// into the rule) or by a route's metadata.
    pub requirements: Vec<NamedRequirement>,
    /// Used when no path rule matched, as jwt_authn's `filter_state_rules`.
    pub filter_state_rules: Option<FilterStateRules>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRequirement {
    pub name: String,
    pub requires: Requirement,
}

/// `filter_state_rules`: the value another filter stored under filter state `name` picks one of
/// `requires`; a value not listed (or no value) leaves the request unprotected, as in jwt_authn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterStateRules {
    pub name: String,
    pub requires: Vec<(String, Requirement)>,
}

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub requirements: Requirements,
    pub keys: KeySource,
    pub sources: Vec<TokenSource>,
    pub forward: bool,
    pub claim_to_headers: Vec<ClaimToHeader>,
    /// Whether the verifier check refuses a token without `jti` (`claim_missing`). `false` for
    /// identity providers whose access tokens carry none: such a token is checked without one
    /// and can be revoked only through its user, its session or a revoke-all.
    pub require_jti: bool,
    /// `false`: a decision this provider's token failed is report-only (forwarded, recorded).
    pub enforce: bool,
}

#[derive(Debug)]
pub enum KeySource {
    Local(KeySet),
    Remote(RemoteJwks),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub cluster: String,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub cache_duration_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Header name (lower case) and a prefix compared case-insensitively, e.g. `Bearer `.
    Header {
        name: String,
        prefix: String,
    },
    Param(String),
    Cookie(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToHeader {
    pub header_name: String,
    pub claim_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matcher: PathMatch,
    /// `None`: no token needed.
    pub requires: Option<Requirement>,
    /// `false`: report-only (the decision is recorded, the request forwarded).
    pub enforce: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub failure_mode: FailureMode,
    pub mode: VerifierMode,
    /// Used in stream mode only (defaults otherwise).
    pub stream: StreamConfig,
}
