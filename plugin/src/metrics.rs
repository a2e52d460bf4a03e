//! The filter's counters and gauges (Envoy shows them as `wasmcustom.<name>`; its
//! `/stats/prometheus` as `<name>` with `.` turned into `_`, e.g. `warden_denied_token_missing`).
//! Every name is `warden.<name>`, or `warden.<stat_prefix>.<name>` when the configuration sets
//! `stat_prefix`. Per-provider metrics are `warden.provider.<provider>.<what>`, the provider name
//! made a single stat segment; deploy/prometheus/prometheus.yaml turns the reason and provider
//! into labels.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use warden_core::config::KeySource;
use warden_core::flow::{stat_segment, Counts, Filter, Gauges};
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
    /// Per provider (configuration order).
    providers: Vec<ProviderMetrics>,
    stream: Option<StreamMetrics>,
}

#[derive(Default)]
struct ProviderMetrics {
    allowed: Option<u32>,
    denied: Option<u32>,
    /// Remote-JWKS providers only.
    key_set_age_seconds: Option<u32>,
}

struct StreamMetrics {
    snapshots: Option<u32>,
    poll_failures: Option<u32>,
    staleness_ms: Option<u32>,
    max_staleness_ms: Option<u32>,
    trusted: Option<u32>,
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

fn set(id: Option<u32>, value: u64) {
    if let Some(id) = id {
        let _ = hostcalls::record_metric(id, value);
    }
}

impl Metrics {
    /// Defines the metrics `filter`'s configuration uses (Envoy keeps a stat once defined, so a
    /// new configuration only adds).
    pub fn define(filter: &Filter) -> Self {
        let prefix = filter.config.stat_prefix.as_deref();
        let define = |kind: MetricType, name: &str| {
            hostcalls::define_metric(kind, &metric_name(prefix, name)).ok()
        };
        let counter = |name: &str| define(MetricType::Counter, name);
        let gauge = |name: &str| define(MetricType::Gauge, name);
        let providers = filter
            .config
            .providers
            .iter()
            .map(|p| {
                let at = format!("provider.{}", stat_segment(&p.name));
                ProviderMetrics {
                    allowed: counter(&format!("{at}.allowed")),
                    denied: counter(&format!("{at}.denied")),
                    key_set_age_seconds: matches!(p.keys, KeySource::Remote(_))
                        .then(|| gauge(&format!("{at}.jwks_age_seconds")))
                        .flatten(),
                }
            })
            .collect();
        let stream = filter.revocations.as_ref().map(|_| StreamMetrics {
            snapshots: counter("stream.snapshots"),
            poll_failures: counter("stream.poll_failures"),
            staleness_ms: gauge("stream.staleness_ms"),
            max_staleness_ms: gauge("stream.max_staleness_ms"),
            trusted: gauge("stream.trusted"),
        });
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
            providers,
            stream,
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
        if let Some(p) = c.provider.and_then(|i| self.providers.get(i)) {
            add(p.allowed, c.allowed);
            add(p.denied, u32::from(c.denied.is_some()));
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
        if let Some(s) = &self.stream {
            add(s.snapshots, c.feed_snapshots);
            add(s.poll_failures, c.feed_failures);
        }
    }

    pub fn set_gauges(&self, g: &Gauges) {
        if let (Some(s), Some(v)) = (&self.stream, g.stream) {
            set(s.staleness_ms, v.staleness_ms);
            set(s.max_staleness_ms, v.max_staleness_ms);
            set(s.trusted, u64::from(v.trusted));
        }
        for (idx, age) in &g.key_set_age_seconds {
            if let Some(p) = self.providers.get(*idx) {
                set(p.key_set_age_seconds, *age);
            }
        }
    }
}
