#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use serde_json::json;

fn claims(value: Value) -> Claims {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn keys(payload: Option<&str>, header: Option<&str>, failed: Option<&str>) -> ClaimsState {
    ClaimsState {
        payload_key: payload.map(str::to_owned),
        header_key: header.map(str::to_owned),
        failed_status_key: failed.map(str::to_owned),
        space_delimited_claims: Vec::new(),
    }
}

fn get<'a>(entries: &'a Entries, key: &str) -> Option<&'a str> {
    entries
        .written
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A compact token whose header is `{"alg":"ES256","kid":"k1"}` (the signature is not read).
fn token() -> String {
    format!(
        "{}.{}.c2ln",
        b64::encode(br#"{"alg":"ES256","kid":"k1"}"#),
        b64::encode(b"{}")
    )
}

#[test]
fn payload_and_per_claim_keys() {
    let c = claims(json!({
        "sub": "alice", "groups": ["admins", "dev"], "age": 42, "admin": true,
        "scope": "read write", "nested": {"a": 1}, "none": null
    }));
    let k = keys(Some("jwt"), None, None);
    let out = verified(&[VerifiedToken {
        keys: &k,
        claims: &c,
        token: None,
    }]);
    assert_eq!(get(&out, "jwt.sub"), Some("alice"));
    assert_eq!(get(&out, "jwt.groups"), Some("admins,dev"));
    assert_eq!(get(&out, "jwt.age"), Some("42"));
    assert_eq!(get(&out, "jwt.admin"), Some("true"));
    assert_eq!(get(&out, "jwt.scope"), Some("read write"));
    assert_eq!(get(&out, "jwt.nested"), None);
    assert_eq!(get(&out, "jwt.none"), None);
    let payload: Value = serde_json::from_str(get(&out, "jwt").unwrap()).unwrap();
    assert_eq!(payload, Value::Object(c));
    assert_eq!(out.skipped, 0);
}

#[test]
fn space_delimited_claims_become_arrays() {
    let c = claims(json!({"sub": "alice", "scope": " read  write ", "roles": ["a b"], "n": 1}));
    let mut k = keys(Some("jwt"), None, None);
    k.space_delimited_claims = vec!["scope".into(), "roles".into(), "n".into(), "absent".into()];
    let out = verified(&[VerifiedToken {
        keys: &k,
        claims: &c,
        token: None,
    }]);
    assert_eq!(get(&out, "jwt.scope"), Some("read,write"));
    // Only string claims are split; arrays and numbers stay as they are.
    assert_eq!(get(&out, "jwt.roles"), Some("a b"));
    assert_eq!(get(&out, "jwt.n"), Some("1"));
    assert_eq!(get(&out, "jwt.absent"), None);
    let payload: Value = serde_json::from_str(get(&out, "jwt").unwrap()).unwrap();
    assert_eq!(payload["scope"], json!(["read", "write"]));
    assert_eq!(payload["roles"], json!(["a b"]));
}

#[test]
fn values_a_policy_could_misread_are_left_out() {
    let long = "x".repeat(MAX_CLAIM_VALUE_BYTES + 1);
    let c = claims(json!({
        "newline": "alice\nadmin", "del": "a\u{7f}", "c1": "a\u{85}",
        "comma": ["x,admins", "dev"], "nested": [["a"]], "long": long,
        "fine": "ok", "bad name": "v", "tab\tname": "v", "ls": "a\u{2028}"
    }));
    let k = keys(Some("jwt"), None, None);
    let out = verified(&[VerifiedToken {
        keys: &k,
        claims: &c,
        token: None,
    }]);
    for key in [
        "jwt.newline",
        "jwt.del",
        "jwt.c1",
        "jwt.comma",
        "jwt.nested",
        "jwt.long",
        "jwt.bad name",
        "jwt.tab\tname",
        "jwt.ls",
    ] {
        assert_eq!(get(&out, key), None, "{key}");
    }
    assert_eq!(get(&out, "jwt.fine"), Some("ok"));
    // Two names not fit for a key; the values refused are not counted (nothing to write).
    assert_eq!(out.skipped, 2);
    // The payload JSON carries everything, control characters escaped.
    let payload = get(&out, "jwt").unwrap();
    assert!(!payload.chars().any(char::is_control));
    assert!(payload.contains(r"alice\nadmin"));
    assert!(payload.contains(r"a\u007f") && payload.contains(r"a\u0085"));
    assert!(payload.contains(r"a\u2028"));
    let parsed: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(parsed, Value::Object(c));
}

#[test]
fn the_budget_bounds_what_one_request_writes() {
    let mut map = Map::new();
    for i in 0..64 {
        map.insert(format!("c{i:02}"), Value::String("v".repeat(1000)));
    }
    let k = keys(Some("jwt"), Some("hdr"), None);
    let t = token();
    let out = verified(&[VerifiedToken {
        keys: &k,
        claims: &map,
        token: Some(&t),
    }]);
    let total: usize = out.written.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(total <= MAX_FILTER_STATE_BYTES, "{total}");
    // Per-claim keys come first; the payload JSON (64 kB) does not fit; the small header does.
    assert_eq!(get(&out, "jwt.c00").map(str::len), Some(1000));
    assert_eq!(get(&out, "jwt"), None);
    assert!(get(&out, "hdr").is_some());
    assert!(out.skipped >= 64 - 16);
    assert_eq!(out.written.len() + out.skipped, 64 + 2);
}

#[test]
fn header_json_comes_from_the_token() {
    let c = claims(json!({"sub": "alice"}));
    let k = keys(None, Some("jwt_header"), None);
    let t = token();
    let out = verified(&[VerifiedToken {
        keys: &k,
        claims: &c,
        token: Some(&t),
    }]);
    let header: Value = serde_json::from_str(get(&out, "jwt_header").unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "kid": "k1"}));
    assert_eq!(out.written.len(), 1);
    // No token at hand: nothing written.
    let none = verified(&[VerifiedToken {
        keys: &k,
        claims: &c,
        token: None,
    }]);
    assert!(none.written.is_empty());
}

#[test]
fn a_shared_key_holds_the_later_tokens_claims_only() {
    let first = claims(json!({"sub": "alice", "groups": ["admins"]}));
    let second = claims(json!({"sub": "svc"}));
    let k = keys(Some("jwt"), None, None);
    let out = verified(&[
        VerifiedToken {
            keys: &k,
            claims: &first,
            token: None,
        },
        VerifiedToken {
            keys: &k,
            claims: &second,
            token: None,
        },
    ]);
    assert_eq!(get(&out, "jwt.sub"), Some("svc"));
    // The earlier token's groups must not appear beside the later token's subject.
    assert_eq!(get(&out, "jwt.groups"), None);
    assert_eq!(
        out.written.iter().filter(|(k, _)| k == "jwt.sub").count(),
        1
    );
}

#[test]
fn failure_status_code_and_message() {
    let k = keys(Some("jwt"), None, Some("jwt_failure"));
    let out = failed(&k, Reason::TokenExpired);
    assert_eq!(get(&out, "jwt_failure.code"), Some("401"));
    assert_eq!(get(&out, "jwt_failure.message"), Some("token_expired"));
    let value: Value = serde_json::from_str(get(&out, "jwt_failure").unwrap()).unwrap();
    assert_eq!(value, json!({"code": 401, "message": "token_expired"}));
    assert_eq!(
        get(&failed(&k, Reason::VerifierUnavailable), "jwt_failure.code"),
        Some("503")
    );
    assert!(failed(&keys(Some("jwt"), None, None), Reason::TokenExpired)
        .written
        .is_empty());
}

#[test]
fn claim_text_shapes() {
    assert_eq!(claim_text(&json!("a b")).as_deref(), Some("a b"));
    assert_eq!(claim_text(&json!(1.5)).as_deref(), Some("1.5"));
    assert_eq!(claim_text(&json!(false)).as_deref(), Some("false"));
    assert_eq!(claim_text(&json!([])).as_deref(), Some(""));
    assert_eq!(
        claim_text(&json!(["a", 1, true])).as_deref(),
        Some("a,1,true")
    );
    assert_eq!(claim_text(&json!([null])), None);
    assert_eq!(claim_text(&json!({"a": 1})), None);
    assert_eq!(claim_text(&json!(["a,b"])), None);
    assert_eq!(claim_text(&json!("a,b")).as_deref(), Some("a,b"));
}

/// Many claim sets built from awkward pieces (controls, separators, commas, long strings, nested
/// values): the invariants hold for each.
#[test]
fn invariants_over_awkward_claims() {
    let pieces = [
        json!("plain"),
        json!("a\u{0}b"),
        json!("tab\there"),
        json!("del\u{7f}"),
        json!("nel\u{85}"),
        json!("ls\u{2028}"),
        json!("x,y"),
        json!("é ü"),
        json!(""),
        json!(" "),
        json!(-1.5e300),
        json!(u64::MAX),
        json!(true),
        json!(null),
        json!({"k": "v"}),
        json!(["a", "b,c"]),
        json!(["ok", 2, false]),
        json!([["n"]]),
        json!("w ".repeat(3000)),
        json!("y".repeat(5000)),
    ];
    let names = [
        "sub",
        "scope",
        "a b",
        "x:y",
        "é",
        "",
        "groups",
        "https://x/roles",
        "n\n",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % (n as u64)).unwrap()
    };
    for _ in 0..300 {
        let mut map = Map::new();
        for _ in 0..next(12) {
            let name = names[next(names.len())];
            map.insert(name.to_owned(), pieces[next(pieces.len())].clone());
        }
        let mut k = keys(Some("jwt"), Some("hdr"), None);
        k.space_delimited_claims = vec!["scope".into(), "sub".into()];
        let t = token();
        let out = verified(&[VerifiedToken {
            keys: &k,
            claims: &map,
            token: Some(&t),
        }]);
        let total: usize = out.written.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= MAX_FILTER_STATE_BYTES);
        for (key, value) in &out.written {
            assert!(!key.chars().any(breaks_a_line), "{key:?}");
            assert!(!value.chars().any(breaks_a_line), "{key:?} = {value:?}");
            assert!(
                key == "jwt" || key == "hdr" || key.starts_with("jwt."),
                "{key}"
            );
        }
        if let Some(payload) = get(&out, "jwt") {
            let parsed: Value = serde_json::from_str(payload).unwrap();
            assert_eq!(
                parsed,
                Value::Object(normalized(&map, &k.space_delimited_claims))
            );
        }
    }
}

#[test]
fn only_token_failures_write_a_status() {
    let jwks =
        r#"{"keys":[{"kty":"oct","kid":"k","k":"c3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3Nzc3M"}]}"#;
    let one = json!({"providers": {"p": {"local_jwks": {"inline_string": jwks},
        "failed_status_in_filter_state": "f"}}});
    let config = Config::parse(&one.to_string()).unwrap();
    assert!(for_failure(&config, None, Reason::RequirementUnknown)
        .written
        .is_empty());
    assert!(for_failure(&config, None, Reason::PathRejected)
        .written
        .is_empty());
    let missing = for_failure(&config, None, Reason::TokenMissing);
    assert_eq!(get(&missing, "f.message"), Some("token_missing"));
    assert_eq!(
        get(&for_failure(&config, Some(0), Reason::Revoked), "f.code"),
        Some("401")
    );
}
