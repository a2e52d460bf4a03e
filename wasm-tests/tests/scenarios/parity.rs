//! Parity: the playground's explanation (warden-core's `explain`, through the binding the page
//! and `warden-explain` call) gives the very answer the real `.wasm` gives in this host, over a
//! corpus of scenarios: status, `WWW-Authenticate`, body, forwarded headers, the verifier call.
//! The corpus and the host's answers are written to `target/playground/parity-corpus.json`, so
//! the e2e suite checks the wasm32-unknown-unknown build (Node) against the same answers.

use crate::common::*;
use serde_json::{json, Value};
use warden_wasm_tests::Outcome;

struct Case {
    name: &'static str,
    config: Value,
    request: Value,
}

fn bearer(token: &str) -> Value {
    json!({"authorization": format!("Bearer {token}")})
}

fn req(path: &str, headers: Value) -> Value {
    json!({"method": "GET", "path": path, "authority": "api.example", "headers": headers,
           "now": NOW})
}

fn corpus() -> Vec<Case> {
    let k = keys();
    let other = warden_testkit::other_keys();
    let base = config();
    let good = k.sign(Alg::ES256, &claims());
    let mut cases = Vec::new();
    let mut add = |name: &'static str, config: &Value, request: Value| {
        cases.push(Case {
            name,
            config: config.clone(),
            request,
        })
    };
    for alg in Alg::ALL {
        let token = k.sign(alg, &claims());
        add("valid token", &base, req("/api/orders", bearer(&token)));
    }
    add(
        "expired",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::ES256, &claims_with(json!({"exp": NOW - 3600})))),
        ),
    );
    add(
        "not yet valid",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::ES256, &claims_with(json!({"nbf": NOW + 3600})))),
        ),
    );
    add(
        "wrong audience",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::EdDSA, &claims_with(json!({"aud": "other"})))),
        ),
    );
    add(
        "wrong issuer",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::RS256, &claims_with(json!({"iss": "https://evil"})))),
        ),
    );
    add(
        "no exp",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::ES256, &claims_with(json!({"exp": null})))),
        ),
    );
    add(
        "string exp",
        &base,
        req(
            "/api",
            bearer(&k.sign(Alg::ES256, &claims_with(json!({"exp": "soon"})))),
        ),
    );
    let unknown_kid = other.sign_with_header(
        Alg::ES256,
        &json!({"alg": "ES256", "kid": "nope"}),
        &claims(),
    );
    add("unknown kid", &base, req("/api", bearer(&unknown_kid)));
    add(
        "foreign signature",
        &base,
        req("/api", bearer(&other.sign(Alg::ES256, &claims()))),
    );
    add(
        "alg none",
        &base,
        req("/api", bearer(&hostile::alg_none("none", &claims()))),
    );
    add(
        "crit",
        &base,
        req(
            "/api",
            bearer(&k.with_crit(Alg::ES256, json!(["exp"]), &claims())),
        ),
    );
    add(
        "flipped signature",
        &base,
        req("/api", bearer(&hostile::flip_signature_bit(&good))),
    );
    add("not a token", &base, req("/api", bearer("abc.def")));
    add("no token", &base, req("/api", json!({})));
    add(
        "empty bearer",
        &base,
        req("/api", json!({"authorization": "Bearer "})),
    );
    add(
        "duplicate",
        &base,
        req(
            "/api",
            json!({"authorization": [format!("Bearer {good}"), format!("Bearer {good}")]}),
        ),
    );
    add(
        "open path",
        &base,
        req("/healthz", json!({"x-jwt-sub": "mallory"})),
    );
    add(
        "spoofed claim header",
        &base,
        req(
            "/api",
            json!({"authorization": format!("Bearer {good}"), "x_jwt_sub": "mallory"}),
        ),
    );
    for path in [
        "/healthz/../api",
        "/healthz/..%2fapi",
        "/healthz;/../api",
        "/healthz%2f..%2fapi",
        "/%2e%2e/healthz",
    ] {
        add("path bypass attempt", &base, req(path, bearer(&good)));
    }
    add("control char path", &base, req("/api%00", bearer(&good)));

    let with_sources = config_with(
        provider(
            &k.jwks(),
            json!({"from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                                    "from_params": ["access_token"], "from_cookies": ["session"]}),
        ),
        None,
    );
    let mut in_query = req("/api?page=2", json!({}));
    in_query["query"] = json!({"access_token": good});
    add("token in query", &with_sources, in_query);
    let mut in_cookie = req("/api", json!({"cookie": "theme=dark"}));
    in_cookie["cookies"] = json!({"session": good});
    add("token in cookie", &with_sources, in_cookie);

    for mode in ["deny", "allow"] {
        let cfg = config_with(provider(&k.jwks(), json!({})), Some(verifier(mode)));
        add("verifier allows", &cfg, req("/api", bearer(&good)));
        for answer in [
            json!({"allow": false, "reason": "revoked"}),
            json!("unavailable"),
            json!({"status": 500, "body": "oops"}),
        ] {
            let mut r = req("/api", bearer(&good));
            r["verifier"] = answer;
            add("verifier answer", &cfg, r);
        }
        let no_jti = k.sign(Alg::ES256, &claims_with(json!({"jti": null})));
        add(
            "no jti for the verifier",
            &cfg,
            req("/api", bearer(&no_jti)),
        );
    }

    let remote = config_with(
        provider(
            &json!({}),
            json!({"local_jwks": null,
            "remote_jwks": {"cluster": "idp", "path": "/jwks", "authority": "idp.example"}}),
        ),
        None,
    );
    let public = json!({"keys": [k.jwk(Alg::ES256), k.jwk(Alg::RS256)]});
    let mut pasted = req("/api", bearer(&good));
    pasted["jwks"] = json!({"main": public});
    add("remote jwks pasted", &remote, pasted);
    add(
        "remote jwks not pasted",
        &remote,
        req("/api", bearer(&good)),
    );
    cases
}

/// The host's answer in the shape the explanation uses.
fn host_answer(case: &Case, headers: &[(String, String)]) -> Value {
    let mut host = start(&case.config);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = host.request(&pairs).expect("request");
    let mut verifier_body = Value::Null;
    for _ in 0..4 {
        if !host.outcome(request).is_paused() {
            break;
        }
        if let Some(call) = host.pending_http_call_to("idp") {
            match case.request["jwks"]["main"].as_object() {
                Some(doc) => host
                    .respond_http_call(
                        call.token,
                        200,
                        &[],
                        Value::Object(doc.clone()).to_string().as_bytes(),
                    )
                    .unwrap(),
                None => host.fail_http_call(call.token).unwrap(),
            }
        } else if let Some(call) = host.pending_http_call_to("warden_verifier") {
            verifier_body = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
            let answer = &case.request["verifier"];
            match answer {
                Value::Null => host
                    .respond_http_call(call.token, 200, &[], br#"{"allow":true}"#)
                    .unwrap(),
                Value::String(s) if s == "unavailable" => host.fail_http_call(call.token).unwrap(),
                Value::Object(o) if o.contains_key("status") => host
                    .respond_http_call(
                        call.token,
                        o["status"].as_u64().unwrap() as u16,
                        &[],
                        o["body"].as_str().unwrap_or("").as_bytes(),
                    )
                    .unwrap(),
                other => host
                    .respond_http_call(call.token, 200, &[], other.to_string().as_bytes())
                    .unwrap(),
            }
        } else {
            panic!("{}: paused without a call", case.name);
        }
    }
    match host.outcome(request) {
        Outcome::Continue { headers } => {
            let mut forwarded: Vec<(String, String)> = headers.pairs().to_vec();
            forwarded.sort();
            json!({"status": 200, "forwarded_headers": forwarded, "verifier_body": verifier_body})
        }
        Outcome::LocalResponse(r) => json!({
            "status": r.status,
            "www_authenticate": r.header("www-authenticate"),
            "content_type": r.header("content-type"),
            "body": serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
            "verifier_body": verifier_body,
        }),
        other => panic!("{}: {other:?}", case.name),
    }
}

/// The same fields from the explanation.
fn explained_answer(x: &Value) -> Value {
    let verifier_body = x["verifier_call"]["body"].clone();
    if x["decision"] == "forward" {
        let mut forwarded: Vec<(String, String)> =
            serde_json::from_value(x["forwarded_headers"].clone()).unwrap();
        forwarded.sort();
        json!({"status": 200, "forwarded_headers": forwarded, "verifier_body": verifier_body})
    } else {
        let header = |name: &str| {
            x["answer"]["headers"]
                .as_array()
                .and_then(|hs| hs.iter().find(|h| h[0] == name))
                .map(|h| h[1].clone())
                .unwrap_or(Value::Null)
        };
        json!({
            "status": x["status"],
            "www_authenticate": header("www-authenticate"),
            "content_type": header("content-type"),
            "body": x["answer"]["body"],
            "verifier_body": verifier_body,
        })
    }
}

#[test]
fn explanations_give_the_filters_answers() {
    let mut written = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    for case in corpus() {
        let config = case.config.to_string();
        let explanation: Value = serde_json::from_str(&warden_playground::explain(
            &config,
            &case.request.to_string(),
            0.0,
        ))
        .unwrap();
        assert_eq!(explanation["ok"], true, "{}: {explanation}", case.name);
        let headers: Vec<(String, String)> =
            serde_json::from_value(explanation["request"]["headers"].clone()).unwrap();
        let host = host_answer(&case, &headers);
        let explained = explained_answer(&explanation);
        assert_eq!(explained, host, "{}: {}", case.name, case.request);
        statuses.insert(explanation["reason"].as_str().unwrap_or("").to_string());
        written.push(
            json!({"name": case.name, "config": case.config, "request": case.request,
                            "host": host, "reason": explanation["reason"]}),
        );
    }
    // The corpus reaches every kind of decision, so the parity is not one answer repeated.
    for reason in [
        "allowed",
        "unprotected",
        "failure_mode_allow",
        "token_expired",
        "token_not_yet_valid",
        "audience_mismatch",
        "issuer_mismatch",
        "key_not_found",
        "signature_invalid",
        "algorithm_not_allowed",
        "crit_unsupported",
        "token_malformed",
        "token_missing",
        "claim_missing",
        "path_rejected",
        "revoked",
        "verifier_unavailable",
    ] {
        assert!(
            statuses.contains(reason),
            "no scenario ends in {reason}: {statuses:?}"
        );
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/playground");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("parity-corpus.json"),
        serde_json::to_string_pretty(&written).unwrap(),
    )
    .unwrap();
}
