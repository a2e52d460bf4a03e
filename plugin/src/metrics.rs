//! The filter's counters (Envoy shows them as `wasmcustom.<name>`): `warden.<name>`, or
//! `warden.<stat_prefix>.<name>` when the configuration sets `stat_prefix`.

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
    cors_preflight_bypassed: Option<u32>,
}

/// `warden.<name>`, or `warden.<prefix>.<name>`.
pub fn metric_name(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(prefix) => format!("warden.{prefix}.{name}"),
        None => format!("warden.{name}"),
    }
}

fn add(id: Option<u32>, n: u32) {
    if let (Some(id), 1..) = (id, n) {
        let _ = hostcalls::increment_metric(id, i64::from(n));
    }
}

impl Metrics {
    pub fn define(prefix: Option<&str>) -> Self {
        let counter = |name: &str| {
            hostcalls::define_metric(MetricType::Counter, &metric_name(prefix, name)).ok()
        };
        Metrics {
            allowed: counter("allowed"),
            denied: Reason::ALL
                .into_iter()
                .filter_map(|r| Some((r, counter(&format!("denied.{r}"))?)))
                .collect(),
            report_only: Reason::ALL
                .into_iter()
                .filter_map(|r| Some((r, counter(&format!("report_only.{r}"))?)))
                .collect(),
            verifier_failure: counter("verifier.failure"),
            failure_mode_allowed: counter("verifier.failure_mode_allowed"),
            jwks_fetch_success: counter("jwks.fetch_success"),
            jwks_fetch_failure: counter("jwks.fetch_failure"),
            cache_hit: counter("cache.hit"),
            cache_miss: counter("cache.miss"),
            cors_preflight_bypassed: counter("cors_preflight_bypassed"),
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
        add(self.cors_preflight_bypassed, c.cors_preflight_bypassed);
    }
}
