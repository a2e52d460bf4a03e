//! Shared helpers for the scenarios: the compiled plugin (once per test binary), the test kit's
//! keys and signing, configurations and assertions.

use serde_json::{json, Value};
use std::sync::OnceLock;
use warden_wasm_tests::{HeaderMap, Host, HostOptions, LocalResponse, Outcome, Plugin, RequestId};

/// The clock every scenario starts at (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
pub const ISSUER: &str = "https://issuer.example";
pub const AUDIENCE: &str = "api.example";

/// The real plugin, compiled once per test binary. Fails with the build command when missing.
pub fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| match Plugin::load_default() {
        Ok(plugin) => {
            warn_if_stale(plugin.path());
            plugin
        }
        Err(error) => panic!("{error}"),
    })
}

/// Says so when `plugin/` or `core/` sources are newer than the `.wasm` under test.
fn warn_if_stale(wasm: &std::path::Path) {
    fn newest(dir: &std::path::Path) -> Option<std::time::SystemTime> {
        let mut latest = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let time = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok()?.modified().ok()
            };
            latest = latest.max(time);
        }
        latest
    }
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["plugin/src", "core/src"] {
        if newest(&root.join(dir)).is_some_and(|t| t > built) {
            // Straight to stderr: the test harness captures `eprintln!`.
            let warning = format!(
                "warning: {dir} changed after {} was built; rebuild it with \
                 `cargo build --release --target wasm32-wasip1 -p warden-plugin`\n",
                wasm.display()
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), warning.as_bytes());
        }
    }
}

/// A fresh VM at [`NOW`], configured with `config` (which must be accepted).
pub fn start(config: &Value) -> Host {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            ..HostOptions::default()
        })
        .expect("start the plugin");
    let accepted = host.configure(&config.to_string()).expect("configure");
    assert!(accepted, "configuration rejected: {:?}", host.logs());
    host
}

pub fn at(unix: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix)
}

/// The algorithms are core's; keys, JWKs and signing come from the test kit.
pub use warden_core::Algorithm as Alg;
pub use warden_testkit::{hostile, keys, Keys};
/// Claims that pass every check of [`config`] at [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "jti": "jti-1",
        "sid": "sid-1",
        "ver": 3,
        "iat": NOW - 10,
        "exp": NOW + 600,
        "email": "alice@example.com",
        "roles": ["admin", "dev"],
    })
}

/// `claims()` with some fields replaced (or removed when the value is null).
pub fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    if let (Some(target), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
    claims
}

/// The provider `main` with local keys; `extra` fields are merged in.
pub fn provider(jwks: &Value, extra: Value) -> Value {
    let mut provider = json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": jwks.to_string()},
        "claim_to_headers": [
            {"header_name": "x-jwt-sub", "claim_name": "sub"},
            {"header_name": "x-jwt-email", "claim_name": "email"},
            {"header_name": "x-jwt-roles", "claim_name": "roles"},
        ],
    });
    merge(&mut provider, extra);
    provider
}

pub fn merge(target: &mut Value, extra: Value) {
    if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
        for (name, value) in extra {
            if value.is_null() {
                target.remove(&name);
            } else {
                target.insert(name, value);
            }
        }
    }
}

/// `/healthz` open, everything else needs `main`; `verifier` optional.
pub fn config_with(provider: Value, verifier: Option<Value>) -> Value {
    let mut config = json!({
        "providers": {"main": provider},
        "rules": [
            {"match": {"prefix": "/healthz"}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
        ],
    });
    if let (Some(verifier), Some(object)) = (verifier, config.as_object_mut()) {
        object.insert("verifier".into(), verifier);
    }
    config
}

/// Local keys for every algorithm, no verifier.
pub fn config() -> Value {
    config_with(provider(&keys().jwks(), json!({})), None)
}

pub fn verifier(failure_mode: &str) -> Value {
    json!({"cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
           "timeout_ms": 200, "failure_mode": failure_mode})
}

/// `GET path` with `Authorization: Bearer <token>` (when given) and `extra` headers.
pub fn get(host: &mut Host, path: &str, token: Option<&str>, extra: &[(&str, &str)]) -> RequestId {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", "api.example"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer));
    }
    headers.extend_from_slice(extra);
    host.request(&headers).expect("request")
}

/// The request went through; returns the forwarded headers.
#[track_caller]
pub fn forwarded(host: &Host, request: RequestId) -> HeaderMap {
    match host.outcome(request) {
        Outcome::Continue { headers } => headers,
        other => panic!(
            "expected the request to be forwarded, got {other:?}; logs: {:?}",
            host.logs()
        ),
    }
}

/// The filter answered; returns its local response.
#[track_caller]
pub fn answered(host: &Host, request: RequestId) -> LocalResponse {
    match host.outcome(request) {
        Outcome::LocalResponse(response) => response,
        other => panic!(
            "expected a local response, got {other:?}; logs: {:?}",
            host.logs()
        ),
    }
}

/// The filter answered 401 `invalid_token` with this reason, in the header and the JSON body.
#[track_caller]
pub fn assert_denied(host: &Host, request: RequestId, reason: &str) {
    let response = answered(host, request);
    assert_eq!(response.status, 401, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json().expect("JSON body");
    if reason == "token_missing" {
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"warden\"")
        );
        assert_eq!(
            body,
            json!({"error": "unauthorized", "error_description": "token_missing"})
        );
    } else {
        assert_eq!(
            response.header("www-authenticate"),
            Some(format!("Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"{reason}\"").as_str()),
            "{response:?}"
        );
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": reason})
        );
    }
}

/// The filter answered 503 because the verifier could not answer.
#[track_caller]
pub fn assert_unavailable(host: &Host, request: RequestId) {
    let response = answered(host, request);
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(
        response.json().expect("JSON body"),
        json!({"error": "temporarily_unavailable", "error_description": "verifier_unavailable"})
    );
}
