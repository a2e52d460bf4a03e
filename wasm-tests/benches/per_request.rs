#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Per-request cost of the real filter in wasmtime, per algorithm, with the verified-token cache
//! hit (the same token each time) and missed (a distinct token each time), plus a passthrough
//! baseline and a cached token with a verifier round trip, each also through the same core flow
//! compiled natively (issue 11: the cost of wasm itself). Signatures are checked inside wasm (the
//! host offers no `verify_signature`). Not a test: it measures and writes
//! `bench/results/wasmtime.md`.
//!
//! Run (a few seconds per case; LTO off so wasmtime builds in minutes, not tens of minutes):
//! ```sh
//! cargo build --release --target wasm32-wasip1 -p warden-plugin
//! CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!     cargo bench -p warden-wasm-tests --bench per_request
//! ```
//! `WARDEN_BENCH_SECONDS` sets the time per case (default 1.5), `WARDEN_BENCH_ALGS=HS256,ES256`
//! the algorithms (default all).

#[path = "../tests/scenarios/common.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use common::*;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use warden_core::flow::{Action, Event, Filter, Flow, Now, Reply};
use warden_wasm_tests::{Host, HostOptions, Outcome};

/// The filter on a host without Envoy's `verify_signature` foreign function, so every signature
/// is checked by core's own verifiers inside the wasm VM: the same code the native rows run. (With
/// the function the wasmtime host would check RS*/ES* natively and hide the cost of wasm.)
fn start_bench(config: &Value) -> Host {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            verify_signature: false,
            ..HostOptions::default()
        })
        .expect("start the plugin");
    assert!(host.configure(&config.to_string()).expect("configure"));
    host.set_log_level(warden_wasm_tests::LogLevel::Warn);
    host
}

/// The same requests through core's flow compiled natively (the plugin's header copy included).
struct Native {
    filter: Filter,
    now: Now,
}

impl Native {
    fn new(config: &Value) -> Native {
        let (filter, _) = Filter::configure(config.to_string().as_bytes()).unwrap();
        Native {
            filter,
            now: Now::from_unix_ms(NOW * 1000),
        }
    }

    fn one(&mut self, path: &str, token: Option<&str>) {
        let mut headers = vec![
            (":method".to_string(), "GET".to_string()),
            (":path".to_string(), path.to_string()),
            (":authority".to_string(), "api.example".to_string()),
        ];
        if let Some(token) = token {
            headers.push(("authorization".to_string(), format!("Bearer {token}")));
        }
        let mut flow = Flow::new();
        let mut step = flow.handle(&mut self.filter, self.now, Event::RequestHeaders(headers));
        if let Action::CallVerifier(_) = step.action {
            let reply = Event::VerifierAnswered(Reply::answered(200, br#"{"allow":true}"#));
            step = flow.handle(&mut self.filter, self.now, reply);
        }
        match step.action {
            Action::Forward(edits) => {
                std::hint::black_box(edits);
            }
            other => panic!("request not forwarded natively: {other:?}"),
        }
    }
}

struct Row {
    case: String,
    alg: &'static str,
    requests: u64,
    micros: f64,
    /// µs/request of the same case through core compiled natively.
    native: f64,
}

fn budget() -> Duration {
    let seconds = std::env::var("WARDEN_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(1.5);
    Duration::from_secs_f64(seconds)
}

/// One request through the filter, answering a verifier call when one is made.
fn one(host: &mut Host, path: &str, token: Option<&str>) {
    let request = get(host, path, token, &[]);
    if let Some(call) = host.pending_http_calls().into_iter().next() {
        host.respond_http_call(call.token, 200, &[], br#"{"allow":true}"#)
            .unwrap();
    }
    match host.outcome(request) {
        Outcome::Continue { .. } => {}
        other => panic!("request not forwarded: {other:?}\n{:?}", host.logs()),
    }
    host.finish(request).unwrap();
}

/// Runs requests for the time budget (or until `tokens` run out); µs per request.
fn measure(host: &mut Host, path: &str, tokens: &[String], repeat_first: bool) -> (u64, f64) {
    run_for(tokens, repeat_first, |token| one(host, path, token))
}

/// [`measure`] for the native flow.
fn measure_native(native: &mut Native, path: &str, tokens: &[String], repeat_first: bool) -> f64 {
    run_for(tokens, repeat_first, |token| native.one(path, token)).1
}

fn run_for(tokens: &[String], repeat_first: bool, mut one: impl FnMut(Option<&str>)) -> (u64, f64) {
    let budget = budget();
    let token_at = |i: usize| -> Option<&str> {
        if tokens.is_empty() {
            None
        } else if repeat_first {
            Some(tokens[0].as_str())
        } else {
            Some(tokens[i].as_str())
        }
    };
    // Warm up: for the cached case this also fills the cache; the distinct case warms up on
    // tokens of its own (`WARMUP` extra ones at the end of the list).
    let measured = if repeat_first || tokens.is_empty() {
        for _ in 0..WARMUP {
            one(token_at(0));
        }
        tokens.len()
    } else {
        let split = tokens.len().saturating_sub(WARMUP);
        for token in &tokens[split..] {
            one(Some(token));
        }
        split
    };
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < budget {
        if !repeat_first && !tokens.is_empty() && n >= measured {
            break;
        }
        one(token_at(n));
        n += 1;
    }
    let elapsed = start.elapsed();
    (n as u64, elapsed.as_secs_f64() * 1e6 / n.max(1) as f64)
}

/// Requests run before measuring.
const WARMUP: usize = 50;

/// `count` tokens to measure plus `WARMUP` more, all distinct.
fn distinct_tokens(alg: Alg, count: usize) -> Vec<String> {
    (0..count + WARMUP)
        .map(|i| keys().sign(alg, &claims_with(json!({"jti": format!("bench-{i}")}))))
        .collect()
}

/// `WARDEN_BENCH_ALGS=HS256,ES256` limits the algorithms (default: all).
fn algorithms() -> Vec<Alg> {
    let wanted = std::env::var("WARDEN_BENCH_ALGS").unwrap_or_default();
    Alg::ALL
        .into_iter()
        .filter(|a| wanted.is_empty() || wanted.split(',').any(|w| w == a.name()))
        .collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let load = load_average();
    let verifier_config = config_with(provider(&keys().jwks(), json!({})), Some(verifier("deny")));
    let mut rows = Vec::new();
    let mut host = start_bench(&config());
    let (requests, micros) = measure(&mut host, "/healthz", &[], true);
    let native = measure_native(&mut Native::new(&config()), "/healthz", &[], true);
    rows.push(Row {
        case: "passthrough (rule without token)".into(),
        alg: "-",
        requests,
        micros,
        native,
    });
    eprintln!("passthrough: {micros:.1} µs (native {native:.2} µs)");

    for alg in algorithms() {
        let mut host = start_bench(&config());
        let token = vec![keys().sign(alg, &claims())];
        let (requests, micros) = measure(&mut host, "/api", &token, true);
        assert_eq!(
            host.metric("warden.cache.miss"),
            Some(1),
            "the cached case must hit the cache"
        );
        assert_eq!(host.foreign_calls(), 0, "signatures checked inside wasm");
        let native = measure_native(&mut Native::new(&config()), "/api", &token, true);
        rows.push(Row {
            case: "same token (cache hit)".into(),
            alg: alg.name(),
            requests,
            micros,
            native,
        });
        eprintln!(
            "{} cache hit: {micros:.1} µs (native {native:.2} µs)",
            alg.name()
        );

        // Enough distinct tokens to fill the time budget (signing them is the slow part for RSA).
        let count = match alg {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => 30_000,
            Alg::EdDSA => 6_000,
            Alg::ES256 => 1_000,
            Alg::ES384 => 300,
            Alg::ES512 => 150,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => 1_000,
        };
        let tokens = distinct_tokens(alg, count);
        let mut host = start_bench(&config());
        let (requests, micros) = measure(&mut host, "/api", &tokens, false);
        assert_eq!(
            host.metric("warden.cache.hit"),
            Some(0),
            "the uncached case must never hit the cache"
        );
        let native = measure_native(&mut Native::new(&config()), "/api", &tokens, false);
        rows.push(Row {
            case: "distinct tokens (cache miss)".into(),
            alg: alg.name(),
            requests,
            micros,
            native,
        });
        eprintln!(
            "{} cache miss: {micros:.1} µs (native {native:.2} µs)",
            alg.name()
        );
    }

    let mut host = start_bench(&verifier_config);
    let token = vec![keys().sign(Alg::ES256, &claims())];
    let (requests, micros) = measure(&mut host, "/api", &token, true);
    let native = measure_native(&mut Native::new(&verifier_config), "/api", &token, true);
    rows.push(Row {
        case: "same token + verifier call (answered at once)".into(),
        alg: "ES256",
        requests,
        micros,
        native,
    });
    eprintln!("verifier round trip: {micros:.1} µs (native {native:.2} µs)");

    let report = render(&rows, &load);
    print!("{report}");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/results/wasmtime.md");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, report).unwrap();
    eprintln!("wrote {}", path.display());
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn render(rows: &[Row], load: &str) -> String {
    let baseline = rows.first().map(|r| r.micros).unwrap_or(0.0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# wasmtime benchmark: per-request cost of the Warden filter\n"
    );
    let _ = writeln!(
        out,
        "Measured with `cargo bench -p warden-wasm-tests --bench per_request` ({}), {} cores, \
         wasmtime 48 (Cranelift), one VM on one thread, release `warden_plugin.wasm`, {:.1} s per case. \
         A request is the whole stream as the host drives it: context create, `on_request_headers`, \
         header edits, `on_done`/`on_log`/`on_delete`. `added µs` is µs/request minus the passthrough's. \
         Distinct-token cases stop early when their pre-signed tokens run out. \
         The machine is shared (load average at the start: {}), so expect some noise.\n",
        std::env::consts::ARCH,
        cores,
        budget().as_secs_f64(),
        load
    );
    let _ = writeln!(
        out,
        "These are wasmtime numbers; Envoy runs the filter in V8 (see `envoy.md` for the same cases in Envoy). \
         Use them to compare algorithms and the cache, not as absolute Envoy throughput.\n"
    );
    let _ = writeln!(
        out,
        "`native µs` runs the same requests through `warden-core`'s flow compiled natively (no \
         proxy, no host calls; the header copy included), so `wasm / native` is the cost of wasm \
         itself plus the host round trips. Both check every signature with core's own verifiers: \
         the host here offers no `verify_signature` (Envoy's BoringSSL path is measured in \
         `RESULTS.md`).\n"
    );
    let _ = writeln!(
        out,
        "| case | alg | requests | µs/request | req/s (one thread) | added µs | native µs | wasm / native |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.2} | {:.1} |",
            row.case,
            row.alg,
            row.requests,
            row.micros,
            1e6 / row.micros,
            row.micros - baseline,
            row.native,
            row.micros / row.native.max(1e-3)
        );
    }
    out
}
