//! The identity providers' signing keys: fetched from the provider's `jwks_uri` (configured, or
//! named by its discovery document), kept per provider, fetched again when stale (`max-age`,
//! bounded to [`MIN_FRESH_SECONDS`, `MAX_FRESH_SECONDS`]) or when a token names a `kid` the set
//! lacks (at most once per [`REFETCH_INTERVAL_SECONDS`]). A failed fetch keeps the last good set.

use super::identity_providers::{IdentityProvider, IdentityProviders, JwksSource};
use crate::outbound::{self, Limits};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use warden_core::jwk::KeySet;

/// Bounds of one fetch (discovery document or key set).
pub const FETCH_LIMITS: Limits = Limits {
    timeout: Duration::from_secs(5),
    max_body_bytes: 256 * 1024,
};
/// Freshness of a key set without `max-age`.
pub const DEFAULT_FRESH_SECONDS: i64 = 300;
pub const MIN_FRESH_SECONDS: i64 = 60;
pub const MAX_FRESH_SECONDS: i64 = 3_600;
/// Least time between two fetches a token caused (an unknown `kid`, a stale or missing set):
/// a flood of tokens with made-up `kid`s costs the provider one fetch per interval.
pub const REFETCH_INTERVAL_SECONDS: i64 = 10;
/// Least time between two fetches while no key set was ever fetched: a provider started after
/// the verifier (its first logout comes right after it starts, and is not retried by every
/// provider) must not wait out [`REFETCH_INTERVAL_SECONDS`].
pub const MISSING_RETRY_SECONDS: i64 = 1;

/// Every provider's keys.
#[derive(Debug, Default)]
pub struct IdpKeys {
    by_name: HashMap<String, Arc<Mutex<Cached>>>,
}

/// One provider's keys. The lock is held across a fetch, so concurrent requests wait for one
/// fetch rather than each starting their own.
#[derive(Debug, Default)]
struct Cached {
    set: Option<Arc<KeySet>>,
    fresh_until: i64,
    /// When the last fetch started (any cause).
    last_fetch: Option<i64>,
    /// When the last fetch for an unknown `kid` started.
    last_kid_fetch: Option<i64>,
}

/// Why a fetch was wanted, for [`should_fetch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A token names a `kid` the set lacks.
    UnknownKid,
    /// The set is used as it is, unless stale or missing.
    Current,
}

/// No key set could be fetched for this provider yet: its tokens can be neither accepted nor
/// refused (the endpoints answer 503, and the provider retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysUnavailable;

/// When the fetches of one provider started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchTimes {
    /// The last fetch (any cause).
    pub any: Option<i64>,
    /// The last fetch for an unknown `kid`.
    pub for_kid: Option<i64>,
}

/// Whether to fetch now: for a `kid` the set lacks when no other such fetch started in the last
/// [`REFETCH_INTERVAL_SECONDS`] (a rotated key is picked up at once, a flood of made-up `kid`s
/// costs the provider one fetch per interval); for a missing or stale set when no fetch at all
/// started in that interval (a provider that is down is not asked on every request).
pub fn should_fetch(
    has_set: bool,
    fresh_until: i64,
    times: FetchTimes,
    need: Need,
    now: i64,
) -> bool {
    let quiet_for =
        |at: Option<i64>, interval: i64| at.is_none_or(|at| now.saturating_sub(at) >= interval);
    (!has_set && quiet_for(times.any, MISSING_RETRY_SECONDS))
        || (has_set && now >= fresh_until && quiet_for(times.any, REFETCH_INTERVAL_SECONDS))
        || (need == Need::UnknownKid && quiet_for(times.for_kid, REFETCH_INTERVAL_SECONDS))
}

/// How long a fetched set stays fresh: its `max-age`, within the bounds.
pub fn freshness(cache_control: Option<&str>) -> i64 {
    cache_control
        .and_then(outbound::max_age)
        .map_or(DEFAULT_FRESH_SECONDS, |age| {
            i64::try_from(age).unwrap_or(i64::MAX)
        })
        .clamp(MIN_FRESH_SECONDS, MAX_FRESH_SECONDS)
}

impl IdpKeys {
    pub fn new(providers: &IdentityProviders) -> IdpKeys {
        IdpKeys {
            by_name: providers
                .all()
                .iter()
                .map(|p| (p.name.clone(), Arc::default()))
                .collect(),
        }
    }

    /// The keys to verify a token of `provider` naming `kid`, fetched first when
    /// [`should_fetch`] says so. A failed fetch keeps the set held.
    pub async fn keys(
        &self,
        provider: &IdentityProvider,
        kid: Option<&str>,
        now: i64,
    ) -> Result<Arc<KeySet>, KeysUnavailable> {
        let entry = self.by_name.get(&provider.name).ok_or(KeysUnavailable)?;
        let mut cached = entry.lock().await;
        let need = match (&cached.set, kid) {
            (Some(set), Some(kid)) if !set.has_kid(kid) => Need::UnknownKid,
            _ => Need::Current,
        };
        let times = FetchTimes {
            any: cached.last_fetch,
            for_kid: cached.last_kid_fetch,
        };
        if should_fetch(cached.set.is_some(), cached.fresh_until, times, need, now) {
            if need == Need::UnknownKid {
                cached.last_kid_fetch = Some(now);
            }
            fetch_into(&mut cached, provider, now).await;
        }
        cached.set.clone().ok_or(KeysUnavailable)
    }

    /// Fetches `provider`'s keys unless a fetch already started (at start, so the first logout
    /// does not wait).
    pub async fn prefetch(&self, provider: &IdentityProvider, now: i64) {
        if let Some(entry) = self.by_name.get(&provider.name) {
            let mut cached = entry.lock().await;
            if cached.last_fetch.is_none() {
                fetch_into(&mut cached, provider, now).await;
            }
        }
    }
}

async fn fetch_into(cached: &mut Cached, provider: &IdentityProvider, now: i64) {
    cached.last_fetch = Some(now);
    match fetch_set(provider).await {
        Ok((set, fresh)) => {
            tracing::info!(provider = %provider.name, keys = set.keys.len(),
                skipped = set.skipped.len(), "identity provider keys fetched");
            cached.set = Some(Arc::new(set));
            cached.fresh_until = now.saturating_add(fresh);
        }
        Err(error) => {
            tracing::warn!(provider = %provider.name, %error, kept = cached.set.is_some(),
                "identity provider keys not fetched");
        }
    }
}

/// The provider's key set and its freshness in seconds.
async fn fetch_set(provider: &IdentityProvider) -> Result<(KeySet, i64), String> {
    let jwks_uri = match &provider.jwks {
        JwksSource::Uri(uri) => uri.clone(),
        JwksSource::Discovery(url) => jwks_uri_of_discovery(url, &provider.issuer).await?,
    };
    let fetched = outbound::get(&jwks_uri, FETCH_LIMITS)
        .await
        .map_err(|e| format!("{jwks_uri}: {e}"))?;
    let text = std::str::from_utf8(&fetched.body)
        .map_err(|_| format!("{jwks_uri}: the key set is not UTF-8"))?;
    // A fetched set is public: symmetric keys in it are refused.
    let set = KeySet::parse_public(text).map_err(|e| format!("{jwks_uri}: {e}"))?;
    Ok((set, freshness(fetched.cache_control.as_deref())))
}

/// The `jwks_uri` of an OpenID Provider discovery document, whose `issuer` must be the
/// provider's exactly (OpenID Connect Discovery 1.0 §4.3).
async fn jwks_uri_of_discovery(url: &str, issuer: &str) -> Result<String, String> {
    let fetched = outbound::get(url, FETCH_LIMITS)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let document: Value = serde_json::from_slice(&fetched.body)
        .map_err(|e| format!("{url}: not a JSON document: {e}"))?;
    jwks_uri_in(&document, issuer).map_err(|e| format!("{url}: {e}"))
}

/// The checks on a discovery document: its `issuer` is the provider's, its `jwks_uri` one keys
/// may be fetched from.
pub fn jwks_uri_in(document: &Value, issuer: &str) -> Result<String, String> {
    if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(format!("`issuer` is not {issuer:?}"));
    }
    let uri = document
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("no `jwks_uri`")?;
    if !outbound::is_fetchable_url(uri) {
        return Err(format!(
            "`jwks_uri` {uri:?} is not https:// (http:// only to a loopback host)"
        ));
    }
    Ok(uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fetches_when_missing_stale_or_kid_unknown_at_most_every_interval() {
        let now = 1_000;
        let never = FetchTimes::default();
        let any = |at: i64| FetchTimes {
            any: Some(at),
            for_kid: None,
        };
        assert!(should_fetch(false, 0, never, Need::Current, now));
        assert!(!should_fetch(true, now + 1, never, Need::Current, now));
        assert!(should_fetch(true, now, any(now - 300), Need::Current, now));
        assert!(!should_fetch(true, now, any(now - 9), Need::Current, now));
        // Never fetched: retried each second, not each interval (a provider started late).
        assert!(!should_fetch(false, 0, any(now), Need::Current, now));
        assert!(should_fetch(false, 0, any(now - 1), Need::Current, now));
        // An unknown kid right after a scheduled fetch: fetched (a rotation shows at once) ...
        assert!(should_fetch(
            true,
            now + 100,
            any(now),
            Need::UnknownKid,
            now
        ));
        // ... but only once per interval.
        let after_kid = |at: i64| FetchTimes {
            any: Some(at),
            for_kid: Some(at),
        };
        assert!(!should_fetch(
            true,
            now + 100,
            after_kid(now - 9),
            Need::UnknownKid,
            now
        ));
        assert!(should_fetch(
            true,
            now + 100,
            after_kid(now - 10),
            Need::UnknownKid,
            now
        ));
    }

    #[test]
    fn freshness_follows_max_age_within_bounds() {
        assert_eq!(freshness(None), DEFAULT_FRESH_SECONDS);
        assert_eq!(freshness(Some("max-age=600")), 600);
        assert_eq!(freshness(Some("max-age=0")), MIN_FRESH_SECONDS);
        assert_eq!(freshness(Some("max-age=999999")), MAX_FRESH_SECONDS);
    }

    #[test]
    fn discovery_must_name_the_issuer_and_a_fetchable_jwks_uri() {
        let iss = "https://idp.example";
        let good = json!({ "issuer": iss, "jwks_uri": "https://idp.example/jwks" });
        assert_eq!(jwks_uri_in(&good, iss).unwrap(), "https://idp.example/jwks");
        let other =
            json!({ "issuer": "https://evil.example", "jwks_uri": "https://idp.example/jwks" });
        assert!(jwks_uri_in(&other, iss).is_err());
        let clear = json!({ "issuer": iss, "jwks_uri": "http://idp.example/jwks" });
        assert!(jwks_uri_in(&clear, iss).is_err());
        assert!(jwks_uri_in(&json!({ "issuer": iss }), iss).is_err());
    }
}
