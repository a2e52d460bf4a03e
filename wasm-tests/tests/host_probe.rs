#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The host's own tests, against a tiny probe filter (`fixtures/probe-filter`) that exercises
//! each group of host calls. The probe is built on first use into the workspace target dir.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use warden_wasm_tests::{Host, HostOptions, LogLevel, MetricKind, Outcome, Plugin, SharedData};

fn probe() -> &'static Plugin {
    static PROBE: OnceLock<Plugin> = OnceLock::new();
    PROBE.get_or_init(|| {
        let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir.join("../target"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip1",
                "--manifest-path",
            ])
            .arg(manifest_dir.join("fixtures/probe-filter/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .status()
            .expect("run cargo to build the probe filter");
        assert!(
            status.success(),
            "building fixtures/probe-filter failed (is `rustup target add wasm32-wasip1` done?)"
        );
        Plugin::load(target_dir.join("wasm32-wasip1/release/probe_filter.wasm"))
            .expect("load the probe filter")
    })
}

fn host() -> Host {
    let mut host = probe().instantiate().expect("start the probe");
    assert!(host.configure("{}").expect("configure"));
    host
}

#[test]
fn every_sdk_import_is_linked_by_the_host() {
    let imports = probe().imports();
    assert!(
        imports
            .iter()
            .filter(|i| i.starts_with("env::proxy_"))
            .count()
            >= 20,
        "{imports:?}"
    );
    assert!(
        probe().stubbed_imports().is_empty(),
        "{:?}",
        probe().stubbed_imports()
    );
    let host = host();
    assert!(
        host.notes().is_empty(),
        "unexpected host notes: {:?}",
        host.notes()
    );
}

#[test]
fn vm_configuration_reaches_on_vm_start_and_bad_config_is_rejected() {
    let options = HostOptions {
        vm_configuration: b"vm-cfg".to_vec(),
        ..HostOptions::default()
    };
    let mut host = probe().instantiate_with(options).unwrap();
    assert!(
        host.has_log(LogLevel::Info, "vm config: vm-cfg"),
        "{:?}",
        host.logs()
    );
    assert!(!host.configure("reject").unwrap());
    assert!(host.has_log(LogLevel::Error, "invalid configuration: reject"));
    assert!(host.configure("ok").unwrap());
}

#[test]
fn log_level_filters_lines() {
    let options = HostOptions {
        vm_configuration: b"x".to_vec(),
        log_level: LogLevel::Warn,
        ..HostOptions::default()
    };
    let mut host = probe().instantiate_with(options).unwrap();
    assert!(host.logs().is_empty(), "{:?}", host.logs());
    assert!(!host.configure("reject").unwrap());
    assert_eq!(host.logs().len(), 1);
}

#[test]
fn continue_forwards_edited_headers() {
    let mut host = host();
    let req = host
        .request(&[
            (":method", "GET"),
            (":path", "/edit"),
            ("X-Replace", "old"),
            ("x-replace", "old2"),
            ("x-remove", "1"),
        ])
        .unwrap();
    let Outcome::Continue { headers } = host.outcome(req) else {
        panic!("{:?}", host.outcome(req))
    };
    assert_eq!(headers.get_all("x-added"), vec!["1", "2"]);
    assert_eq!(headers.get_all("x-replace"), vec!["new"]);
    assert!(!headers.contains("x-remove"));
    assert_eq!(headers.get("x-eos"), Some("true"));
    // :method, :path, x-replace, x-eos, x-context, x-added x2 were there when the probe counted.
    assert_eq!(headers.get("x-count"), Some("7"));
    let response = host.respond(req, &[(":status", "200")]).unwrap();
    assert_eq!(
        response.forwarded_headers().and_then(|h| h.get("x-resp")),
        Some("probe")
    );
    host.finish(req).unwrap();
    assert_eq!(host.outcome(req), Outcome::Unknown);
    assert_eq!(host.open_requests(), 0);
}

#[test]
fn local_response_is_captured() {
    let mut host = host();
    let req = host
        .request(&[(":method", "GET"), (":path", "/local")])
        .unwrap();
    let response = host
        .outcome(req)
        .local_response()
        .cloned()
        .expect("local response");
    assert_eq!(response.status, 403);
    assert_eq!(response.header("x-a"), Some("b"));
    assert_eq!(response.body_str(), "nope");
}

#[test]
fn http_call_answered_resumes_the_request() {
    let mut host = host();
    let req = host
        .request(&[
            (":method", "GET"),
            (":path", "/call"),
            ("authorization", "Bearer t"),
        ])
        .unwrap();
    assert!(host.outcome(req).is_paused());
    let call = host.pending_http_call_to("upstream").expect("call made");
    assert_eq!(call.method(), Some("POST"));
    assert_eq!(call.path(), Some("/check"));
    assert_eq!(call.authority(), Some("up"));
    assert_eq!(call.headers.get("x-auth"), Some("Bearer t"));
    assert_eq!(call.body_str(), "ping");
    assert_eq!(call.timeout, Duration::from_millis(200));
    assert_eq!(call.context_id, req.context_id());
    host.respond_http_call(call.token, 201, &[("x-y", "z")], b"pong")
        .unwrap();
    let headers = host
        .outcome(req)
        .forwarded_headers()
        .cloned()
        .expect("continued");
    assert_eq!(headers.get("x-call-status"), Some("201"));
    assert_eq!(headers.get("x-call-body"), Some("pong"));
    assert!(host.pending_http_calls().is_empty());
    assert!(
        host.respond_http_call(call.token, 200, &[], b"").is_err(),
        "a token answers once"
    );
}

#[test]
fn failed_and_timed_out_calls_reach_the_filter_with_no_headers() {
    let mut host = host();
    let req = host
        .request(&[(":method", "GET"), (":path", "/call")])
        .unwrap();
    let token = host.pending_http_calls()[0].token;
    host.fail_http_call(token).unwrap();
    assert_eq!(
        host.outcome(req).local_response().map(|r| r.status),
        Some(503)
    );

    let req = host
        .request(&[(":method", "GET"), (":path", "/call")])
        .unwrap();
    host.advance(Duration::from_millis(199)).unwrap();
    assert!(host.outcome(req).is_paused());
    host.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(
        host.outcome(req).local_response().map(|r| r.status),
        Some(503)
    );
}

#[test]
fn unknown_cluster_makes_dispatch_fail() {
    let mut host = host();
    host.set_cluster_unknown("upstream", true);
    let req = host
        .request(&[(":method", "GET"), (":path", "/call")])
        .unwrap();
    let response = host
        .outcome(req)
        .local_response()
        .cloned()
        .expect("answered");
    assert_eq!(response.status, 500);
    assert!(
        response.body_str().contains("BadArgument"),
        "{}",
        response.body_str()
    );
    assert!(!host.notes().is_empty());
}

#[test]
fn finishing_a_request_cancels_its_calls() {
    let mut host = host();
    let req = host
        .request(&[(":method", "GET"), (":path", "/call")])
        .unwrap();
    assert_eq!(host.pending_http_calls().len(), 1);
    host.finish(req).unwrap();
    assert!(host.pending_http_calls().is_empty());
}

#[test]
fn shared_data_compare_and_swap() {
    let shared = SharedData::new();
    let options = HostOptions {
        shared_data: shared.clone(),
        ..HostOptions::default()
    };
    let mut host = probe().instantiate_with(options).unwrap();
    assert!(host.configure("{}").unwrap());
    let req = host
        .request(&[(":method", "GET"), (":path", "/cas")])
        .unwrap();
    let headers = host.outcome(req).forwarded_headers().cloned().unwrap();
    assert_eq!(headers.get("x-cas"), Some("Err(CasMismatch) v2"));
    assert_eq!(shared.get("k").map(|(v, _)| v), Some(b"v2".to_vec()));
}

#[test]
fn clock_is_settable_for_the_abi_and_for_wasi() {
    let mut host = host();
    host.set_unix_time(1_700_000_000);
    let req = host
        .request(&[(":method", "GET"), (":path", "/time")])
        .unwrap();
    let headers = host.outcome(req).forwarded_headers().cloned().unwrap();
    assert_eq!(headers.get("x-host-time"), Some("1700000000"));
    assert_eq!(headers.get("x-wasi-time"), Some("1700000000"));
}

#[test]
fn metrics_define_increment_record_get() {
    let mut host = host();
    for _ in 0..3 {
        host.request(&[(":method", "GET"), (":path", "/")]).unwrap();
    }
    let req = host
        .request(&[(":method", "GET"), (":path", "/metric")])
        .unwrap();
    assert_eq!(
        host.outcome(req)
            .forwarded_headers()
            .and_then(|h| h.get("x-metric")),
        Some("Some(Ok(4))")
    );
    assert_eq!(host.metric("probe.requests"), Some(4));
    assert_eq!(host.metric("probe.gauge"), Some(42));
    assert_eq!(host.histogram("probe.histogram"), Some(vec![7, 7, 7, 7]));
    assert_eq!(host.metric("nope"), None);
    let kinds: Vec<MetricKind> = host.metrics().iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        vec![
            MetricKind::Counter,
            MetricKind::Gauge,
            MetricKind::Histogram,
            MetricKind::Counter
        ]
    );
}

#[test]
fn properties_are_readable() {
    let mut host = host();
    host.set_property(&["probe", "prop"], "hello");
    let req = host.request(&[(":method", "GET"), (":path", "/")]).unwrap();
    assert_eq!(
        host.outcome(req)
            .forwarded_headers()
            .and_then(|h| h.get("x-prop")),
        Some("hello")
    );
}

#[test]
fn ticks_follow_the_period_and_root_calls_work() {
    let mut host = host();
    assert_eq!(host.tick_period(), Some(Duration::from_secs(1)));
    host.advance(Duration::from_millis(999)).unwrap();
    assert_eq!(host.metric("probe.ticks"), Some(0));
    host.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(host.metric("probe.ticks"), Some(1));
    let call = host.pending_http_call_to("idp").expect("root call");
    assert_eq!(call.context_id, host.root_context_id());
    host.respond_http_call(call.token, 200, &[], b"{\"keys\":[]}")
        .unwrap();
    assert!(
        host.has_log(
            LogLevel::Info,
            "root call done: headers=1 status=200 body={\"keys\":[]}"
        ),
        "{:?}",
        host.logs()
    );
    // Third tick switches to 5 s.
    host.advance(Duration::from_secs(2)).unwrap();
    assert_eq!(host.metric("probe.ticks"), Some(3));
    assert_eq!(host.tick_period(), Some(Duration::from_secs(5)));
    host.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(host.metric("probe.ticks"), Some(5));
    host.tick().unwrap();
    assert_eq!(host.metric("probe.ticks"), Some(6));
}

#[test]
fn request_body_is_delivered_and_rewritable() {
    let mut host = host();
    let req = host
        .request_with_body(&[(":method", "POST"), (":path", "/")], b"hello")
        .unwrap();
    let headers = host.outcome(req).forwarded_headers().cloned().unwrap();
    assert_eq!(headers.get("x-eos"), Some("false"));
    assert_eq!(headers.get("x-body"), Some("hello:true"));
}

#[test]
fn reset_is_reported() {
    let mut host = host();
    let req = host
        .request(&[(":method", "GET"), (":path", "/reset")])
        .unwrap();
    assert_eq!(host.outcome(req), Outcome::Reset);
}

#[test]
fn a_trap_kills_the_vm_and_is_reported() {
    let mut host = host();
    let error = host
        .request(&[(":method", "GET"), (":path", "/panic")])
        .unwrap_err();
    assert!(
        error.to_string().contains("proxy_on_request_headers"),
        "{error}"
    );
    assert!(host.is_crashed());
    assert!(
        host.stderr().contains("about to panic"),
        "{}",
        host.stderr()
    );
    assert!(matches!(
        host.request(&[(":path", "/")]),
        Err(warden_wasm_tests::HostError::Crashed)
    ));
}

#[test]
fn missing_wasm_names_the_build_command() {
    let error = Host::load("/nonexistent/warden_plugin.wasm")
        .err()
        .expect("missing");
    let message = error.to_string();
    assert!(
        message.contains("cargo build --release --target wasm32-wasip1 -p warden-plugin"),
        "{message}"
    );
}

#[test]
fn hosts_are_independent() {
    let mut a = host();
    let mut b = host();
    a.set_unix_time(10);
    b.set_unix_time(20);
    a.request(&[(":path", "/")]).unwrap();
    assert_eq!(a.metric("probe.requests"), Some(1));
    assert_eq!(b.metric("probe.requests"), Some(0));
    assert_eq!(a.unix_time(), 10);
    assert_eq!(b.unix_time(), 20);
}

#[test]
fn a_runaway_callback_traps_after_the_time_limit() {
    let options = HostOptions {
        callback_time_limit: Some(Duration::from_millis(200)),
        ..HostOptions::default()
    };
    let mut host = probe().instantiate_with(options).unwrap();
    assert!(host.configure("{}").unwrap());
    let started = std::time::Instant::now();
    let error = host
        .request(&[(":method", "GET"), (":path", "/spin")])
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        error
            .to_string()
            .contains("ran longer than the callback time limit of 200ms"),
        "{error}"
    );
    assert!(host.is_crashed());
}
