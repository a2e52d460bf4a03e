#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use warden_testkit::{keys, Algorithm as Alg};

const NOW: u64 = 1_800_000_000;

fn config() -> String {
    json!({"providers": {"main": {"issuer": "https://issuer.example", "audiences": ["api.example"],
            "local_jwks": {"inline_string": keys().jwks().to_string()}}},
           "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]})
    .to_string()
}

fn token(exp: u64) -> String {
    keys().sign(
        Alg::ES256,
        &json!({"iss": "https://issuer.example", "aud": "api.example", "sub": "alice",
                "jti": "j", "exp": exp}),
    )
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn compile_reports_the_field_path() {
    let bad = json!({"providers": {"main": {"issuer": 3}}}).to_string();
    let out = parse(&compile(&bad));
    assert_eq!(out["ok"], false);
    assert_eq!(out["error"], "config");
    assert_eq!(out["path"], "providers.main.issuer");
    assert!(out["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid configuration: providers.main.issuer: invalid type"));
    let good = parse(&compile(&config()));
    assert_eq!(good["ok"], true);
    assert_eq!(good["providers"][0]["name"], "main");
}

#[test]
fn explain_round_trips_json_text() {
    let request =
        json!({"path": "/a", "headers": {"authorization": format!("Bearer {}", token(NOW + 60))},
                         "now": NOW})
        .to_string();
    let out = parse(&explain(&config(), &request, 0.0));
    assert_eq!(out["ok"], true);
    assert_eq!(out["status"], 200);
    assert_eq!(out["reason"], "allowed");
    assert_eq!(out["now_iso"], "2027-01-15T08:00:00Z");
}

#[test]
fn the_callers_clock_applies_when_the_request_names_none() {
    let request =
        json!({"path": "/a", "headers": {"authorization": format!("Bearer {}", token(NOW + 60))}})
            .to_string();
    let before = parse(&explain(&config(), &request, (NOW * 1000) as f64));
    assert_eq!(before["reason"], "allowed");
    let after = parse(&explain(&config(), &request, ((NOW + 3600) * 1000) as f64));
    assert_eq!(after["status"], 401);
    assert_eq!(after["reason"], "token_expired");
    assert_eq!(after["failed_at"], "claims");
}

#[test]
fn bad_request_and_bad_config_are_told_apart() {
    let out = parse(&explain(&config(), "{\"path\": 3}", 0.0));
    assert_eq!(
        (out["ok"].clone(), out["error"].clone()),
        (json!(false), json!("request"))
    );
    let out = parse(&explain("{\"rules\": 1}", "{}", 0.0));
    assert_eq!(
        (out["error"].clone(), out["path"].clone()),
        (json!("config"), json!("rules"))
    );
    let out = parse(&explain(&config(), "{\"bogus\": 1}", 0.0));
    assert_eq!(out["error"], "request");
}

#[test]
fn the_pinned_wasm_bindgen_matches_the_lock_file_and_setup() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let entry = format!("name = \"wasm-bindgen\"\nversion = \"{WASM_BINDGEN_VERSION}\"");
    assert!(lock.contains(&entry), "Cargo.lock has another wasm-bindgen");
    let setup = std::fs::read_to_string(root.join("scripts/setup.sh")).unwrap();
    assert!(
        setup.contains(&format!("WASM_BINDGEN_VERSION={WASM_BINDGEN_VERSION}")),
        "scripts/setup.sh installs another wasm-bindgen-cli"
    );
}
