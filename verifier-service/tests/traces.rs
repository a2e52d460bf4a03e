//! Traces against a real redis-server: the request span is the child of the `traceparent` the
//! request brought, carries the route, status and decision, and each Redis round trip is its
//! child. The spans go through the same layer `serve` installs, into an in-memory exporter.
//! (The OTLP/HTTP export itself is `e2e/test_traces.py`.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, unix_now, RedisServer, Verifier, ADMIN_TOKEN};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde_json::json;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

/// Keeps every span it is given.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

// One test: the subscriber is the process's (server tasks run on the runtime's threads).
#[test]
fn request_spans_join_the_callers_trace_with_redis_round_trips_as_children() {
    let kept = Kept::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let subscriber =
        tracing_subscriber::registry().with(warden_verifier::telemetry::traces::layer(&provider));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redis = RedisServer::start();
    runtime.block_on(async {
        let v = Verifier::start(&redis.url()).await;
        let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
        let now = unix_now();
        let body = json!({"sub": "alice", "jti": "j1", "iat": now, "exp": now + 600}).to_string();
        let answer = request(
            v.check,
            "POST",
            "/v1/check",
            &[("traceparent", &traceparent), ("tracestate", "rojo=1")],
            body.as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        // An admin action with no trace context of its own, and a revoked token's check.
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let revoke = json!({"sub": "alice", "jti": "j1"}).to_string();
        let answer = request(
            v.admin,
            "POST",
            "/v1/admin/revoke/token",
            &[("authorization", &bearer)],
            revoke.as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let answer = request(v.check, "POST", "/v1/check", &[], body.as_bytes()).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        // Probes are not traced.
        assert_eq!(
            request(v.check, "GET", "/healthz", &[], b"").await.status,
            200
        );
    });
    provider.force_flush().unwrap();
    let spans = kept.0.lock().unwrap().clone();

    let servers: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "POST /v1/check",
            "POST /v1/admin/revoke/token",
            "POST /v1/check"
        ],
        "{spans:#?}"
    );
    let (allowed, admin, denied) = (servers[0], servers[1], servers[2]);
    assert_eq!(
        allowed.span_context.trace_id().to_string(),
        TRACE_ID,
        "the caller's trace"
    );
    assert_eq!(allowed.parent_span_id.to_string(), PARENT_ID);
    assert!(allowed.parent_span_is_remote);
    assert_eq!(
        allowed.span_context.trace_state().header(),
        "rojo=1",
        "tracestate travels with it"
    );
    assert_eq!(attribute(allowed, "http.route"), Some("/v1/check".into()));
    assert_eq!(
        attribute(allowed, "http.response.status_code"),
        Some(Value::I64(200))
    );
    assert_eq!(attribute(allowed, "warden.decision"), Some("allow".into()));
    assert_eq!(attribute(allowed, "warden.reason"), None);
    assert_eq!(allowed.status, Status::Unset);

    assert_ne!(
        admin.span_context.trace_id().to_string(),
        TRACE_ID,
        "a trace of its own"
    );
    assert_eq!(
        attribute(admin, "warden.action"),
        Some("revoke_token".into())
    );
    assert_eq!(attribute(denied, "warden.decision"), Some("deny".into()));
    assert_eq!(attribute(denied, "warden.reason"), Some("revoked".into()));

    for server in [allowed, admin, denied] {
        let children: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.parent_span_id == server.span_context.span_id())
            .collect();
        assert!(!children.is_empty(), "no Redis span under {}", server.name);
        for child in children {
            assert_eq!(child.span_kind, SpanKind::Client);
            assert_eq!(
                child.span_context.trace_id(),
                server.span_context.trace_id()
            );
            assert_eq!(attribute(child, "db.system.name"), Some("redis".into()));
            let operation = attribute(child, "db.operation.name").unwrap().to_string();
            assert_eq!(child.name.as_ref(), operation);
            assert!(
                operation
                    .split(' ')
                    .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_uppercase())),
                "{operation}"
            );
        }
    }
    // Only the API's requests and their round trips: no probe, no span of another crate.
    assert!(spans
        .iter()
        .all(|s| s.span_kind == SpanKind::Client || servers.iter().any(|v| v.name == s.name)));
}
