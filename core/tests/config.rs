#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Configuration contract: defaults, and every error names its field.

mod common;

use serde_json::{json, Value};
use warden_core::config::{
    Config, FailureMode, KeySource, PathMatch, StreamConfig, TokenSource, VerifierMode,
};
use warden_core::Algorithm;

fn jwks() -> String {
    json!({"keys":[common::jwk(Algorithm::ES256)]}).to_string()
}

fn contract() -> Value {
    json!({
      "providers": {
        "main": {
          "issuer": "https://issuer.example",
          "audiences": ["api.example"],
          "local_jwks": { "inline_string": jwks() },
          "algorithms": ["ES256", "EdDSA"],
          "from_headers": [{ "name": "authorization", "value_prefix": "Bearer " }],
          "from_params": ["access_token"],
          "from_cookies": ["session"],
          "clock_skew_seconds": 60,
          "require_expiration": true,
          "max_token_bytes": 8192,
          "forward": false,
          "require_jti": false,
          "claim_to_headers": [{ "header_name": "x-jwt-sub", "claim_name": "sub" }]
        },
        "idp": {
          "remote_jwks": { "cluster": "idp", "path": "/.well-known/jwks.json", "authority": "idp",
                           "timeout_ms": 1000, "cache_duration_seconds": 600 }
        }
      },
      "rules": [
        { "match": { "prefix": "/healthz" } },
        { "match": { "path": "/both" }, "requires": { "requires_any": ["main", "idp"] } },
        { "match": { "prefix": "/" }, "requires": { "provider_name": "main" } }
      ],
      "verifier": { "cluster": "warden_verifier", "authority": "warden-verifier", "path": "/v1/check",
                    "timeout_ms": 200, "failure_mode": "deny" }
    })
}

fn error_of(config: Value) -> String {
    Config::parse(&config.to_string()).unwrap_err().to_string()
}

#[test]
fn contract_example_compiles() {
    let c = Config::parse(&contract().to_string()).unwrap();
    assert_eq!(c.providers.len(), 2);
    let main = &c.providers[c.provider_index("main").unwrap()];
    assert_eq!(
        main.requirements.algorithms,
        Some(vec![Algorithm::ES256, Algorithm::EdDSA])
    );
    assert_eq!(main.sources.len(), 3);
    assert!(matches!(main.keys, KeySource::Local(_)));
    assert!(!main.require_jti);
    assert!(c.providers[c.provider_index("idp").unwrap()].require_jti);
    assert_eq!(c.rules.len(), 3);
    assert_eq!(c.rules[0].requires, None);
    assert_eq!(c.rules[1].matcher, PathMatch::Exact("/both".into()));
    assert_eq!(
        c.rules[1]
            .requires
            .as_ref()
            .map(|r| r.providers(c.providers.len()).len()),
        Some(2)
    );
    let v = c.verifier.as_ref().unwrap();
    assert_eq!(
        (v.cluster.as_str(), v.timeout_ms, v.failure_mode),
        ("warden_verifier", 200, FailureMode::Deny)
    );
    assert_eq!(c.claim_header_names, vec!["x-jwt-sub".to_string()]);
    assert!(c.has_remote_jwks());
}

#[test]
fn defaults_apply_where_omitted() {
    let c = Config::parse(
        &json!({"providers":{"p":{"local_jwks":{"inline_string": jwks()}}}}).to_string(),
    )
    .unwrap();
    let p = &c.providers[0];
    assert_eq!(
        p.sources,
        vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into()
        }]
    );
    assert_eq!(p.requirements.clock_skew_seconds, 60);
    assert!(p.requirements.require_expiration);
    assert_eq!(p.requirements.max_token_bytes, 8192);
    assert!(!p.forward);
    assert!(
        p.require_jti,
        "a token without jti is refused unless the provider says otherwise"
    );
    assert!(p.requirements.algorithms.is_none());
    assert!(c.verifier.is_none());
    let c = Config::parse(&json!({"providers":{},"verifier":{"cluster":"v"}}).to_string()).unwrap();
    let v = c.verifier.unwrap();
    assert_eq!(
        (
            v.path.as_str(),
            v.authority.as_str(),
            v.timeout_ms,
            v.failure_mode
        ),
        ("/v1/check", "v", 200, FailureMode::Deny)
    );
    assert_eq!(v.mode, VerifierMode::Callout);
}

#[test]
fn stream_mode_defaults_and_fields() {
    let c =
        Config::parse(&json!({"verifier":{"cluster":"v","mode":"stream"}}).to_string()).unwrap();
    let v = c.verifier.unwrap();
    assert_eq!(v.mode, VerifierMode::Stream);
    assert_eq!(
        v.stream,
        StreamConfig {
            path: "/v1/revocations".into(),
            max_staleness_ms: 1000,
            max_entries: 100_000,
            feed_token: None,
        }
    );
    let c = Config::parse(
        &json!({"verifier":{"cluster":"v","mode":"stream","stream":
            {"path":"/feed","max_staleness_ms":250,"max_entries":7}}})
        .to_string(),
    )
    .unwrap();
    let v = c.verifier.unwrap();
    assert_eq!(
        (
            v.stream.path.as_str(),
            v.stream.max_staleness_ms,
            v.stream.max_entries
        ),
        ("/feed", 250, 7)
    );
    let c =
        Config::parse(&json!({"verifier":{"cluster":"v","mode":"callout"}}).to_string()).unwrap();
    assert_eq!(c.verifier.unwrap().mode, VerifierMode::Callout);
}

#[test]
fn stream_feed_token_is_sent_as_a_bearer_and_never_shown() {
    let secret = "feed-token-0123456789";
    let c = Config::parse(
        &json!({"verifier":{"cluster":"v","mode":"stream","stream":{"feed_token": secret}}})
            .to_string(),
    )
    .unwrap();
    assert!(
        !format!("{c:?}").contains("0123456789"),
        "Debug shows the token"
    );
    let v = c.verifier.unwrap();
    let token = v.stream.feed_token.clone().unwrap();
    assert_eq!(token.header_value(), format!("Bearer {secret}"));
    let filter = warden_core::flow::Filter::new(
        Config::parse(
            &json!({"verifier":{"cluster":"v","mode":"stream","stream":{"feed_token": secret}}})
                .to_string(),
        )
        .unwrap(),
    );
    let poll = filter.revocation_poll().unwrap();
    assert!(poll
        .request_headers()
        .contains(&("authorization", format!("Bearer {secret}").as_str())));
    assert!(
        !format!("{poll:?}").contains("0123456789"),
        "Debug shows the token"
    );
    // Without a token, no authorization header.
    let plain = warden_core::flow::Filter::new(
        Config::parse(&json!({"verifier":{"cluster":"v","mode":"stream"}}).to_string()).unwrap(),
    );
    let poll = plain.revocation_poll().unwrap();
    assert!(poll
        .request_headers()
        .iter()
        .all(|(n, _)| *n != "authorization"));
    // Refusals name the field and never repeat the token.
    for bad in [
        "",
        "short",
        "has a space in it 0123",
        "tab\tinside-0123456789",
        "é-not-ascii-0123456789",
    ] {
        let e = Config::parse(
            &json!({"verifier":{"cluster":"v","mode":"stream","stream":{"feed_token": bad}}})
                .to_string(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("verifier.stream.feed_token: must"),
            "{bad:?}: {e}"
        );
        assert!(bad.len() < 3 || !e.contains(bad), "{bad:?}: {e}");
    }
}

#[test]
fn errors_name_the_field() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str)> = vec![
        (Box::new(|c| c["providers"]["main"]["local_jwks"]["inline_string"] = json!("{\"keys\":[]}")),
         "providers.main.local_jwks: no usable key"),
        (Box::new(|c| c["providers"]["main"]["local_jwks"]["inline_string"] = json!("not json")),
         "providers.main.local_jwks: not valid JSON"),
        (Box::new(|c| c["rules"][2]["requires"]["provider_name"] = json!("ghost")),
         "rules[2].requires.provider_name: unknown provider \"ghost\""),
        (Box::new(|c| c["rules"][1]["requires"]["requires_any"][1] = json!("ghost")),
         "rules[1].requires.requires_any[1]: unknown provider"),
        (Box::new(|c| c["providers"]["main"]["algorithms"][1] = json!("HS1024")),
         "providers.main.algorithms[1]: unknown algorithm \"HS1024\""),
        (Box::new(|c| c["providers"]["main"]["algorithms"][0] = json!("none")),
         "providers.main.algorithms[0]: \"none\" is never allowed"),
        (Box::new(|c| c["providers"]["main"]["remote_jwks"] = json!({"cluster":"x","path":"/j"})),
         "providers.main: set one of local_jwks or remote_jwks, not both"),
        (Box::new(|c| { c["providers"]["main"].as_object_mut().unwrap().remove("local_jwks"); }),
         "providers.main: one of local_jwks or remote_jwks is required"),
        (Box::new(|c| { c["verifier"].as_object_mut().unwrap().remove("cluster"); }),
         "verifier: missing field `cluster`"),
        (Box::new(|c| c["verifier"]["cluster"] = json!("")), "verifier.cluster: must not be empty"),
        (Box::new(|c| c["verifier"]["authority"] = json!("a\r\nx-evil: 1")), "verifier.authority: must not contain spaces"),
        (Box::new(|c| c["verifier"]["path"] = json!("/v1/check x")), "verifier.path: must not contain spaces"),
        (Box::new(|c| c["providers"]["idp"]["remote_jwks"]["authority"] = json!("")),
         "providers.idp.remote_jwks.authority: must not be empty"),
        (Box::new(|c| c["providers"]["idp"]["remote_jwks"]["cluster"] = json!("")),
         "providers.idp.remote_jwks.cluster: must not be empty"),
        (Box::new(|c| { c["providers"]["idp"]["remote_jwks"].as_object_mut().unwrap().remove("cluster"); }),
         "providers.idp.remote_jwks: missing field `cluster`"),
        (Box::new(|c| c["verifier"]["failure_mode"] = json!("maybe")), "verifier.failure_mode: unknown variant `maybe`"),
        (Box::new(|c| c["verifier"]["timeout_ms"] = json!(0)), "verifier.timeout_ms: must be between"),
        (Box::new(|c| c["providers"]["main"]["surprise"] = json!(1)), "providers.main.surprise: unknown field `surprise`"),
        (Box::new(|c| c["surprise"] = json!(1)), "unknown field `surprise`"),
        (Box::new(|c| c["rules"][0]["match"] = json!({"prefix":"/a","path":"/b"})), "rules[0].match: set exactly one"),
        (Box::new(|c| c["rules"][0]["match"] = json!({"prefix":"a"})), "rules[0].match.prefix: must start with '/'"),
        (Box::new(|c| c["providers"]["main"]["max_token_bytes"] = json!(0)), "providers.main.max_token_bytes"),
        (Box::new(|c| c["providers"]["main"]["clock_skew_seconds"] = json!("60")), "providers.main.clock_skew_seconds: invalid type"),
        (Box::new(|c| c["providers"]["main"]["require_jti"] = json!("false")), "providers.main.require_jti: invalid type"),
        (Box::new(|c| c["providers"]["main"]["require_jti"] = json!(0)), "providers.main.require_jti: invalid type"),
        (Box::new(|c| c["providers"]["main"]["claim_to_headers"][0]["header_name"] = json!("bad header")),
         "providers.main.claim_to_headers[0].header_name: \"bad header\" is not a valid header name"),
        (Box::new(|c| c["providers"]["main"]["from_headers"][0]["name"] = json!(":path")),
         "providers.main.from_headers[0].name"),
        (Box::new(|c| c["verifier"]["mode"] = json!("push")), "verifier.mode: unknown variant `push`"),
        (Box::new(|c| c["verifier"]["stream"] = json!({})),
         "verifier.stream: is read only with \"mode\": \"stream\""),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"path": "v1"}); }),
         "verifier.stream.path: must start with '/'"),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"path": "/r?after=1"}); }),
         "verifier.stream.path: must not contain '?'"),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"max_staleness_ms": 0}); }),
         "verifier.stream.max_staleness_ms: must be between 1 and 3600000"),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"max_entries": 0}); }),
         "verifier.stream.max_entries: must be between 1 and 10000000"),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"max_entries": -1}); }),
         "verifier.stream.max_entries: invalid value"),
        (Box::new(|c| { c["verifier"]["mode"] = json!("stream"); c["verifier"]["stream"] = json!({"surprise": 1}); }),
         "verifier.stream.surprise: unknown field `surprise`"),
    ];
    for (mutate, expected) in cases {
        let mut c = contract();
        mutate(&mut c);
        let msg = error_of(c);
        assert!(
            msg.starts_with(expected) || msg.contains(expected),
            "expected {expected:?}, got {msg:?}"
        );
    }
}

#[test]
fn not_json_at_all() {
    assert!(Config::parse("").is_err());
    assert!(Config::parse("[]").is_err());
    assert!(Config::parse("{").is_err());
}

/// The plugin multiplies `cache_duration_seconds` by 1000: an unbounded value would overflow
/// (a panic in a debug build, a wrapped, tiny refresh period in release).
#[test]
fn absurd_jwks_cache_duration_is_a_config_error() {
    let cfg = json!({"providers": {"p": {"remote_jwks": {"cluster": "idp", "path": "/jwks",
        "cache_duration_seconds": u64::MAX / 10}}}});
    let err = Config::parse(&cfg.to_string()).unwrap_err();
    assert_eq!(
        err.path, "providers.p.remote_jwks.cache_duration_seconds",
        "{err}"
    );
}
