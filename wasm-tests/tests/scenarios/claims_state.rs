//! Claims as filter state through the plugin adapter: what the real module hands the host with
//! `proxy_set_property` (Envoy stores each key as `wasm.<key>`), before it forwards or answers.

use crate::common::*;
use serde_json::{json, Value};
use warden_wasm_tests::Host;

fn state(host: &Host, key: &str) -> Option<String> {
    host.property(&[key]).map(|v| String::from_utf8(v).unwrap())
}

fn claims_config() -> Value {
    config_with(
        provider(
            &keys().jwks(),
            json!({
                "payload_in_filter_state": "jwt",
                "header_in_filter_state": "jwt_header",
                "failed_status_in_filter_state": "jwt_failure",
                "normalize_payload_in_filter_state": {"space_delimited_claims": ["scope"]},
            }),
        ),
        None,
    )
}

#[test]
fn a_verified_token_sets_its_claims_as_properties() {
    let mut host = start(&claims_config());
    let token = keys().sign(
        Alg::EdDSA,
        &claims_with(json!({"groups": ["admins", "dev"], "scope": "read write"})),
    );
    let req = get(&mut host, "/orders", Some(&token), &[]);
    forwarded(&host, req);
    assert_eq!(state(&host, "jwt.sub").as_deref(), Some("alice"));
    assert_eq!(state(&host, "jwt.groups").as_deref(), Some("admins,dev"));
    assert_eq!(state(&host, "jwt.scope").as_deref(), Some("read,write"));
    let payload: Value = serde_json::from_str(&state(&host, "jwt").unwrap()).unwrap();
    assert_eq!(payload["scope"], json!(["read", "write"]));
    let header: Value = serde_json::from_str(&state(&host, "jwt_header").unwrap()).unwrap();
    assert_eq!(header["alg"], json!("EdDSA"));
    assert_eq!(state(&host, "jwt_failure"), None);
}

#[test]
fn a_refused_token_sets_the_failure_status() {
    let mut host = start(&claims_config());
    let expired = keys().sign(Alg::EdDSA, &claims_with(json!({"exp": NOW - 3600})));
    let req = get(&mut host, "/orders", Some(&expired), &[]);
    assert_denied(&host, req, "token_expired");
    assert_eq!(
        state(&host, "jwt_failure").as_deref(),
        Some(r#"{"code":401,"message":"token_expired"}"#)
    );
    assert_eq!(state(&host, "jwt_failure.code").as_deref(), Some("401"));
    assert_eq!(state(&host, "jwt.sub"), None);
}
