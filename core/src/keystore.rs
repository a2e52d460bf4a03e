//! Key sets of remote-JWKS providers and when to fetch them. Time is milliseconds, passed in.
//! The last good set keeps serving when a refresh fails.

use crate::config::{Config, KeySource, RemoteJwks, RetryPolicy};
use crate::host_crypto::SignatureBackends;
use crate::jwk::{JwksError, KeySet};
use std::fmt;
use std::rc::Rc;

/// Retry delay after a failed fetch (or while no key set has been loaded yet), unless the
/// provider sets `remote_jwks.retry`.
pub const RETRY_MS: u64 = 5_000;
/// At most one fetch triggered by an unknown `kid` per provider in this window.
pub const ON_DEMAND_MIN_INTERVAL_MS: u64 = 10_000;
/// Requests that find a fetch in flight may each send one more fetch of the same document and wait
/// for it (rather than being refused while the keys are on their way), up to this many per round.
pub const MAX_JOINED_FETCHES: u32 = 8;
/// A fetch not answered within its timeout plus this margin is taken as lost: the proxy drops the
/// callback of a call whose request context has gone away (e.g. the client disconnected).
pub const LOST_FETCH_GRACE_MS: u64 = 5_000;

struct Remote {
    keys: Option<KeySet>,
    body_digest: Option<[u8; 32]>,
    next_refresh_ms: u64,
    last_on_demand_ms: Option<u64>,
    /// Set while a fetch is out: until when its answer may still arrive.
    in_flight_until_ms: Option<u64>,
    /// Fetches requests added to the round in flight.
    joined: u32,
    timeout_ms: u64,
    /// Failed fetches since the last success (or since the retries were last spent).
    failures: u32,
    retry: Option<RetryPolicy>,
    fetch_at_start: bool,
    /// When the last fetch that brought a usable key set (new or unchanged) was answered (ms).
    fetched_at_ms: Option<u64>,
}

impl Remote {
    fn new(remote: &RemoteJwks) -> Self {
        Remote {
            keys: None,
            body_digest: None,
            next_refresh_ms: 0,
            last_on_demand_ms: None,
            in_flight_until_ms: None,
            joined: 0,
            timeout_ms: remote.timeout_ms,
            failures: 0,
            retry: remote.retry,
            fetch_at_start: remote.fetch_at_start,
            fetched_at_ms: None,
        }
    }

    fn in_flight(&self, now_ms: u64) -> bool {
        self.in_flight_until_ms.is_some_and(|until| now_ms < until)
    }

    fn start(&mut self, now_ms: u64) {
        self.joined = 0;
        self.in_flight_until_ms = Some(
            now_ms
                .saturating_add(self.timeout_ms)
                .saturating_add(LOST_FETCH_GRACE_MS),
        );
    }
}

pub struct KeyStore {
    remotes: Vec<Option<Remote>>,
    /// Where each algorithm's signatures are checked: found once per VM, shared by every
    /// configuration of it.
    signatures: Rc<SignatureBackends>,
    /// Bumped whenever any key set changes, so cached verifications made with old keys lapse.
    generation: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum FetchResult {
    /// New keys are in use.
    Updated,
    /// The same document as the last successful fetch: keys and cache stay.
    Unchanged,
    /// The fetch or the document failed; the previous keys (if any) keep serving.
    Failed(FetchError),
}

/// Why a JWKS fetch brought no keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The host refused to send the request; its status, as the host names it.
    Dispatch(String),
    /// No answer: timeout, connection failure, or a lost callback.
    NoResponse,
    /// An HTTP status other than 200.
    Status(u32),
    /// A body larger than the limit, in bytes.
    TooLarge(usize),
    /// A body that is not UTF-8.
    NotUtf8,
    /// A body that is not a usable key set.
    Document(JwksError),
    /// The provider has no remote JWKS.
    NotRemote,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Dispatch(status) => {
                write!(f, "dispatch failed ({status}); is the cluster defined?")
            }
            FetchError::NoResponse => f.write_str("no response (timeout or connection failure)"),
            FetchError::Status(code) => write!(f, "HTTP status {code}"),
            FetchError::TooLarge(limit) => write!(f, "JWKS larger than {limit} bytes"),
            FetchError::NotUtf8 => f.write_str("JWKS is not UTF-8"),
            FetchError::Document(e) => write!(f, "{e}"),
            FetchError::NotRemote => f.write_str("not a remote provider"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Document(e) => Some(e),
            _ => None,
        }
    }
}

/// How long after the `failures`-th failed fetch in a row the next is tried; `None` once the
/// retries of `remote_jwks.retry` are spent. Without a policy: `RETRY_MS` (at most the refresh
/// period), for ever. With one, as jwt_authn's `retry_policy` (Envoy's jittered exponential
/// backoff): the n-th retry waits a random time below `base · 2ⁿ⁻¹` ms, capped at
/// `max_interval_ms`; `seed` is the randomness (time-derived, to spread the proxy's VMs apart).
pub fn retry_delay(
    policy: Option<&RetryPolicy>,
    failures: u32,
    refresh_after_ms: u64,
    seed: u64,
) -> Option<u64> {
    let Some(policy) = policy else {
        return Some(RETRY_MS.min(refresh_after_ms));
    };
    if failures == 0 || failures > policy.num_retries {
        return None;
    }
    let doublings = failures.saturating_sub(1).min(63);
    let interval = policy
        .base_interval_ms
        .checked_shl(doublings)
        .filter(|i| i >> doublings == policy.base_interval_ms)
        .unwrap_or(u64::MAX)
        .min(policy.max_interval_ms)
        .max(1);
    Some(mix(seed) % interval)
}

/// SplitMix64's finaliser: spreads a time-derived seed over the whole range.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SHA-256 of a fetched JWKS document: an unchanged document keeps the parsed keys (and the
/// verified-token cache built on them) instead of bumping the generation.
fn document_digest(text: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

impl KeyStore {
    pub fn new(config: &Config) -> Self {
        let remotes = config
            .providers
            .iter()
            .map(|p| match &p.keys {
                KeySource::Remote(remote) => Some(Remote::new(remote)),
                KeySource::Local(_) => None,
            })
            .collect();
        KeyStore {
            remotes,
            signatures: Rc::default(),
            generation: 0,
        }
    }

    /// Checks signatures with `backends` from now on (the VM's, see `host_crypto`).
    pub fn set_signature_backends(&mut self, backends: Rc<SignatureBackends>) {
        self.signatures = backends;
    }

    pub fn signature_backends(&self) -> &SignatureBackends {
        &self.signatures
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The keys provider `idx` verifies with now.
    pub fn keys<'a>(&'a self, config: &'a Config, idx: usize) -> Option<&'a KeySet> {
        match &config.providers.get(idx)?.keys {
            KeySource::Local(set) => Some(set),
            KeySource::Remote(_) => self.remotes.get(idx)?.as_ref()?.keys.as_ref(),
        }
    }

    pub fn is_remote(&self, idx: usize) -> bool {
        matches!(self.remotes.get(idx), Some(Some(_)))
    }

    /// Providers whose scheduled refresh is due; they are marked in flight.
    pub fn take_due(&mut self, now_ms: u64) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, r) in self.remotes.iter_mut().enumerate() {
            if let Some(r) = r {
                if !r.in_flight(now_ms) && now_ms >= r.next_refresh_ms {
                    r.start(now_ms);
                    due.push(i);
                }
            }
        }
        due
    }

    /// Providers with `fetch_at_start`, marked in flight: fetched when the configuration is
    /// applied instead of on the first tick.
    pub fn take_at_start(&mut self, now_ms: u64) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, r) in self.remotes.iter_mut().enumerate() {
            if let Some(r) = r
                .as_mut()
                .filter(|r| r.fetch_at_start && !r.in_flight(now_ms))
            {
                r.start(now_ms);
                due.push(i);
            }
        }
        due
    }

    /// Whether a request may fetch provider `idx`'s keys now (unknown `kid`, or none loaded);
    /// if so the fetch is recorded as started. A new round starts at most once per
    /// `ON_DEMAND_MIN_INTERVAL_MS`; while a round (scheduled or on demand) is in flight, up to
    /// `MAX_JOINED_FETCHES` requests may send their own fetch and wait for it.
    pub fn try_start_on_demand(&mut self, idx: usize, now_ms: u64) -> bool {
        let Some(Some(r)) = self.remotes.get_mut(idx) else {
            return false;
        };
        if r.in_flight(now_ms) {
            if r.joined < MAX_JOINED_FETCHES {
                r.joined += 1;
                return true;
            }
            return false;
        }
        if r.last_on_demand_ms
            .is_some_and(|t| now_ms < t.saturating_add(ON_DEMAND_MIN_INTERVAL_MS))
        {
            return false;
        }
        r.last_on_demand_ms = Some(now_ms);
        r.start(now_ms);
        true
    }

    /// Whether any provider has had no key set yet (the filter then ticks fast).
    pub fn any_missing(&self) -> bool {
        self.remotes.iter().flatten().any(|r| r.keys.is_none())
    }

    /// Remote providers (index) and when each last fetched a usable key set (ms; `None`: never).
    pub fn fetched_at_ms(&self) -> Vec<(usize, Option<u64>)> {
        self.remotes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.as_ref()?.fetched_at_ms)))
            .collect()
    }

    pub fn in_flight(&self, idx: usize, now_ms: u64) -> bool {
        matches!(self.remotes.get(idx), Some(Some(r)) if r.in_flight(now_ms))
    }

    /// Records the outcome of a fetch: `body` is the document on HTTP 200, why there is none
    /// otherwise.
    pub fn finish_fetch(
        &mut self,
        idx: usize,
        body: Result<&[u8], FetchError>,
        refresh_after_ms: u64,
        now_ms: u64,
    ) -> FetchResult {
        let Some(Some(r)) = self.remotes.get_mut(idx) else {
            return FetchResult::Failed(FetchError::NotRemote);
        };
        r.in_flight_until_ms = None;
        let parsed = body.and_then(|bytes| {
            let text = std::str::from_utf8(bytes).map_err(|_| FetchError::NotUtf8)?;
            let digest = document_digest(text);
            if r.body_digest == Some(digest) {
                return Ok(None);
            }
            KeySet::parse_public(text)
                .map(|set| Some((set, digest)))
                .map_err(FetchError::Document)
        });
        match parsed {
            Ok(None) => {
                r.failures = 0;
                r.fetched_at_ms = Some(now_ms);
                r.next_refresh_ms = now_ms.saturating_add(refresh_after_ms);
                FetchResult::Unchanged
            }
            Ok(Some((set, digest))) => {
                r.failures = 0;
                r.keys = Some(set);
                r.body_digest = Some(digest);
                r.fetched_at_ms = Some(now_ms);
                r.next_refresh_ms = now_ms.saturating_add(refresh_after_ms);
                self.generation += 1;
                FetchResult::Updated
            }
            Err(why) => {
                r.failures = r.failures.saturating_add(1);
                let seed = now_ms ^ (idx as u64).rotate_left(32);
                let delay = match retry_delay(r.retry.as_ref(), r.failures, refresh_after_ms, seed)
                {
                    Some(delay) => delay,
                    None => {
                        // The retries are spent: the next round starts with the regular refresh
                        // (or a request that needs the keys).
                        r.failures = 0;
                        refresh_after_ms
                    }
                };
                r.next_refresh_ms = now_ms.saturating_add(delay);
                FetchResult::Failed(why)
            }
        }
    }
}
