//! Bad configurations are refused and the log names the field.

use crate::common::*;
use serde_json::{json, Value};
use warden_wasm_tests::{HostOptions, LogLevel};

/// Configures a fresh VM with `config` and expects a refusal whose error log names `field`.
fn assert_rejected(config: &str, field: &str) {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            ..HostOptions::default()
        })
        .unwrap();
    let accepted = host.configure(config).unwrap();
    assert!(!accepted, "configuration accepted: {config}");
    let expected = format!("warden: invalid configuration: {field}");
    assert!(
        host.has_log(LogLevel::Error, &expected),
        "no error log starting with {expected:?}; logs: {:?}",
        host.logs()
    );
}

fn with_provider(extra: Value) -> String {
    config_with(provider(&keys().jwks(), extra), None).to_string()
}

#[test]
fn a_good_configuration_is_accepted() {
    let host = start(&config());
    assert!(
        host.has_log(
            LogLevel::Info,
            "warden: configured 1 provider(s), 2 rule(s)"
        ),
        "{:?}",
        host.logs()
    );
}

#[test]
fn unknown_field_is_named() {
    assert_rejected(
        &with_provider(json!({"issuer_typo": "x"})),
        "providers.main",
    );
    assert_rejected(
        &json!({"providers": {}, "rulez": []}).to_string(),
        "rulez: unknown field `rulez`",
    );
}

#[test]
fn unknown_provider_in_a_rule() {
    let config = json!({
        "providers": {"main": provider(&keys().jwks(), json!({}))},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "other"}}],
    });
    assert_rejected(&config.to_string(), "rules[0].requires.provider_name");
}

#[test]
fn unparsable_jwks() {
    assert_rejected(
        &with_provider(json!({"local_jwks": {"inline_string": "{not json"}})),
        "providers.main.local_jwks",
    );
    assert_rejected(
        &with_provider(json!({"local_jwks": {"inline_string": "{\"keys\":[]}"}})),
        "providers.main.local_jwks",
    );
}

#[test]
fn unknown_algorithm() {
    assert_rejected(
        &with_provider(json!({"algorithms": ["ES256", "none"]})),
        "providers.main.algorithms[1]",
    );
}

#[test]
fn both_or_neither_key_source() {
    let remote = json!({"cluster": "idp", "path": "/jwks"});
    assert_rejected(
        &with_provider(json!({"remote_jwks": remote})),
        "providers.main",
    );
    assert_rejected(
        &with_provider(json!({"local_jwks": null})),
        "providers.main",
    );
}

#[test]
fn missing_cluster() {
    let config = config_with(
        provider(&keys().jwks(), json!({})),
        Some(json!({"cluster": ""})),
    );
    assert_rejected(&config.to_string(), "verifier.cluster");
    let remote = json!({"local_jwks": null, "remote_jwks": {"cluster": "", "path": "/jwks"}});
    assert_rejected(&with_provider(remote), "providers.main.remote_jwks.cluster");
}

#[test]
fn not_json_at_all() {
    assert_rejected("this is not json", "");
}

#[test]
fn a_request_after_a_rejected_configuration_fails_closed() {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            ..HostOptions::default()
        })
        .unwrap();
    assert!(!host.configure("{").unwrap());
    let request = get(&mut host, "/", None, &[]);
    assert_eq!(answered(&host, request).status, 503);
}

#[test]
fn every_import_of_the_filter_has_a_real_host_implementation() {
    let imports = plugin().imports();
    assert!(
        imports.iter().any(|i| i == "env::proxy_http_call"),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi_snapshot_preview1::")),
        "{imports:?}"
    );
    assert!(
        plugin().stubbed_imports().is_empty(),
        "imports without implementation: {:?}",
        plugin().stubbed_imports()
    );
}
