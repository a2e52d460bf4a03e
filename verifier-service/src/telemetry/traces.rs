//! Traces: the W3C trace context a request brings (`traceparent`, `tracestate`) becomes the
//! parent of the verifier's span for it, and spans go out over OTLP/HTTP (protobuf) — only with
//! `--otlp-endpoint`. Without it no span is even created (no layer wants them).
//!
//! Spans come from this crate and the store (targets `warden_verifier…`, `warden_store…`): one
//! per request (route, status, decision) and one per Redis round trip under it. Log events stay
//! out of traces, and spans stay out of the logs.
//!
//! A span never waits on the export: it ends into a bounded queue that a background thread
//! (the SDK's batch processor) sends in batches; a full queue drops spans. A failed export is
//! logged at most once per [`EXPORT_ERROR_LOG_INTERVAL`], with the count of the others.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::HttpClient;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Metadata;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{filter_fn, FilterFn};
use tracing_subscriber::Layer;

/// `--otlp-service-name` when not given.
pub const DEFAULT_SERVICE_NAME: &str = "warden-verifier";

/// Bound on one export (connect, send, answer).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most one log line about failed exports per this interval.
pub const EXPORT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The OTLP/HTTP traces URL for `--otlp-endpoint`: the collector's base URL (as
/// `OTEL_EXPORTER_OTLP_ENDPOINT`) with `/v1/traces` appended, or a URL already ending in
/// `/v1/traces` taken as it is.
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    let lower = endpoint.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("http://") {
        "http://".len()
    } else if lower.starts_with("https://") {
        "https://".len()
    } else {
        return Err(format!(
            "--otlp-endpoint {endpoint:?}: not an http:// or https:// URL (e.g. http://otel-collector:4318)"
        ));
    };
    let rest = endpoint.get(scheme_len..).unwrap_or_default();
    if rest.is_empty() || rest.starts_with('/') || endpoint.contains(['?', '#', ' ']) {
        return Err(format!(
            "--otlp-endpoint {endpoint:?}: give the collector's base URL, e.g. http://otel-collector:4318 (no query)"
        ));
    }
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        Ok(base.to_owned())
    } else {
        Ok(format!("{base}/v1/traces"))
    }
}

/// The tracer provider exporting to `url` (from [`traces_url`]) through `client`, spans
/// labelled with `service_name`. The sampler is the SDK's: parent-based, always on for a root
/// (`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` change it, `OTEL_BSP_*` the batching).
pub fn tracer_provider(
    url: &str,
    service_name: &str,
    client: Arc<dyn HttpClient>,
) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .with_shared_http_client(client)
        .build()
        .map_err(|e| format!("--otlp-endpoint: {e}"))?;
    let exporter = Logged {
        inner: exporter,
        failures: Mutex::new(Throttle::new(EXPORT_ERROR_LOG_INTERVAL)),
    };
    Ok(SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

/// Whether a callsite's spans are exported: spans of this crate and of the store, nothing else
/// (no events, no dependency's spans: the exporter's own HTTP client stays untraced).
pub fn exported(meta: &Metadata<'_>) -> bool {
    meta.is_span()
        && (meta.target().starts_with("warden_verifier")
            || meta.target().starts_with("warden_store"))
}

/// The layer that turns those spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter: FilterFn<fn(&Metadata<'_>) -> bool> = filter_fn(exported);
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(DEFAULT_SERVICE_NAME))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_level(false)
        .with_filter(filter)
}

/// The span of one request to `route` (the route's pattern, e.g. `/v1/admin/sessions/{sid}`),
/// a child of the trace context the request brought (`traceparent`, and `tracestate` with it);
/// without a valid one it starts a trace. Its status and decision are recorded later
/// ([`record_status`], [`record_decision`]).
pub fn request_span(
    method: &str,
    route: &str,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        warden.decision = tracing::field::Empty,
        warden.reason = tracing::field::Empty,
        warden.action = tracing::field::Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(traceparent) = traceparent {
        let carrier = Carrier {
            traceparent,
            tracestate,
        };
        let parent = TraceContextPropagator::new().extract(&carrier);
        // Fails only when no layer takes the span, which `is_disabled` ruled out.
        let _ = span.set_parent(parent);
    }
    span
}

/// The answer's status on the request's span (5xx marks the span failed, as server spans do).
pub fn record_status(span: &tracing::Span, status: u16) {
    // As i64: OpenTelemetry has no unsigned attribute (a u64 would arrive as a string).
    span.record("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}

/// What the request decided, on the current span (the request's): `decision` is the metrics'
/// `outcome` (`allow`, `deny`, `invalid`, `unavailable`), `reason` the deny reason.
pub fn record_decision(decision: &str, reason: Option<&str>) {
    let span = tracing::Span::current();
    span.record("warden.decision", decision);
    if let Some(reason) = reason {
        span.record("warden.reason", reason);
    }
}

/// The admin action a request carried out, on the current span (the request's).
pub fn record_action(action: &str) {
    tracing::Span::current().record("warden.action", action);
}

/// The two headers a request's trace context is read from.
struct Carrier<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec!["traceparent"];
        if self.tracestate.is_some() {
            keys.push("tracestate");
        }
        keys
    }
}

/// At most one report per interval; counts what it held back in between.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            last: None,
            held_back: 0,
        }
    }

    /// One more failure at `now`: `Some(n)` when it is to be reported, `n` being the failures
    /// held back since the last report.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            self.last = Some(now);
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back = self.held_back.saturating_add(1);
            None
        }
    }
}

/// An exporter whose failures are logged, throttled (the SDK's own reports are compiled out).
#[derive(Debug)]
struct Logged<E> {
    inner: E,
    failures: Mutex<Throttle>,
}

impl<E: SpanExporter> SpanExporter for Logged<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        if let Err(error) = &result {
            let due = self
                .failures
                .lock()
                .ok()
                .and_then(|mut throttle| throttle.note(Instant::now()));
            if let Some(held_back) = due {
                tracing::warn!(
                    %error,
                    spans,
                    failed_exports_not_logged = held_back,
                    "spans not exported (OTLP); requests are not affected"
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_collectors_base_url() {
        assert_eq!(
            traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://collector:4318/").unwrap(),
            "https://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/otlp").unwrap(),
            "http://collector:4318/otlp/v1/traces"
        );
        assert_eq!(
            traces_url("http://127.0.0.1:4318/v1/traces").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        for bad in [
            "collector:4318",
            "grpc://c:4317",
            "http://",
            "http:///x",
            "http://c?x=1",
        ] {
            let error = traces_url(bad).unwrap_err();
            assert!(error.starts_with("--otlp-endpoint"), "{bad}: {error}");
        }
    }

    #[test]
    fn failures_are_reported_once_per_interval_with_the_count_held_back() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(60));
        assert_eq!(throttle.note(start), Some(0));
        assert_eq!(throttle.note(start + Duration::from_secs(1)), None);
        assert_eq!(throttle.note(start + Duration::from_secs(59)), None);
        assert_eq!(throttle.note(start + Duration::from_secs(60)), Some(2));
        assert_eq!(throttle.note(start + Duration::from_secs(61)), None);
        assert_eq!(throttle.note(start + Duration::from_secs(200)), Some(1));
    }

    /// An exporter whose collector is down.
    #[derive(Debug)]
    struct Down;

    impl SpanExporter for Down {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                "connect: connection refused".into(),
            ))
        }
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Lines {
        type Writer = Lines;
        fn make_writer(&'w self) -> Lines {
            self.clone()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failed_exports_are_logged_at_most_once_per_interval() {
        use tracing_subscriber::layer::SubscriberExt;
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(super::super::logging::log_layer::<
            tracing_subscriber::Registry,
            _,
        >(
            super::super::logging::LogFormat::Json,
            lines.clone(),
            tracing_subscriber::EnvFilter::new("info"),
            false,
        ));
        let _guard = tracing::subscriber::set_default(subscriber);
        let exporter = Logged {
            inner: Down,
            failures: Mutex::new(Throttle::new(EXPORT_ERROR_LOG_INTERVAL)),
        };
        for _ in 0..3 {
            assert!(exporter.export(Vec::new()).await.is_err());
        }
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let logged: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(logged.len(), 1, "{text}");
        assert_eq!(logged[0]["level"], "WARN");
        let fields = &logged[0]["fields"];
        assert_eq!(
            fields["message"],
            "spans not exported (OTLP); requests are not affected"
        );
        assert!(fields["error"]
            .as_str()
            .unwrap()
            .contains("connection refused"));
        assert_eq!(fields["failed_exports_not_logged"], 0);
    }

    #[test]
    fn only_our_spans_are_exported() {
        use tracing::callsite::Identifier;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, kind: Kind| {
            Metadata::new(
                "x",
                target,
                tracing::Level::INFO,
                None,
                None,
                None,
                tracing::field::FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        assert!(exported(&meta(
            "warden_verifier::telemetry::traces",
            Kind::SPAN
        )));
        assert!(exported(&meta("warden_store::connection", Kind::SPAN)));
        assert!(!exported(&meta("warden_verifier::audit", Kind::EVENT)));
        assert!(!exported(&meta("hyper::client", Kind::SPAN)));
    }
}
