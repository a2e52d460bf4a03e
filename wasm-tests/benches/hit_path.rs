#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The repeat-token path and the wasm floor, request by request, for profiling: `N` requests of
//! one case through the real `.wasm` on the wasmtime host, or through the same core flow compiled
//! natively. Not a test and not timed: `bench/profile_hit_path.sh` runs it under
//! `valgrind --tool=callgrind`, collecting only inside `measured_wasm` / `measured_native`, so
//! start-up (module compilation, configuration, the warm-up and its cache miss) drops out.
//!
//! ```sh
//! hit_path calls           # host calls per request of each wasm case (one table)
//! hit_path <case> <N>      # run N requests of <case> (after the same warm-up for every N)
//! ```
//! Cases: `floor-wasm`, `hit-wasm`, `stream-hit-wasm`, and the same with `-native`.
//! `floor`: a route that needs no token, no token sent. `hit`: local mode (no verifier), the same
//! ES256 token every time (the verified-token cache answers). `stream-hit`: stream mode with a
//! synchronised revocation view, the same token (no call out).

#[path = "../tests/scenarios/common.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use warden_core::flow::{Action, Event, Filter, Flow, Now, Reply};
use warden_wasm_tests::{Host, Outcome};

const SNAPSHOT: &[u8] = br#"{"kind":"snapshot","seq":5,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;

/// Requests before the measured ones: they fill the cache and warm the allocator.
const WARMUP: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Floor,
    Hit,
    StreamHit,
}

impl Case {
    fn parse(name: &str) -> Option<(Case, bool)> {
        let (case, native) = match name.rsplit_once('-')? {
            (case, "wasm") => (case, false),
            (case, "native") => (case, true),
            _ => return None,
        };
        let case = match case {
            "floor" => Case::Floor,
            "hit" => Case::Hit,
            "stream-hit" => Case::StreamHit,
            _ => return None,
        };
        Some((case, native))
    }

    fn name(self) -> &'static str {
        match self {
            Case::Floor => "floor (open route, no token)",
            Case::Hit => "local hit (same token, no verifier)",
            Case::StreamHit => "stream-mode hit (view answers)",
        }
    }

    fn config(self) -> Value {
        match self {
            Case::Floor | Case::Hit => config(),
            Case::StreamHit => {
                let mut v = verifier("deny");
                v["mode"] = json!("stream");
                v["stream"] = json!({"path": "/v1/revocations", "max_staleness_ms": 60_000,
                                     "max_entries": 1000});
                config_with(provider(&keys().jwks(), json!({})), Some(v))
            }
        }
    }

    fn path(self) -> &'static str {
        match self {
            Case::Floor => "/healthz",
            Case::Hit | Case::StreamHit => "/api",
        }
    }

    fn token(self) -> Option<String> {
        match self {
            Case::Floor => None,
            // Without `sid`: the view would refuse the scenarios' default sid it never saw.
            Case::Hit | Case::StreamHit => {
                Some(keys().sign(Alg::ES256, &claims_with(json!({"sid": null}))))
            }
        }
    }

    /// The request's headers, as a client like wrk or curl sends them.
    fn headers(self) -> Vec<(String, String)> {
        let mut headers = vec![
            (":method".to_string(), "GET".to_string()),
            (":path".into(), self.path().into()),
            (":authority".into(), "api.example".into()),
            (":scheme".into(), "http".into()),
            ("user-agent".into(), "curl/8.5.0".into()),
            ("accept".into(), "*/*".into()),
        ];
        if let Some(token) = self.token() {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        headers
    }
}

/// One request through the wasm filter; it must be forwarded without any call out.
fn wasm_request(host: &mut Host, headers: &[(String, String)]) {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = host.request(&pairs).unwrap();
    match host.outcome(request) {
        Outcome::Continue { .. } => {}
        other => panic!("request not forwarded: {other:?}\n{:?}", host.logs()),
    }
    host.finish(request).unwrap();
}

/// The measured requests: callgrind collects only inside these two (`--toggle-collect`).
#[inline(never)]
fn measured_wasm(host: &mut Host, headers: &[(String, String)]) {
    wasm_request(host, headers);
}

#[inline(never)]
fn measured_native(filter: &mut Filter, now: Now, headers: &[(String, String)]) {
    native_request(filter, now, headers);
}

fn wasm_host(case: Case) -> Host {
    let mut host = start(&case.config());
    host.set_log_level(warden_wasm_tests::LogLevel::Warn);
    if case == Case::StreamHit {
        host.advance(Duration::from_millis(100)).unwrap();
        let poll = host
            .pending_http_calls()
            .into_iter()
            .find(|c| c.path().is_some_and(|p| p.starts_with("/v1/revocations")))
            .expect("the first poll");
        host.respond_http_call(poll.token, 200, &[], SNAPSHOT)
            .unwrap();
    }
    host
}

fn run_wasm(case: Case, n: usize) {
    let headers = case.headers();
    let mut host = wasm_host(case);
    for _ in 0..WARMUP {
        wasm_request(&mut host, &headers);
    }
    for _ in 0..n {
        measured_wasm(&mut host, &headers);
    }
    assert!(
        host.pending_http_calls()
            .iter()
            .all(|c| c.path() != Some("/v1/check")),
        "no check call may be made"
    );
}

fn native_filter(case: Case) -> (Filter, Now) {
    let now = Now::from_unix_ms(NOW * 1000);
    let (mut filter, _) = Filter::configure(case.config().to_string().as_bytes()).unwrap();
    if case == Case::StreamHit {
        filter.revocations_answered(&Reply::answered(200, SNAPSHOT), now, now);
    }
    (filter, now)
}

/// One request through the core flow compiled natively, headers copied in as the plugin does.
fn native_request(filter: &mut Filter, now: Now, headers: &[(String, String)]) {
    let step = Flow::new().handle(filter, now, Event::RequestHeaders(headers.to_vec()));
    match step.action {
        Action::Forward(edits) => {
            std::hint::black_box(edits);
        }
        other => panic!("request not forwarded: {other:?}"),
    }
    std::hint::black_box(step.report);
}

fn run_native(case: Case, n: usize) {
    let headers = case.headers();
    let (mut filter, now) = native_filter(case);
    for _ in 0..WARMUP {
        native_request(&mut filter, now, &headers);
    }
    for _ in 0..n {
        measured_native(&mut filter, now, &headers);
    }
}

/// Host calls per request of each wasm case, by function.
fn calls() {
    const N: u64 = 100;
    println!("| case | host call | calls/request |");
    println!("| --- | --- | ---: |");
    for case in [Case::Floor, Case::Hit, Case::StreamHit] {
        let headers = case.headers();
        let mut host = wasm_host(case);
        for _ in 0..WARMUP {
            wasm_request(&mut host, &headers);
        }
        let before = host.host_calls();
        for _ in 0..N {
            wasm_request(&mut host, &headers);
        }
        let after = host.host_calls();
        let mut per: BTreeMap<&str, u64> = BTreeMap::new();
        for (name, count) in &after {
            let d = count - before.get(name).copied().unwrap_or(0);
            if d > 0 {
                per.insert(name, d);
            }
        }
        let total: u64 = per.values().sum();
        for (name, count) in &per {
            println!(
                "| {} | `{name}` | {:.2} |",
                case.name(),
                *count as f64 / N as f64
            );
        }
        println!(
            "| {} | **total** | **{:.2}** |",
            case.name(),
            total as f64 / N as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list" || a == "--bench") && args.len() == 1 {
        return;
    }
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--bench")
        .collect();
    match args.as_slice() {
        ["calls"] => calls(),
        [case, n] => {
            let (case, native) =
                Case::parse(case).expect("a case: floor|hit|stream-hit, -wasm|-native");
            let n: usize = n.parse().expect("a request count");
            if native {
                run_native(case, n);
            } else {
                run_wasm(case, n);
            }
        }
        _ => eprintln!("usage: hit_path calls | hit_path <case>-<wasm|native> <N>"),
    }
}
