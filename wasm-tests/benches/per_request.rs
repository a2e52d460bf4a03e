#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Per-request cost of the real filter in wasmtime, per algorithm, with the verified-token cache
//! hit (the same token each time) and missed (a distinct token each time), plus a passthrough
//! baseline and a cached token with a verifier round trip. Not a test: it measures and writes
//! `bench/results/wasmtime.md`.
//!
//! Run (a few seconds per case; LTO off so wasmtime builds in minutes, not tens of minutes):
//! ```sh
//! cargo build --release --target wasm32-wasip1 -p warden-plugin
//! CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16 \
//!     cargo bench -p warden-wasm-tests --bench per_request
//! ```
//! `WARDEN_BENCH_SECONDS` sets the time per case (default 1.5).

#[path = "../tests/scenarios/common.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use common::*;
use serde_json::json;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use warden_wasm_tests::{Host, Outcome};

struct Row {
    case: String,
    alg: &'static str,
    requests: u64,
    micros: f64,
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
    let budget = budget();
    let token_at = |tokens: &[String], i: usize| -> Option<String> {
        if tokens.is_empty() {
            None
        } else if repeat_first {
            Some(tokens[0].clone())
        } else {
            Some(tokens[i].clone())
        }
    };
    // Warm up: for the cached case this also fills the cache; the distinct case warms up on
    // tokens of its own (`WARMUP` extra ones at the end of the list).
    let tokens = if repeat_first || tokens.is_empty() {
        for _ in 0..WARMUP {
            one(host, path, token_at(tokens, 0).as_deref());
        }
        tokens
    } else {
        let (measured, warmup) = tokens.split_at(tokens.len().saturating_sub(WARMUP));
        for token in warmup {
            one(host, path, Some(token));
        }
        measured
    };
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < budget {
        if !repeat_first && !tokens.is_empty() && n >= tokens.len() {
            break;
        }
        one(host, path, token_at(tokens, n).as_deref());
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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let load = load_average();
    let verifier_config = config_with(provider(&keys().jwks(), json!({})), Some(verifier("deny")));
    let mut rows = Vec::new();
    let mut host = start(&config());
    host.set_log_level(warden_wasm_tests::LogLevel::Warn);
    let (requests, micros) = measure(&mut host, "/healthz", &[], true);
    rows.push(Row {
        case: "passthrough (rule without token)".into(),
        alg: "-",
        requests,
        micros,
    });
    eprintln!("passthrough: {micros:.1} µs");

    for alg in Alg::ALL {
        let mut host = start(&config());
        host.set_log_level(warden_wasm_tests::LogLevel::Warn);
        let token = vec![keys().sign(alg, &claims())];
        let (requests, micros) = measure(&mut host, "/api", &token, true);
        assert_eq!(
            host.metric("warden.cache.miss"),
            Some(1),
            "the cached case must hit the cache"
        );
        rows.push(Row {
            case: "same token (cache hit)".into(),
            alg: alg.name(),
            requests,
            micros,
        });
        eprintln!("{} cache hit: {micros:.1} µs", alg.name());

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
        let mut host = start(&config());
        host.set_log_level(warden_wasm_tests::LogLevel::Warn);
        let (requests, micros) = measure(&mut host, "/api", &tokens, false);
        assert_eq!(
            host.metric("warden.cache.hit"),
            Some(0),
            "the uncached case must never hit the cache"
        );
        rows.push(Row {
            case: "distinct tokens (cache miss)".into(),
            alg: alg.name(),
            requests,
            micros,
        });
        eprintln!("{} cache miss: {micros:.1} µs", alg.name());
    }

    let mut host = start(&verifier_config);
    host.set_log_level(warden_wasm_tests::LogLevel::Warn);
    let token = vec![keys().sign(Alg::ES256, &claims())];
    let (requests, micros) = measure(&mut host, "/api", &token, true);
    rows.push(Row {
        case: "same token + verifier call (answered at once)".into(),
        alg: "ES256",
        requests,
        micros,
    });
    eprintln!("verifier round trip: {micros:.1} µs");

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
        "| case | alg | requests | µs/request | req/s (one thread) | added µs |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: | ---: |");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.0} | {:.1} |",
            row.case,
            row.alg,
            row.requests,
            row.micros,
            1e6 / row.micros,
            row.micros - baseline
        );
    }
    out
}
