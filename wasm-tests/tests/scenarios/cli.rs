//! `warden-wasm-run`, the user-facing binary, run as a process.

use crate::common::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "warden-wasm-run-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(config: &serde_json::Value, args: &[&str]) -> Run {
    let dir = scratch_dir();
    let config_path = dir.join("warden.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_warden-wasm-run"))
        .arg("--config")
        .arg(&config_path)
        .args(["--time", &NOW.to_string()])
        .args(args)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn verifier_config() -> serde_json::Value {
    config_with(provider(&keys().jwks(), json!({})), Some(verifier("deny")))
}

#[test]
fn allow_prints_the_verifier_call_and_forwarded_headers() {
    let auth = format!(
        "authorization: Bearer {}",
        keys().sign(Alg::ES256, &claims())
    );
    let run = run(
        &verifier_config(),
        &[
            "--path",
            "/api",
            "-H",
            &auth,
            "-H",
            "x-jwt-sub: mallory",
            "--verifier-response",
            r#"200:{"allow":true}"#,
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("verifier call:\n  POST /v1/check on cluster warden_verifier"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(r#""sub":"alice","jti":"jti-1""#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("decision: ALLOW"), "{}", run.stdout);
    assert!(
        run.stdout.contains("  x-jwt-sub: alice\n"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("x-jwt-sub: mallory\n  x-jwt"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unanswered_verifier_call_is_shown_and_pending() {
    let auth = format!(
        "authorization: Bearer {}",
        keys().sign(Alg::ES256, &claims())
    );
    let run = run(&verifier_config(), &["--path", "/api", "-H", &auth]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not answered: pass --verifier-response"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("decision: PENDING"), "{}", run.stdout);
}

#[test]
fn a_timeout_or_a_deny_is_answered_by_the_filter() {
    let auth = format!(
        "authorization: Bearer {}",
        keys().sign(Alg::ES256, &claims())
    );
    let timeout = run(
        &verifier_config(),
        &["--path", "/api", "-H", &auth, "--verifier-timeout"],
    );
    assert_eq!(timeout.code, 1, "{}", timeout.stdout);
    assert!(
        timeout.stdout.contains("response: 503"),
        "{}",
        timeout.stdout
    );
    assert!(
        timeout
            .stdout
            .contains("verifier unavailable; request denied (failure_mode deny)"),
        "{}",
        timeout.stdout
    );

    let deny = run(
        &verifier_config(),
        &[
            "--path",
            "/api",
            "-H",
            &auth,
            "--verifier-response",
            r#"200:{"allow":false,"reason":"revoked"}"#,
        ],
    );
    assert_eq!(deny.code, 1, "{}", deny.stdout);
    assert!(
        deny.stdout.contains(r#"error_description="revoked""#),
        "{}",
        deny.stdout
    );
}

#[test]
fn a_bad_token_is_denied_locally() {
    let run = run(
        &config(),
        &["--path", "/api", "-H", "authorization: Bearer a.b.c"],
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("response: 401"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(r#""error_description":"token_malformed""#),
        "{}",
        run.stdout
    );
}

#[test]
fn a_rejected_configuration_names_the_field() {
    let run = run(&json!({"providers": {"main": {"issuer": "x"}}}), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("configuration: REJECTED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("invalid configuration: providers.main:"),
        "{}",
        run.stdout
    );
}

#[test]
fn remote_keys_come_from_the_jwks_file() {
    let dir = scratch_dir();
    let jwks_path = dir.join("jwks.json");
    std::fs::write(
        &jwks_path,
        json!({"keys": [keys().jwk(Alg::EdDSA)]}).to_string(),
    )
    .unwrap();
    let remote = json!({"cluster": "idp", "path": "/jwks", "authority": "idp"});
    let config = config_with(
        provider(
            &json!({}),
            json!({"local_jwks": null, "remote_jwks": remote}),
        ),
        None,
    );
    let auth = format!(
        "authorization: Bearer {}",
        keys().sign(Alg::EdDSA, &claims())
    );
    let run = run(
        &config,
        &[
            "--path",
            "/api",
            "-H",
            &auth,
            "--jwks-file",
            jwks_path.to_str().unwrap(),
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("JWKS call:\n  GET /jwks on cluster idp"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_wasm_names_the_build_command() {
    let run = run(&config(), &["--wasm", "/nonexistent/warden_plugin.wasm"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cargo build --release --target wasm32-wasip1 -p warden-plugin"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_are_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_warden-wasm-run"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unexpected argument '--bogus'"), "{stderr}");
    assert!(stderr.contains("Usage: warden-wasm-run"), "{stderr}");
    // A malformed value names what was expected.
    let output = Command::new(env!("CARGO_BIN_EXE_warden-wasm-run"))
        .args(["--config", "-", "--header", "no-colon"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not 'name: value'"), "{stderr}");
}
