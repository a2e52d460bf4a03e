//! What the plugin adapter adds for requirements: report-only counters and filter state, the
//! route's metadata read (only when `requirements` is configured) and filter state read for
//! `filter_state_rules`.

use crate::common::*;
use serde_json::{json, Value};
use warden_wasm_tests::Host;

fn len_field(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(number << 3) | 2];
    out.push(u8::try_from(bytes.len()).unwrap());
    out.extend_from_slice(bytes);
    out
}

/// `Metadata { filter_metadata { "warden": Struct { name: Value { string_value } } } }`.
fn warden_metadata(name: &str, value: &str) -> Vec<u8> {
    let field = len_field(
        1,
        &[
            len_field(1, name.as_bytes()),
            len_field(2, &len_field(3, value.as_bytes())),
        ]
        .concat(),
    );
    len_field(1, &[len_field(1, b"warden"), len_field(2, &field)].concat())
}

fn state(host: &Host, key: &str) -> Option<String> {
    host.property(&[key]).map(|v| String::from_utf8(v).unwrap())
}

fn base(extra: Value) -> Value {
    let mut c = config();
    merge(&mut c, extra);
    c
}

#[test]
fn a_report_only_rule_forwards_counts_and_writes_filter_state() {
    let mut host = start(&base(json!({"rules": [
        {"match": {"prefix": "/shadow"}, "requires": {"provider_name": "main"}, "enforce": false},
        {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}},
    ]})));
    let names: Vec<String> = host.metrics().into_iter().map(|m| m.name).collect();
    for reason in warden_core::Reason::ALL {
        let name = format!("warden.report_only.{reason}");
        assert!(names.contains(&name), "{name} not defined");
    }
    let expired = keys().sign(Alg::EdDSA, &claims_with(json!({"exp": NOW - 3600})));
    let req = get(
        &mut host,
        "/shadow/a",
        Some(&expired),
        &[("x-jwt-sub", "mallory")],
    );
    let headers = forwarded(&host, req);
    assert_eq!(
        headers.get("authorization"),
        Some(format!("Bearer {expired}").as_str())
    );
    assert_eq!(headers.get("x-jwt-sub"), None);
    assert_eq!(host.metric("warden.report_only.token_expired"), Some(1));
    assert_eq!(host.metric("warden.denied.token_expired"), Some(0));
    assert_eq!(
        state(&host, "warden.decision").as_deref(),
        Some("report_only")
    );
    assert_eq!(
        state(&host, "warden.report_only").as_deref(),
        Some("reason=token_expired provider=main rule=rules[0] status=401")
    );
    let req = get(&mut host, "/other", Some(&expired), &[]);
    assert_denied(&host, req, "token_expired");
    assert_eq!(host.metric("warden.denied.token_expired"), Some(1));
    assert_eq!(state(&host, "warden.decision").as_deref(), Some("denied"));
}

#[test]
fn route_metadata_is_read_only_when_requirements_are_configured() {
    let named = warden_metadata("requirement", "strict");
    let unknown = warden_metadata("requirement", "nope");
    // Without `requirements` the metadata is not read: path rules decide.
    let mut host = start(&base(json!({"rules": [{"match": {"prefix": "/open"}}]})));
    host.set_property(&["xds", "route_metadata"], unknown.clone());
    let req = get(&mut host, "/open", None, &[]);
    forwarded(&host, req);

    let mut host = start(&base(json!({
        "rules": [{"match": {"prefix": "/open"}}],
        "requirements": {"strict": {"provider_name": "main"}},
    })));
    host.set_property(&["xds", "route_metadata"], named);
    let req = get(&mut host, "/open", None, &[]);
    assert_denied(&host, req, "token_missing");
    let good = keys().sign(Alg::EdDSA, &claims());
    let req = get(&mut host, "/open", Some(&good), &[]);
    assert_eq!(forwarded(&host, req).get("x-jwt-sub"), Some("alice"));
    assert_eq!(state(&host, "warden.provider").as_deref(), Some("main"));

    host.set_property(&["xds", "route_metadata"], unknown);
    let req = get(&mut host, "/open", Some(&good), &[]);
    let answer = answered(&host, req);
    assert_eq!(answer.status, 403);
    assert_eq!(host.metric("warden.denied.requirement_unknown"), Some(1));
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("names requirement \"nope\"")),
        "{:?}",
        host.logs()
    );
}

#[test]
fn filter_state_rules_read_the_hosts_filter_state() {
    let mut host = start(&base(json!({
        "rules": [],
        "filter_state_rules": {"name": "tier", "requires": {"strict": {"provider_name": "main"}}},
    })));
    let req = get(&mut host, "/x", None, &[]);
    forwarded(&host, req);
    host.set_property(&["filter_state", "tier"], "strict");
    let req = get(&mut host, "/x", None, &[]);
    assert_denied(&host, req, "token_missing");
}
