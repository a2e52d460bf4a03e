#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! What one signature check costs the native module, per algorithm, through core's
//! `SignatureBackends::verify` as the filter calls it:
//! (a) core's own verifiers (`SignatureBackends::in_wasm`, compiled natively here);
//! (b) `crypto::signature_backends()`: aws-lc-rs through the `HostCrypto` seam for the algorithms
//!     detection gives it, core for the rest (the table says which).
//! Plus `ring` and aws-lc-rs called directly (no core, no protobuf, no DER): the libraries' own
//! cost, and `ring` as the alternative that was measured.
//!
//!     cargo run --profile native -p warden-native --example crypto_bench
//!
//! Writes bench/results/native-crypto.md (and prints it). Each cell is the median of 7 batches of
//! about 40 ms after a warm-up, in µs per verification, one thread.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use warden_core::host_crypto::{Backend, SignatureBackends};
use warden_core::jwk::{Jwk, KeySet};
use warden_core::Algorithm;
use warden_native::crypto::signature_backends;
use warden_testkit::{b64, keys, Keys};

/// µs per call of `f`: the median of 7 batches sized to ~40 ms each.
fn time(mut f: impl FnMut() -> bool) -> f64 {
    assert!(f(), "the benchmarked signature must verify");
    let start = Instant::now();
    let mut calibration = 0u32;
    while start.elapsed() < Duration::from_millis(40) {
        black_box(f());
        calibration += 1;
    }
    let per_batch = calibration.max(1);
    let mut batches: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                black_box(f());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(per_batch)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[3]
}

fn jwk(keys: &Keys, alg: Algorithm) -> Jwk {
    let set = serde_json::json!({ "keys": [keys.jwk(alg)] }).to_string();
    KeySet::parse(&set).unwrap().keys.pop().unwrap()
}

/// The algorithm `ring` would use directly on this key, and the raw public key it takes.
fn ring_alone(alg: Algorithm) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature::*;
    Some(match alg {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &ED25519,
        _ => return None,
    })
}

/// The subjectPublicKey bytes of an SPKI as core builds it (RSAPublicKey, point, or raw key).
fn spki_key(spki: &[u8]) -> Vec<u8> {
    let mut outer = warden_core::der::Reader::new(spki);
    let mut info = outer.sequence().unwrap();
    info.sequence().unwrap();
    info.bit_string_bytes().unwrap().to_vec()
}

/// aws-lc-rs's verifier of `alg` on a raw key.
fn aws_lc_alone(
    alg: Algorithm,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature::*;
    Some(match alg {
        Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
        Algorithm::ES512 => &ECDSA_P521_SHA512_FIXED,
        Algorithm::EdDSA => &ED25519,
        _ => return None,
    })
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "?".to_owned())
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"))
}

fn main() {
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let keys = keys();
    let core = SignatureBackends::in_wasm();
    let native = signature_backends();
    // A typical access token's signing input: the usual header and ~10 claims (~330 bytes).
    let claims = serde_json::json!({
        "iss": "https://issuer.example.com/", "sub": "user-1234567890", "aud": ["api://orders"],
        "iat": 1_765_000_000, "nbf": 1_765_000_000, "exp": 1_765_003_600,
        "jti": "8f14e45f-ceea-467f-a0e6-7c1a3b2f5d11", "scope": "orders:read orders:write",
        "tenant": "acme", "roles": ["reader", "writer"]
    });

    let mut rows = String::new();
    // Every signature algorithm (HMAC has no public key to hand over).
    let algorithms = Algorithm::ALL
        .into_iter()
        .filter(|alg| !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
    for alg in algorithms {
        let key = jwk(keys, alg);
        let header = warden_testkit::sign::header(alg).to_string();
        let input = format!(
            "{}.{}",
            b64(header.as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let input = input.as_bytes();
        let signature = keys.signature(alg, input);

        let a = time(|| core.verify(&key, alg, input, &signature));
        let b = time(|| native.verify(&key, alg, input, &signature));
        let raw_key = spki_key(&key.spki);
        let ring = ring_alone(alg).map(|v| {
            let unparsed = ring::signature::UnparsedPublicKey::new(v, &raw_key);
            time(|| unparsed.verify(input, &signature).is_ok())
        });
        let aws_alone = aws_lc_alone(alg).map(|v| {
            let unparsed = aws_lc_rs::signature::UnparsedPublicKey::new(v, &raw_key);
            time(|| unparsed.verify(input, &signature).is_ok())
        });
        let by = |backend: Backend, lib: &str| match backend {
            Backend::Host => lib.to_owned(),
            Backend::Wasm => "core".to_owned(),
        };
        let line = format!(
            "| {alg} | {a:.1} | {b:.1} ({}) | {} | {} |",
            by(native.backend(alg), "aws-lc"),
            cell(ring),
            cell(aws_alone),
        );
        println!("{line}");
        writeln!(rows, "{line}").unwrap();
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "?".to_owned());
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = |s: &str| s.split_whitespace().next().unwrap_or("?").to_owned();
    let report = format!(
        "# Signature checks in the native module: core's verifiers, ring, aws-lc-rs\n\
         \n\
         `cargo run --profile native -p warden-native --example crypto_bench`\n\
         (native/examples/crypto_bench.rs), run once on {date}.\n\
         Machine: {cpu}, {cores} cores (shared), {rustc}; 1-minute load {load_before} before, {load_after} after.\n\
         \n\
         µs per verification, one thread, median of 7 batches of ~40 ms after a warm-up. The\n\
         signing input is a typical access token's (~{len} bytes); RSA keys are 2048 bits.\n\
         \n\
         - **core**: `SignatureBackends::in_wasm()`, core's own verifiers compiled natively (what\n\
           \x20\x20the native module runs without a host backend).\n\
         - **native**: `crypto::signature_backends()`, as the adapter uses it: aws-lc-rs through the\n\
           \x20\x20`HostCrypto` seam (protobuf arguments, SPKI DER) for the algorithms detection hands it,\n\
           \x20\x20core for the others (in brackets: which ran).\n\
         - **… alone**: the library called directly on the raw key, without core, protobuf or DER\n\
           \x20\x20(`ring`: the alternative measured; it has no P-521).\n\
         \n\
         | alg | core | native | ring alone | aws-lc alone |\n\
         | --- | ---: | ---: | ---: | ---: |\n\
         {rows}",
        date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
        rustc = command("rustc", &["-V"]),
        load_before = load(&load_before),
        load_after = load(&load_after),
        len = format!(
            "{}.{}",
            b64(warden_testkit::sign::header(Algorithm::RS256)
                .to_string()
                .as_bytes()),
            b64(claims.to_string().as_bytes())
        )
        .len(),
    );
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bench/results/native-crypto.md"
    );
    std::fs::write(path, &report).unwrap();
    println!("wrote {path}");
}
