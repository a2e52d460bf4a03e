//! Target `request_auth`: arbitrary requests (headers, cookies, `:path` with a query) through
//! `auth::authenticate`, `extract` and `rules` with fixed configurations and keys.
//!
//! Input: byte 0 picks the configuration (bit 0: `CATCH_ALL` or `ONE_AREA`) and a time offset;
//! the rest is header lines `name: value` separated by `\n` (names are lower-cased, as the
//! proxy hands them over; `:path: /x` is the path).
//!
//! Oracles, always on: the trace context carried to the verifier is a single well-formed
//! `traceparent` and a bounded printable `tracestate`, or nothing; an allowed request matched a protected rule naming the provider, the
//! extracted token verifies on its own, the forwarding edits remove the token that was used and
//! every spoofed claim header, and the check request for the claims is one the verifier accepts;
//! an unprotected request matched no rule or an open one.
//! Unless `WARDEN_FUZZ_STRICT=0`, also the upstream-view oracles of `upstream`: no path that an
//! upstream reads as a protected one passes unchecked, and no token copy the filter did not
//! verify, nor a claim header it did not set, reaches the upstream.

use super::input::Input;
use super::keys::{self, NOW};
use super::token::{AUDIENCE, ISSUER};
use super::upstream;
use serde_json::json;
use std::sync::OnceLock;
use warden_core::auth::{self, Authenticator, Outcome};
use warden_core::cache::TokenCache;
use warden_core::config::Config;
use warden_core::extract::{self, Extracted};
use warden_core::flow::trace;
use warden_core::forward;
use warden_core::keystore::KeyStore;
use warden_core::protocol::{self, CheckRequest, MAX_ID_BYTES};
use warden_core::token;

fn providers() -> serde_json::Value {
    let jwks = keys::public_jwks();
    json!({
        "hdr": {
            "issuer": ISSUER, "audiences": [AUDIENCE],
            "local_jwks": {"inline_string": jwks},
            "from_headers": [{"name": "authorization", "value_prefix": "Bearer "},
                             {"name": "x-token"}],
            "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
        },
        "qp": {
            "local_jwks": {"inline_string": jwks},
            "from_params": ["access_token"],
            "require_expiration": false,
            "claim_to_headers": [{"header_name": "x-jwt-iss", "claim_name": "iss"}]
        },
        "ck": {
            "local_jwks": {"inline_string": jwks},
            "from_cookies": ["session"]
        }
    })
}

/// Everything protected except two open paths.
pub fn catch_all() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        let doc = json!({
            "providers": providers(),
            "rules": [
                {"match": {"prefix": "/healthz"}},
                {"match": {"path": "/open"}},
                {"match": {"prefix": "/admin"}, "requires": {"provider_name": "hdr"}},
                {"match": {"prefix": "/api"}, "requires": {"requires_any": ["hdr", "qp", "ck"]}},
                {"match": {"prefix": "/"}, "requires": {"provider_name": "hdr"}}
            ]
        });
        Config::parse(&doc.to_string()).expect("the CATCH_ALL config compiles")
    })
}

/// One protected area, everything else open (the layout of the path-confusion finding).
pub fn one_area() -> &'static Config {
    static C: OnceLock<Config> = OnceLock::new();
    C.get_or_init(|| {
        let doc = json!({
            "providers": providers(),
            "rules": [
                {"match": {"prefix": "/admin"}, "requires": {"requires_any": ["hdr", "qp", "ck"]}},
                {"match": {"path": "/exact"}, "requires": {"provider_name": "hdr"}},
                {"match": {"prefix": "/"}}
            ]
        });
        Config::parse(&doc.to_string()).expect("the ONE_AREA config compiles")
    })
}

pub fn parse_headers(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let split = line
                .get(1..)
                .and_then(|tail| tail.find(": "))
                .map(|i| i + 1);
            match split {
                Some(i) => (line[..i].to_ascii_lowercase(), line[i + 2..].to_string()),
                None => (line.to_ascii_lowercase(), String::new()),
            }
        })
        .collect()
}

/// The request as the upstream receives it: `remove` drops every copy, `set` replaces.
pub fn apply(headers: &[(String, String)], fwd: &forward::Forwarding) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !fwd.remove.contains(n) && !fwd.set.iter().any(|(s, _)| s == n))
        .cloned()
        .collect();
    out.extend(fwd.set.iter().cloned());
    out
}

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("WARDEN_FUZZ_STRICT").is_none_or(|v| v != "0"))
}

/// The trace context carried onto the verifier call: the one `traceparent` only when it is
/// well-formed, `tracestate` only with it, bounded and printable.
fn trace_context(headers: &[(String, String)]) {
    let carried = trace::propagated(headers);
    let parents: Vec<&String> = headers
        .iter()
        .filter(|(n, _)| n == "traceparent")
        .map(|(_, v)| v)
        .collect();
    match carried.as_slice() {
        [] => {}
        [("traceparent", parent), rest @ ..] => {
            assert_eq!(parents, [parent], "only a single traceparent is carried");
            assert!(trace::valid_traceparent(parent) && parent.len() >= 55);
            match rest {
                [] => {}
                [("tracestate", state)] => assert!(
                    state.len() <= trace::MAX_TRACESTATE_BYTES
                        && state.bytes().all(|b| (0x20..=0x7e).contains(&b))
                ),
                other => panic!("unexpected trace headers {other:?}"),
            }
        }
        other => panic!("unexpected trace headers {other:?}"),
    }
}

pub fn run(data: &[u8]) {
    run_with(data, strict());
}

/// `run` with the strict upstream-view oracles on.
pub fn run_strict(data: &[u8]) {
    run_with(data, true);
}

fn run_with(data: &[u8], strict: bool) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let config = if choice & 1 == 0 {
        catch_all()
    } else {
        one_area()
    };
    // Up to about a day later, so that some tokens expire on the way.
    let now = NOW + i64::from(choice >> 1) * 700;
    let headers = parse_headers(input.rest());
    trace_context(&headers);
    let keys = KeyStore::new(config);
    let mut cache = TokenCache::new(8);
    let mut ctx = Authenticator {
        config,
        keys: &keys,
        cache: &mut cache,
        now,
        may_fetch_keys: false,
    };
    let (outcome, _) = auth::authenticate(&mut ctx, &headers);
    let path = extract::header(&headers, ":path").unwrap_or("/");
    let rule = crate::checks::rule_for(&config.rules, path);

    let allowed = match &outcome {
        Outcome::Allowed(a) => Some(a),
        _ => None,
    };
    let fwd = forward::forwarding(config, allowed, &headers);
    let forwarded = apply(&headers, &fwd);
    // No claim header reaches the upstream in any spelling unless the filter set it.
    for (name, value) in &forwarded {
        let claim = config
            .claim_header_names
            .iter()
            .any(|c| extract::same_header_name(name, c));
        assert!(
            !claim || fwd.set.contains(&(name.clone(), value.clone())),
            "claim header {name} forwarded as the client sent it"
        );
    }

    match &outcome {
        Outcome::Allowed(allowed) => {
            let rule = rule.expect("an allowed request matched a rule");
            let a = allowed
                .primary()
                .expect("these rules allow only with a token");
            assert!(
                crate::checks::providers_of(config, rule).contains(&a.provider),
                "allowed by a provider the rule does not name"
            );
            let provider = &config.providers[a.provider];
            let Extracted::Found(tok, source) = extract::extract(&provider.sources, &headers)
            else {
                panic!("allowed, but the provider finds no token");
            };
            assert_eq!(source, a.source);
            token::verify(tok, &provider.requirements, keys::keyset(), now)
                .expect("the token that allowed the request verifies on its own");
            let used = std::slice::from_ref(&provider.sources[source]);
            if !provider.forward {
                assert!(
                    !matches!(extract::extract(used, &forwarded), Extracted::Found(t, _) if t == tok),
                    "the verified token is forwarded: {forwarded:?}"
                );
            }
            if let Ok(check) = protocol::check_request(&a.claims) {
                let wire = serde_json::to_string(&check).expect("serialises");
                let back: CheckRequest =
                    serde_json::from_str(&wire).expect("the verifier parses it");
                assert_eq!(back, check);
                for id in [Some(&check.sub), check.jti.as_ref(), check.sid.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    assert!(!id.is_empty() && id.len() <= MAX_ID_BYTES);
                }
            }
        }
        Outcome::Unprotected => {
            assert!(
                rule.is_none_or(|r| r.requires.is_none()),
                "a protected rule matched, yet unprotected"
            );
        }
        Outcome::Denied(_) => {}
        Outcome::NeedKeys(_) => panic!("local keys never need fetching"),
    }

    if strict {
        upstream::check_path(config, path, &outcome);
        upstream::check_forwarded(config, rule, &outcome, &forwarded, &fwd);
    }
}
