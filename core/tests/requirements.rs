#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Requirement trees as jwt_authn decides them (which error wins, which tokens are used,
//! stripped and forwarded), report-only rules and providers, route and filter-state selection:
//! each through the whole flow, as the adapter drives it.

mod common;

use common::*;
use serde_json::{json, Value};
use warden_core::config::{Config, MAX_REQUIREMENT_DEPTH, MAX_REQUIREMENT_NODES};
use warden_core::flow::{Action, Event, Filter, Flow, Note, Now, Reply, RequestInput, Step};
use warden_core::route::RouteMetadata;
use warden_core::{Algorithm, Reason};

/// `a` and `a2` read `x-a-token`, `b` reads `x-b-token` (and forwards it), `c` reads the bearer
/// header and is report-only. Rules are appended by each test.
fn config(rules: Value, extra: Value) -> Value {
    let jwks = jwks_all();
    let mut c = json!({
        "providers": {
            "a": {"issuer": "https://a.example", "local_jwks": {"inline_string": jwks},
                  "from_headers": [{"name": "x-a-token"}],
                  "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]},
            "a2": {"issuer": "https://a2.example", "local_jwks": {"inline_string": jwks},
                   "from_headers": [{"name": "x-a-token"}]},
            "b": {"issuer": "https://b.example", "local_jwks": {"inline_string": jwks},
                  "from_headers": [{"name": "x-b-token"}], "forward": true,
                  "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"},
                                       {"header_name": "x-b-sub", "claim_name": "sub"}]},
            "c": {"issuer": "https://c.example", "local_jwks": {"inline_string": jwks},
                  "enforce": false}
        },
        "rules": rules
    });
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c
}

fn filter(config: &Value) -> Filter {
    Filter::configure(config.to_string().as_bytes()).unwrap().0
}

fn now() -> Now {
    Now::from_unix_ms(u64::try_from(NOW).unwrap() * 1000)
}

fn tok(iss: &str, sub: &str) -> String {
    let mut c = claims();
    c["iss"] = json!(iss);
    c["sub"] = json!(sub);
    token(Algorithm::ES256, &c)
}

fn expired(iss: &str) -> String {
    let mut c = claims();
    c["iss"] = json!(iss);
    c["exp"] = json!(NOW - 1000);
    token(Algorithm::ES256, &c)
}

/// A token whose signature does not verify.
fn forged(iss: &str) -> String {
    let t = tok(iss, "mallory");
    let (head, _) = t.rsplit_once('.').unwrap();
    format!("{head}.AAAA")
}

fn headers(path: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        (":path".to_string(), path.to_string()),
        // Spoofed claim headers: removed from every request.
        ("x-sub".to_string(), "spoofed".to_string()),
        ("x-b-sub".to_string(), "spoofed".to_string()),
    ];
    h.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    h
}

fn run(f: &mut Filter, path: &str, pairs: &[(&str, &str)]) -> Step {
    Flow::new().handle(f, now(), Event::RequestHeaders(headers(path, pairs)))
}

fn denied(step: &Step) -> Option<Reason> {
    match &step.action {
        Action::Respond(_) => step.report.counts.denied,
        _ => None,
    }
}

fn status(step: &Step) -> u32 {
    match &step.action {
        Action::Respond(r) => r.status,
        Action::Forward(_) => 200,
        other => panic!("not decided: {other:?}"),
    }
}

/// The headers the upstream receives.
fn upstream(step: &Step, sent: &[(String, String)]) -> Vec<(String, String)> {
    let Action::Forward(edits) = &step.action else {
        panic!("not forwarded: {:?}", step.action);
    };
    let mut out: Vec<(String, String)> = sent
        .iter()
        .filter(|(n, _)| !edits.remove.contains(n))
        .filter(|(n, _)| !edits.set.iter().any(|(s, _)| s == n))
        .cloned()
        .collect();
    out.extend(edits.set.iter().cloned());
    out
}

fn get<'h>(h: &'h [(String, String)], name: &str) -> Option<&'h str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn state<'s>(step: &'s Step, key: &str) -> Option<&'s str> {
    step.report
        .filter_state
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn rule(prefix: &str, requires: Value) -> Value {
    json!({"match": {"prefix": prefix}, "requires": requires})
}

#[test]
fn requires_any_reports_the_last_error_that_is_neither_missing_nor_another_issuer() {
    let mut f = filter(&config(
        json!([
            rule("/ab", json!({"requires_any": ["a", "b"]})),
            rule("/ba", json!({"requires_any": ["b", "a"]})),
            rule("/shared", json!({"requires_any": ["a", "a2"]})),
            rule("/shared2", json!({"requires_any": ["a2", "a"]})),
        ]),
        json!({}),
    ));
    let (exp_a, bad_b) = (expired("https://a.example"), forged("https://b.example"));
    let both = [("x-a-token", exp_a.as_str()), ("x-b-token", bad_b.as_str())];
    assert_eq!(
        denied(&run(&mut f, "/ab", &both)),
        Some(Reason::SignatureInvalid)
    );
    assert_eq!(
        denied(&run(&mut f, "/ba", &both)),
        Some(Reason::TokenExpired)
    );
    // A missing token never hides an error, whichever side it is on.
    let only_a = [("x-a-token", exp_a.as_str())];
    assert_eq!(
        denied(&run(&mut f, "/ab", &only_a)),
        Some(Reason::TokenExpired)
    );
    assert_eq!(
        denied(&run(&mut f, "/ba", &only_a)),
        Some(Reason::TokenExpired)
    );
    assert_eq!(denied(&run(&mut f, "/ab", &[])), Some(Reason::TokenMissing));
    // One header, two providers: the token of `a2` is "another issuer" for `a`, which ranks
    // below `a2`'s real error in either order.
    let exp_a2 = expired("https://a2.example");
    for path in ["/shared", "/shared2"] {
        assert_eq!(
            denied(&run(&mut f, path, &[("x-a-token", &exp_a2)])),
            Some(Reason::TokenExpired),
            "{path}"
        );
    }
    let stranger = tok("https://nobody.example", "eve");
    assert_eq!(
        denied(&run(&mut f, "/shared", &[("x-a-token", &stranger)])),
        Some(Reason::IssuerMismatch)
    );
    // The first child that passes wins.
    let good_a2 = tok("https://a2.example", "carol");
    assert!(matches!(
        run(&mut f, "/shared", &[("x-a-token", &good_a2)]).action,
        Action::Forward(_)
    ));
}

#[test]
fn requires_all_needs_every_token_and_sets_the_claims_of_each() {
    let mut f = filter(&config(
        json!([rule(
            "/",
            json!({"requires_all": ["a", {"provider_name": "b"}]})
        )]),
        json!({}),
    ));
    let (ta, tb) = (
        tok("https://a.example", "alice"),
        tok("https://b.example", "bob"),
    );
    let sent = headers("/", &[("x-a-token", &ta), ("x-b-token", &tb)]);
    let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    let up = upstream(&step, &sent);
    // `x-sub` is mapped by both: set once, from the first token used.
    assert_eq!(get(&up, "x-sub"), Some("alice"));
    assert_eq!(up.iter().filter(|(n, _)| n == "x-sub").count(), 1);
    assert_eq!(get(&up, "x-b-sub"), Some("bob"));
    // `a` does not forward its token, `b` does.
    assert_eq!(get(&up, "x-a-token"), None);
    assert_eq!(get(&up, "x-b-token"), Some(tb.as_str()));
    assert_eq!(state(&step, "warden.decision"), Some("allowed"));
    assert_eq!(state(&step, "warden.provider"), Some("a"));

    assert_eq!(
        denied(&run(&mut f, "/", &[("x-a-token", &ta)])),
        Some(Reason::TokenMissing)
    );
    let exp_b = expired("https://b.example");
    assert_eq!(
        denied(&run(
            &mut f,
            "/",
            &[("x-a-token", &ta), ("x-b-token", &exp_b)]
        )),
        Some(Reason::TokenExpired)
    );
}

#[test]
fn allow_missing_passes_no_token_but_not_a_bad_one() {
    let mut f = filter(&config(
        json!([
            rule("/alone", json!({"allow_missing": {}})),
            rule("/or", json!({"requires_any": ["a", {"allow_missing": {}}]})),
        ]),
        json!({}),
    ));
    for path in ["/alone", "/or"] {
        let sent = headers(path, &[]);
        let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
        let up = upstream(&step, &sent);
        assert_eq!(get(&up, "x-sub"), None, "{path}: spoofed claim removed");
        let exp = expired("https://a.example");
        assert_eq!(
            denied(&run(&mut f, path, &[("x-a-token", &exp)])),
            Some(Reason::TokenExpired),
            "{path}"
        );
    }
    // Alone, the token's issuer picks the provider: `b`'s claim headers, `b`'s token kept.
    let tb = tok("https://b.example", "bob");
    let sent = headers("/alone", &[("x-b-token", &tb)]);
    let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    let up = upstream(&step, &sent);
    assert_eq!(get(&up, "x-b-sub"), Some("bob"));
    assert_eq!(state(&step, "warden.provider"), Some("b"));
    // An issuer no provider reading that header has: refused.
    let stray = tok("https://a.example", "alice");
    assert_eq!(
        denied(&run(&mut f, "/alone", &[("x-b-token", &stray)])),
        Some(Reason::IssuerMismatch)
    );
}

#[test]
fn allow_missing_or_failed_forwards_without_the_failed_token_or_its_claims() {
    let mut f = filter(&config(
        json!([
            rule("/alone", json!({"allow_missing_or_failed": {}})),
            rule(
                "/or",
                json!({"requires_any": ["b", {"allow_missing_or_failed": {}}]})
            ),
        ]),
        json!({}),
    ));
    for path in ["/alone", "/or"] {
        let bad = forged("https://b.example");
        let sent = headers(path, &[("x-b-token", &bad)]);
        let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
        let up = upstream(&step, &sent);
        // jwt_authn forwards the failed token; Warden never forwards an unverified one.
        assert_eq!(get(&up, "x-b-token"), None, "{path}");
        assert_eq!(get(&up, "x-b-sub"), None, "{path}");
        assert_eq!(state(&step, "warden.decision"), Some("allowed"));
    }
    // The good token of one provider is used while another's bad token is set aside.
    let (ta, bad_b) = (
        tok("https://a.example", "alice"),
        forged("https://b.example"),
    );
    let sent = headers("/alone", &[("x-a-token", &ta), ("x-b-token", &bad_b)]);
    let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    let up = upstream(&step, &sent);
    assert_eq!(get(&up, "x-sub"), Some("alice"));
    assert_eq!(get(&up, "x-b-token"), None);
}

#[test]
fn a_report_only_rule_forwards_what_it_would_refuse_and_records_why() {
    let mut rule_off = rule("/shadow", json!({"provider_name": "a"}));
    rule_off["enforce"] = json!(false);
    let mut f = filter(&config(
        json!([rule_off, rule("/", json!({"provider_name": "a"}))]),
        json!({}),
    ));
    let exp = expired("https://a.example");
    let enforced = run(&mut f, "/api", &[("x-a-token", &exp)]);
    assert_eq!(denied(&enforced), Some(Reason::TokenExpired));
    assert_eq!(state(&enforced, "warden.decision"), Some("denied"));

    let sent = headers("/shadow", &[("x-a-token", &exp)]);
    let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    let up = upstream(&step, &sent);
    // Forwarded as if no rule applied: the token stays, spoofed claim headers do not.
    assert_eq!(get(&up, "x-a-token"), Some(exp.as_str()));
    assert_eq!(get(&up, "x-sub"), None);
    assert_eq!(step.report.counts.denied, None);
    assert_eq!(step.report.counts.report_only, Some(Reason::TokenExpired));
    assert_eq!(step.report.counts.allowed, 0);
    assert_eq!(state(&step, "warden.decision"), Some("report_only"));
    assert_eq!(
        state(&step, "warden.report_only"),
        Some("reason=token_expired provider=a rule=rules[0] status=401")
    );
    let note = step
        .report
        .notes
        .iter()
        .find(|n| matches!(n, Note::ReportOnly { .. }))
        .unwrap();
    assert_eq!(
        note.to_string(),
        "report-only: would deny token_expired (provider a, rule rules[0])"
    );
    // Missing token: no provider decided.
    let missing = run(&mut f, "/shadow", &[]);
    assert_eq!(
        state(&missing, "warden.report_only"),
        Some("reason=token_missing provider=- rule=rules[0] status=401")
    );
    // A token that verifies is used as on an enforcing rule.
    let good = tok("https://a.example", "alice");
    let sent = headers("/shadow", &[("x-a-token", &good)]);
    let step = Flow::new().handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    assert_eq!(get(&upstream(&step, &sent), "x-sub"), Some("alice"));
    assert_eq!(state(&step, "warden.decision"), Some("allowed"));
}

#[test]
fn a_report_only_provider_makes_only_its_own_failures_report_only() {
    let mut f = filter(&config(
        json!([rule("/", json!({"requires_any": ["a", "c"]}))]),
        json!({}),
    ));
    let bad_c = format!("Bearer {}", expired("https://c.example"));
    let step = run(&mut f, "/", &[("authorization", &bad_c)]);
    assert!(matches!(step.action, Action::Forward(_)));
    assert_eq!(step.report.counts.report_only, Some(Reason::TokenExpired));
    assert_eq!(state(&step, "warden.provider"), Some("c"));
    // `a`'s failure is enforced, and so is a missing token.
    let bad_a = expired("https://a.example");
    assert_eq!(
        denied(&run(&mut f, "/", &[("x-a-token", &bad_a)])),
        Some(Reason::TokenExpired)
    );
    assert_eq!(denied(&run(&mut f, "/", &[])), Some(Reason::TokenMissing));
}

fn verifier_config(rules: Value) -> Value {
    config(
        rules,
        json!({"verifier": {"cluster": "v", "failure_mode": "deny"}}),
    )
}

fn verifier_reply(status: u32, body: Value) -> Event {
    Event::VerifierAnswered(Reply::Answered {
        status,
        body: body.to_string().into_bytes(),
        size: body.to_string().len(),
    })
}

#[test]
fn every_used_token_passes_the_verifier_one_call_after_another() {
    let mut f = filter(&verifier_config(json!([rule(
        "/",
        json!({"requires_all": ["a", "b"]})
    )])));
    let (ta, tb) = (
        tok("https://a.example", "alice"),
        tok("https://b.example", "bob"),
    );
    let sent = headers("/", &[("x-a-token", &ta), ("x-b-token", &tb)]);
    let mut flow = Flow::new();
    let first = flow.handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
    assert!(matches!(first.action, Action::CallVerifier(_)));
    let second = flow.handle(&mut f, now(), verifier_reply(200, json!({"allow": true})));
    assert!(
        matches!(second.action, Action::CallVerifier(_)),
        "{second:?}"
    );
    let last = flow.handle(
        &mut f,
        now(),
        verifier_reply(200, json!({"allow": false, "reason": "revoked"})),
    );
    assert_eq!(denied(&last), Some(Reason::Revoked));
}

#[test]
fn a_token_the_verifier_refuses_under_allow_missing_or_failed_is_a_failed_token() {
    let mut f = filter(&verifier_config(json!([rule(
        "/",
        json!({"allow_missing_or_failed": {}})
    )])));
    let ta = tok("https://a.example", "alice");
    let sent = headers("/", &[("x-a-token", &ta)]);
    for reply in [
        verifier_reply(200, json!({"allow": false, "reason": "revoked"})),
        Event::VerifierAnswered(Reply::Failed),
    ] {
        let mut flow = Flow::new();
        let first = flow.handle(&mut f, now(), Event::RequestHeaders(sent.clone()));
        assert!(matches!(first.action, Action::CallVerifier(_)));
        let step = flow.handle(&mut f, now(), reply);
        let up = upstream(&step, &sent);
        assert_eq!(get(&up, "x-a-token"), None, "taken out");
        assert_eq!(get(&up, "x-sub"), None, "its claims unused");
    }
}

// --- route metadata and filter state -------------------------------------------------------

fn len_field(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(number << 3) | 2];
    let mut n = bytes.len();
    loop {
        let b = u8::try_from(n & 0x7f).unwrap();
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
    out
}

/// `Metadata { filter_metadata { key: "warden", value: Struct { fields } } }`.
fn route_metadata(fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut strukt = Vec::new();
    for (k, value) in fields {
        let entry = [len_field(1, k.as_bytes()), len_field(2, value)].concat();
        strukt.extend(len_field(1, &entry));
    }
    let entry = [len_field(1, b"warden"), len_field(2, &strukt)].concat();
    len_field(1, &entry)
}

fn string_value(s: &str) -> Vec<u8> {
    len_field(3, s.as_bytes())
}

fn bool_value(b: bool) -> Vec<u8> {
    vec![4 << 3, u8::from(b)]
}

fn routed(f: &mut Filter, path: &str, metadata: Vec<u8>, pairs: &[(&str, &str)]) -> Step {
    let input = RequestInput {
        headers: headers(path, pairs),
        route_metadata: Some(RouteMetadata::Protobuf(metadata)),
        filter_state: None,
    };
    Flow::new().handle(f, now(), Event::Request(input))
}

#[test]
fn route_metadata_selects_a_named_requirement_or_disables_the_check() {
    let mut f = filter(&config(
        json!([rule("/", json!({"provider_name": "a"}))]),
        json!({"requirements": {"b_only": {"provider_name": "b"}}}),
    ));
    let (ta, tb) = (
        tok("https://a.example", "alice"),
        tok("https://b.example", "bob"),
    );
    let named = route_metadata(&[("requirement", string_value("b_only"))]);
    assert!(matches!(
        routed(&mut f, "/x", named.clone(), &[("x-b-token", &tb)]).action,
        Action::Forward(_)
    ));
    // The path rule would have taken `a`'s token; the route says `b`.
    assert_eq!(
        denied(&routed(&mut f, "/x", named, &[("x-a-token", &ta)])),
        Some(Reason::TokenMissing)
    );
    let off = route_metadata(&[("disabled", bool_value(true))]);
    let step = routed(&mut f, "/x", off, &[]);
    assert!(matches!(step.action, Action::Forward(_)));
    assert_eq!(state(&step, "warden.decision"), None);
    // No `warden` metadata: the path rules decide.
    assert_eq!(
        denied(&routed(&mut f, "/x", Vec::new(), &[])),
        Some(Reason::TokenMissing)
    );
    // A name the configuration lacks: 403, fail closed, logged at warn.
    let unknown = route_metadata(&[("requirement", string_value("nope"))]);
    let step = routed(&mut f, "/x", unknown, &[("x-a-token", &ta)]);
    assert_eq!(denied(&step), Some(Reason::RequirementUnknown));
    assert_eq!(status(&step), 403);
    assert!(step
        .report
        .notes
        .iter()
        .any(|n| matches!(n, Note::RequirementUnknown(name) if name == "nope")));
    // Unreadable metadata or a wrong type fail closed too.
    for bad in [
        vec![0x0a, 0x05, 0x01],
        route_metadata(&[("requirement", bool_value(true))]),
        route_metadata(&[
            ("requirement", string_value("b_only")),
            ("disabled", bool_value(true)),
        ]),
    ] {
        assert_eq!(
            denied(&routed(&mut f, "/x", bad, &[])),
            Some(Reason::RequirementUnknown)
        );
    }
}

#[test]
fn filter_state_rules_apply_only_where_no_path_rule_matched() {
    let mut f = filter(&config(
        json!([{"match": {"prefix": "/open"}}]),
        json!({"filter_state_rules": {"name": "tier",
               "requires": {"strict": {"provider_name": "a"}}}}),
    ));
    let step = |f: &mut Filter, path: &str, value: Option<&str>| {
        let input = RequestInput {
            headers: headers(path, &[]),
            route_metadata: None,
            filter_state: value.map(str::to_string),
        };
        Flow::new().handle(f, now(), Event::Request(input))
    };
    assert_eq!(
        denied(&step(&mut f, "/x", Some("strict"))),
        Some(Reason::TokenMissing)
    );
    assert!(matches!(
        step(&mut f, "/x", Some("other")).action,
        Action::Forward(_)
    ));
    assert!(matches!(
        step(&mut f, "/x", None).action,
        Action::Forward(_)
    ));
    // A path rule that matched (even one needing no token) wins over filter state.
    assert!(matches!(
        step(&mut f, "/open", Some("strict")).action,
        Action::Forward(_)
    ));
}

// --- configuration -------------------------------------------------------------------------

fn config_error(rules: Value, extra: Value) -> String {
    Config::parse(&config(rules, extra).to_string())
        .unwrap_err()
        .to_string()
}

#[test]
fn requirement_trees_are_bounded_and_every_error_names_its_node() {
    let mut deep = json!({"provider_name": "a"});
    for _ in 0..MAX_REQUIREMENT_DEPTH {
        deep = json!({"requires_any": [deep]});
    }
    let e = config_error(json!([rule("/", deep)]), json!({}));
    assert!(e.contains("nest at most 8 deep"), "{e}");
    assert!(e.starts_with("rules[0].requires.requires_any[0]"), "{e}");

    let wide: Vec<Value> = (0..MAX_REQUIREMENT_NODES).map(|_| json!("a")).collect();
    let e = config_error(json!([rule("/", json!({"requires_all": wide}))]), json!({}));
    assert!(e.contains("at most 64 nodes"), "{e}");

    for (requires, want) in [
        (
            json!({"requires_all": []}),
            "rules[0].requires.requires_all: must not be empty",
        ),
        (
            json!({"requires_any": ["a", "ghost"]}),
            "rules[0].requires.requires_any[1]: unknown provider \"ghost\"",
        ),
        (
            json!({"provider_name": "a", "requires_any": ["b"]}),
            "rules[0].requires: set exactly one of",
        ),
        (
            json!({"requires_none": ["a"]}),
            "rules[0].requires: unknown member \"requires_none\"",
        ),
        (json!("a"), "rules[0].requires: must be an object"),
        (
            json!({"allow_missing": {"x": 1}}),
            "rules[0].requires.allow_missing: must be {}",
        ),
        (
            json!({"requires_any": [{"requires_all": [3]}]}),
            "rules[0].requires.requires_any[0].requires_all[0]: must be a provider name",
        ),
    ] {
        let e = config_error(json!([rule("/", requires)]), json!({}));
        assert!(e.starts_with(want), "{e} (want {want})");
    }
    let e = config_error(
        json!([{"match": {"prefix": "/"}, "requirement_name": "nope"}]),
        json!({}),
    );
    assert!(
        e.starts_with("rules[0].requirement_name: unknown requirement"),
        "{e}"
    );
    let e = config_error(
        json!([{"match": {"prefix": "/"}, "requirement_name": "r", "requires": {"provider_name": "a"}}]),
        json!({"requirements": {"r": {"provider_name": "a"}}}),
    );
    assert!(e.contains("not both"), "{e}");
    let e = config_error(
        json!([]),
        json!({"requirements": {"r": {"provider_name": "x"}}}),
    );
    assert!(
        e.starts_with("requirements.r.provider_name: unknown provider"),
        "{e}"
    );
    let e = config_error(
        json!([]),
        json!({"filter_state_rules": {"name": "k", "requires": {"v": {"requires_all": "a"}}}}),
    );
    assert!(
        e.starts_with("filter_state_rules.requires.v.requires_all: must be a list"),
        "{e}"
    );
    // A named requirement serves a rule too.
    let ok = Config::parse(
        &config(
            json!([{"match": {"prefix": "/"}, "requirement_name": "r", "enforce": false}]),
            json!({"requirements": {"r": {"requires_any": ["a", {"allow_missing": {}}]}}}),
        )
        .to_string(),
    )
    .unwrap();
    assert!(!ok.rules[0].enforce);
    assert_eq!(ok.rules[0].requires.as_ref(), ok.requirement("r"));
}
