//! The filter's counters (Envoy shows them as `wasmcustom.<name>`).

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use warden_core::Reason;

#[derive(Default)]
pub struct Metrics {
    allowed: Option<u32>,
    denied: Vec<(Reason, u32)>,
    verifier_failure: Option<u32>,
    failure_mode_allowed: Option<u32>,
    jwks_fetch_success: Option<u32>,
    jwks_fetch_failure: Option<u32>,
    cache_hit: Option<u32>,
    cache_miss: Option<u32>,
}

fn counter(name: &str) -> Option<u32> {
    hostcalls::define_metric(MetricType::Counter, name).ok()
}

fn add(id: Option<u32>, n: i64) {
    if let Some(id) = id {
        if n != 0 {
            let _ = hostcalls::increment_metric(id, n);
        }
    }
}

impl Metrics {
    pub fn define() -> Self {
        Metrics {
            allowed: counter("warden.allowed"),
            denied: Reason::ALL
                .into_iter()
                .filter_map(|r| Some((r, counter(&format!("warden.denied.{r}"))?)))
                .collect(),
            verifier_failure: counter("warden.verifier.failure"),
            failure_mode_allowed: counter("warden.verifier.failure_mode_allowed"),
            jwks_fetch_success: counter("warden.jwks.fetch_success"),
            jwks_fetch_failure: counter("warden.jwks.fetch_failure"),
            cache_hit: counter("warden.cache.hit"),
            cache_miss: counter("warden.cache.miss"),
        }
    }

    pub fn allowed(&self) {
        add(self.allowed, 1);
    }

    pub fn denied(&self, reason: Reason) {
        add(
            self.denied
                .iter()
                .find(|(r, _)| *r == reason)
                .map(|(_, id)| *id),
            1,
        );
    }

    pub fn verifier_failure(&self) {
        add(self.verifier_failure, 1);
    }

    pub fn failure_mode_allowed(&self) {
        add(self.failure_mode_allowed, 1);
    }

    pub fn jwks_fetch(&self, ok: bool) {
        add(
            if ok {
                self.jwks_fetch_success
            } else {
                self.jwks_fetch_failure
            },
            1,
        );
    }

    pub fn cache(&self, hits: u32, misses: u32) {
        add(self.cache_hit, i64::from(hits));
        add(self.cache_miss, i64::from(misses));
    }
}
