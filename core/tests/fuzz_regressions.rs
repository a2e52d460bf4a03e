#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Replays the fuzz corpora on stable Rust: every seed in `fuzz/corpus/<target>/` and every
//! crasher kept in `fuzz/regressions/<target>/` goes through the same code the libFuzzer target
//! runs (`fuzz/src/checks`, included here by path), whose oracles panic on a wrong verdict.
//! `verifier_bodies` replays its core half here; its verifier half needs the verifier crate.

#[allow(dead_code)]
#[path = "../../fuzz/src/checks/mod.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `run` on every seed and regression input of `target`; the seed corpus must not be empty.
fn replay(target: &str, run: fn(&[u8])) {
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(
        corpus.len() >= 10,
        "fuzz/corpus/{target} holds {} seeds",
        corpus.len()
    );
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    let failed: Vec<String> = corpus
        .iter()
        .chain(&regressions)
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| run(&data)).is_err()
        })
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(failed.is_empty(), "{target}: these inputs fail: {failed:?}");
}

#[test]
fn token_verify() {
    replay("token_verify", checks::token::run);
}

#[test]
fn jwks_parse() {
    replay("jwks_parse", checks::jwks::run);
}

#[test]
fn der_keys() {
    replay("der_keys", checks::der::run);
}

#[test]
fn config_compile() {
    replay("config_compile", checks::config::run);
}

#[test]
fn request_auth() {
    replay("request_auth", checks::request::run);
}

/// `request_auth` with the strict upstream-view oracles (`fuzz/src/checks/upstream.rs`): the seeds
/// `one-area-confusion-*`, `cookie-loose-name`, `second-source` and `spoofed-claim-header` are
/// the hardening review's path-confusion, cookie, second-source and underscore-header findings.
#[test]
fn request_auth_strict() {
    replay("request_auth", checks::request::run_strict);
}

#[test]
fn route_metadata() {
    replay("route_metadata", checks::route::run);
}

#[test]
fn verifier_bodies() {
    replay("verifier_bodies", checks::bodies::run);
}

#[test]
fn diff_rsa() {
    replay("diff_rsa", checks::diff_rsa::run);
}

#[test]
fn diff_ecdsa() {
    replay("diff_ecdsa", checks::diff_ecdsa::run);
}

#[test]
fn host_crypto_args() {
    replay("host_crypto_args", checks::host_crypto::run);
}

/// Stream mode's view fed by a model feed with rollbacks (reused numbers, new ids), trims, total
/// loss, late and corrupted answers: a trusted view never allows what the feed has long held as
/// revoked.
#[test]
fn feed_view() {
    replay("feed_view", checks::feed_view::run);
}

/// The seeds hold what they are meant to: valid tokens of every algorithm verify.
#[test]
fn seeds_include_valid_tokens() {
    use warden_core::token;
    let req = checks::token::requirements(3);
    for alg in warden_core::Algorithm::ALL {
        let t = checks::seeds::good_token(alg);
        assert!(
            token::verify(&t, &req, checks::keys::keyset(), checks::keys::NOW).is_ok(),
            "{alg}"
        );
    }
}

/// Regenerates `fuzz/corpus/*` from `checks::seeds` (run with `--ignored` after changing it).
#[test]
#[ignore]
fn write_seed_corpora() {
    for (target, seeds) in checks::seeds::all() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
    }
}
