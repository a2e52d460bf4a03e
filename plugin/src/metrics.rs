//! The filter's counters (Envoy shows them as `wasmcustom.<name>`).

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use warden_core::flow::Counts;
use warden_core::Reason;

#[derive(Default)]
pub struct Metrics {
    allowed: Option<u32>,
    denied: Vec<(Reason, u32)>,
    /// `warden.report_only.<reason>`: what report-only rules would have refused.
    report_only: Vec<(Reason, u32)>,
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

fn add(id: Option<u32>, n: u32) {
    if let (Some(id), 1..) = (id, n) {
        let _ = hostcalls::increment_metric(id, i64::from(n));
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
            report_only: Reason::ALL
                .into_iter()
                .filter_map(|r| Some((r, counter(&format!("warden.report_only.{r}"))?)))
                .collect(),
            verifier_failure: counter("warden.verifier.failure"),
            failure_mode_allowed: counter("warden.verifier.failure_mode_allowed"),
            jwks_fetch_success: counter("warden.jwks.fetch_success"),
            jwks_fetch_failure: counter("warden.jwks.fetch_failure"),
            cache_hit: counter("warden.cache.hit"),
            cache_miss: counter("warden.cache.miss"),
        }
    }

    pub fn count(&self, c: &Counts) {
        add(self.allowed, c.allowed);
        if let Some(reason) = c.denied {
            let id = self
                .denied
                .iter()
                .find(|(r, _)| *r == reason)
                .map(|(_, id)| *id);
            add(id, 1);
        }
        if let Some(reason) = c.report_only {
            let id = self
                .report_only
                .iter()
                .find(|(r, _)| *r == reason)
                .map(|(_, id)| *id);
            add(id, 1);
        }
        add(self.cache_hit, c.cache_hits);
        add(self.cache_miss, c.cache_misses);
        add(self.verifier_failure, c.verifier_failures);
        add(self.failure_mode_allowed, c.failure_mode_allowed);
        add(self.jwks_fetch_success, c.jwks_fetch_ok);
        add(self.jwks_fetch_failure, c.jwks_fetch_failed);
    }
}
