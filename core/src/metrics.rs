//! The filter's counters and gauges, whatever host keeps them: the names, which are defined for a
//! configuration, and which [`Counts`] / [`Gauges`] field bumps which. The wasm plugin and the
//! native module each hand in their host's `define`, `add` and `set`.
//!
//! Every name is `warden.<name>`, or `warden.<stat_prefix>.<name>` when the configuration sets
//! `stat_prefix`. Per-provider metrics are `warden.provider.<provider>.<what>`, the provider name
//! made a single stat segment; deploy/prometheus/prometheus.yaml turns the reason and provider
//! into labels.

use crate::config::KeySource;
use crate::flow::{stat_segment, Counts, Filter, Gauges};
use crate::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// The metrics of one configuration, by the host's id `Id`.
#[derive(Debug, Default)]
pub struct Metrics<Id> {
    allowed: Option<Id>,
    denied: Vec<(Reason, Id)>,
    /// `warden.report_only.<reason>`: what report-only rules would have refused.
    report_only: Vec<(Reason, Id)>,
    verifier_failure: Option<Id>,
    failure_mode_allowed: Option<Id>,
    jwks_fetch_success: Option<Id>,
    jwks_fetch_failure: Option<Id>,
    cache_hit: Option<Id>,
    cache_miss: Option<Id>,
    cors_preflight_bypassed: Option<Id>,
    /// Per provider (configuration order).
    providers: Vec<ProviderMetrics<Id>>,
    stream: Option<StreamMetrics<Id>>,
}

#[derive(Debug)]
struct ProviderMetrics<Id> {
    allowed: Option<Id>,
    denied: Option<Id>,
    /// Remote-JWKS providers only.
    key_set_age_seconds: Option<Id>,
}

#[derive(Debug)]
struct StreamMetrics<Id> {
    snapshots: Option<Id>,
    poll_failures: Option<Id>,
    staleness_ms: Option<Id>,
    max_staleness_ms: Option<Id>,
    trusted: Option<Id>,
}

/// `warden.<name>`, or `warden.<prefix>.<name>`.
pub fn metric_name(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(prefix) => format!("warden.{prefix}.{name}"),
        None => format!("warden.{name}"),
    }
}

impl<Id: Copy> Metrics<Id> {
    /// Defines the metrics `filter`'s configuration uses with the host's `define` (kind, full
    /// name → id; `None` when the host refused).
    pub fn define(filter: &Filter, mut define: impl FnMut(MetricKind, &str) -> Option<Id>) -> Self {
        let prefix = filter.config.stat_prefix.as_deref();
        let mut def = |kind: MetricKind, name: &str| define(kind, &metric_name(prefix, name));
        let providers = filter
            .config
            .providers
            .iter()
            .map(|p| {
                let at = format!("provider.{}", stat_segment(&p.name));
                ProviderMetrics {
                    allowed: def(MetricKind::Counter, &format!("{at}.allowed")),
                    denied: def(MetricKind::Counter, &format!("{at}.denied")),
                    key_set_age_seconds: if matches!(p.keys, KeySource::Remote(_)) {
                        def(MetricKind::Gauge, &format!("{at}.jwks_age_seconds"))
                    } else {
                        None
                    },
                }
            })
            .collect();
        let stream = match filter.revocations {
            Some(_) => Some(StreamMetrics {
                snapshots: def(MetricKind::Counter, "stream.snapshots"),
                poll_failures: def(MetricKind::Counter, "stream.poll_failures"),
                staleness_ms: def(MetricKind::Gauge, "stream.staleness_ms"),
                max_staleness_ms: def(MetricKind::Gauge, "stream.max_staleness_ms"),
                trusted: def(MetricKind::Gauge, "stream.trusted"),
            }),
            None => None,
        };
        let mut by_reason = |what: &str| -> Vec<(Reason, Id)> {
            Reason::ALL
                .into_iter()
                .filter_map(|r| Some((r, def(MetricKind::Counter, &format!("{what}.{r}"))?)))
                .collect()
        };
        let denied = by_reason("denied");
        let report_only = by_reason("report_only");
        Metrics {
            allowed: def(MetricKind::Counter, "allowed"),
            denied,
            report_only,
            verifier_failure: def(MetricKind::Counter, "verifier.failure"),
            failure_mode_allowed: def(MetricKind::Counter, "verifier.failure_mode_allowed"),
            jwks_fetch_success: def(MetricKind::Counter, "jwks.fetch_success"),
            jwks_fetch_failure: def(MetricKind::Counter, "jwks.fetch_failure"),
            cache_hit: def(MetricKind::Counter, "cache.hit"),
            cache_miss: def(MetricKind::Counter, "cache.miss"),
            cors_preflight_bypassed: def(MetricKind::Counter, "cors_preflight_bypassed"),
            providers,
            stream,
        }
    }

    /// Hands each non-zero count of `c` to the host's `add` (counter id, amount).
    pub fn count(&self, c: &Counts, mut add: impl FnMut(Id, u32)) {
        let mut bump = |id: Option<Id>, n: u32| {
            if let (Some(id), 1..) = (id, n) {
                add(id, n);
            }
        };
        bump(self.allowed, c.allowed);
        if let Some(reason) = c.denied {
            bump(find(&self.denied, reason), 1);
        }
        if let Some(p) = c.provider.and_then(|i| self.providers.get(i)) {
            bump(p.allowed, c.allowed);
            bump(p.denied, u32::from(c.denied.is_some()));
        }
        if let Some(reason) = c.report_only {
            bump(find(&self.report_only, reason), 1);
        }
        bump(self.cache_hit, c.cache_hits);
        bump(self.cache_miss, c.cache_misses);
        bump(self.verifier_failure, c.verifier_failures);
        bump(self.failure_mode_allowed, c.failure_mode_allowed);
        bump(self.jwks_fetch_success, c.jwks_fetch_ok);
        bump(self.jwks_fetch_failure, c.jwks_fetch_failed);
        bump(self.cors_preflight_bypassed, c.cors_preflight_bypassed);
        if let Some(s) = &self.stream {
            bump(s.snapshots, c.feed_snapshots);
            bump(s.poll_failures, c.feed_failures);
        }
    }

    /// Hands each gauge of `g` to the host's `set` (gauge id, value).
    pub fn set_gauges(&self, g: &Gauges, mut set: impl FnMut(Id, u64)) {
        let mut put = |id: Option<Id>, value: u64| {
            if let Some(id) = id {
                set(id, value);
            }
        };
        if let (Some(s), Some(v)) = (&self.stream, g.stream) {
            put(s.staleness_ms, v.staleness_ms);
            put(s.max_staleness_ms, v.max_staleness_ms);
            put(s.trusted, u64::from(v.trusted));
        }
        for (idx, age) in &g.key_set_age_seconds {
            if let Some(p) = self.providers.get(*idx) {
                put(p.key_set_age_seconds, *age);
            }
        }
    }
}

fn find<Id: Copy>(ids: &[(Reason, Id)], reason: Reason) -> Option<Id> {
    ids.iter().find(|(r, _)| *r == reason).map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Filter;
    use std::collections::HashMap;

    fn filter(json: &str) -> Filter {
        match Filter::configure(json.as_bytes()) {
            Ok((f, _)) => f,
            Err(e) => unreachable!("{e}"),
        }
    }

    const CONFIG: &str = r#"{"stat_prefix":"edge","providers":{"p":{"issuer":"i","remote_jwks":{"cluster":"idp","path":"/jwks"}}},"rules":[{"match":{"prefix":"/"},"requires":{"provider_name":"p"}}]}"#;

    #[test]
    fn names_take_the_prefix_and_counts_reach_the_host_by_id() {
        let f = filter(CONFIG);
        let mut names = Vec::new();
        let metrics = Metrics::define(&f, |kind, name| {
            names.push((kind, name.to_string()));
            Some(names.len() - 1)
        });
        assert!(names.contains(&(MetricKind::Counter, "warden.edge.allowed".into())));
        assert!(names.contains(&(
            MetricKind::Counter,
            "warden.edge.denied.token_missing".into()
        )));
        assert!(names.contains(&(MetricKind::Counter, "warden.edge.provider.p.denied".into())));
        assert!(names.contains(&(
            MetricKind::Gauge,
            "warden.edge.provider.p.jwks_age_seconds".into()
        )));
        let mut added: HashMap<String, u32> = HashMap::new();
        let counts = Counts {
            denied: Some(Reason::TokenMissing),
            provider: Some(0),
            cache_misses: 2,
            ..Counts::default()
        };
        metrics.count(&counts, |id, n| {
            *added.entry(names[id].1.clone()).or_default() += n;
        });
        assert_eq!(added.get("warden.edge.denied.token_missing"), Some(&1));
        assert_eq!(added.get("warden.edge.provider.p.denied"), Some(&1));
        assert_eq!(added.get("warden.edge.cache.miss"), Some(&2));
        assert_eq!(added.get("warden.edge.allowed"), None);
    }

    #[test]
    fn a_metric_the_host_refused_is_skipped() {
        let f = filter(CONFIG);
        let metrics: Metrics<usize> = Metrics::define(&f, |_, _| None);
        let mut calls = 0;
        metrics.count(
            &Counts {
                allowed: 1,
                ..Counts::default()
            },
            |_, _| calls += 1,
        );
        assert_eq!(calls, 0);
    }
}
