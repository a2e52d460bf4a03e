//! The filter's counters and gauges in the proxy (Envoy shows them as `wasmcustom.<name>`; its
//! `/stats/prometheus` as `<name>` with `.` turned into `_`, e.g. `warden_denied_token_missing`).
//! Names and meaning are core's (`warden_core::metrics`).

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use warden_core::flow::{Counts, Filter, Gauges};
use warden_core::metrics::{MetricKind, Metrics as MetricSet};

pub struct Metrics(MetricSet<u32>);

impl Metrics {
    /// Defines the metrics `filter`'s configuration uses (Envoy keeps a stat once defined, so a
    /// new configuration only adds).
    pub fn define(filter: &Filter) -> Self {
        Metrics(MetricSet::define(filter, |kind, name| {
            let kind = match kind {
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Gauge => MetricType::Gauge,
            };
            hostcalls::define_metric(kind, name).ok()
        }))
    }

    pub fn count(&self, c: &Counts) {
        self.0.count(c, |id, n| {
            let _ = hostcalls::increment_metric(id, i64::from(n));
        });
    }

    pub fn set_gauges(&self, g: &Gauges) {
        self.0.set_gauges(g, |id, value| {
            let _ = hostcalls::record_metric(id, value);
        });
    }
}
