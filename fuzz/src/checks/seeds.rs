//! The seed corpora (`fuzz/corpus/<target>/`): a few dozen meaningful inputs per target, built
//! with the fixed keys so valid tokens and signatures are among them. Written by
//! `cargo test -p warden-core --test fuzz_regressions -- --ignored write_seed_corpora`.

use super::keys::{self, NOW};
use super::token::{AUDIENCE, ISSUER};
use serde_json::{json, Value};
use warden_core::{b64, Algorithm};

pub type Seeds = Vec<(String, Vec<u8>)>;

fn seed(out: &mut Seeds, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
    out.push((name.into(), bytes.into()));
}

pub fn good_claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "jti": "j1", "sid": "s1", "ver": 3,
           "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600})
}

/// A compact token over `header` and `claims`, signed by the fixed key for `alg`.
pub fn token(alg: Algorithm, header: &Value, claims: &Value) -> String {
    let input = keys::signing_input(header.to_string().as_bytes(), claims.to_string().as_bytes());
    let sig = keys::sign(alg, input.as_bytes(), 7);
    keys::compact(&input, &sig)
}

pub fn good_token(alg: Algorithm) -> String {
    token(
        alg,
        &json!({"alg": alg.name(), "typ": "JWT", "kid": keys::kid(alg)}),
        &good_claims(),
    )
}

pub fn token_verify() -> Seeds {
    let mut out = Seeds::new();
    for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
        let req = [0u8, 3, 7, 19][i % 4];
        seed(
            &mut out,
            format!("valid-{alg}"),
            [&[0, req][..], good_token(alg).as_bytes()].concat(),
        );
    }
    let es = good_token(Algorithm::ES256);
    let (input, _) = es.rsplit_once('.').unwrap_or_default();
    let raw = |name: &str, text: &str, out: &mut Seeds| {
        seed(out, name, [&[0u8, 3][..], text.as_bytes()].concat());
    };
    raw("tampered-signature", &format!("{input}.AAAA"), &mut out);
    raw("empty-signature", &format!("{input}."), &mut out);
    raw("two-parts", input, &mut out);
    raw("four-parts", &format!("{es}.x"), &mut out);
    raw("padded-b64", &format!("{es}=="), &mut out);
    let none = format!(
        "{}.{}.",
        b64::encode(br#"{"alg":"none"}"#),
        b64::encode(good_claims().to_string().as_bytes())
    );
    raw("alg-none", &none, &mut out);
    let hs_as_rs = token(Algorithm::HS256, &json!({"alg": "RS256"}), &good_claims());
    raw("hs-signed-rs-header", &hs_as_rs, &mut out);
    let signed =
        |name: &str, alg: Algorithm, req: u8, header: &Value, claims: &Value, out: &mut Seeds| {
            let idx = Algorithm::ALL.iter().position(|a| *a == alg).unwrap_or(0) as u8;
            let body = [
                header.to_string().as_bytes(),
                &[0xff],
                claims.to_string().as_bytes(),
            ]
            .concat();
            seed(out, name, [&[1u8, req, idx][..], &body].concat());
        };
    let c = good_claims();
    signed(
        "signed-es256",
        Algorithm::ES256,
        3,
        &json!({"alg": "ES256"}),
        &c,
        &mut out,
    );
    signed(
        "signed-ps384",
        Algorithm::PS384,
        1,
        &json!({"alg": "PS384", "kid": "rs"}),
        &c,
        &mut out,
    );
    signed(
        "signed-eddsa",
        Algorithm::EdDSA,
        7,
        &json!({"alg": "EdDSA"}),
        &c,
        &mut out,
    );
    signed(
        "signed-hs512",
        Algorithm::HS512,
        0,
        &json!({"alg": "HS512", "kid": "hs"}),
        &c,
        &mut out,
    );
    signed(
        "confusion-rs-key-as-hmac",
        Algorithm::HS256,
        0,
        &json!({"alg": "RS256"}),
        &c,
        &mut out,
    );
    signed(
        "crit",
        Algorithm::ES256,
        0,
        &json!({"alg": "ES256", "crit": ["exp"]}),
        &c,
        &mut out,
    );
    signed(
        "kid-unknown",
        Algorithm::ES256,
        0,
        &json!({"alg": "ES256", "kid": "nope"}),
        &c,
        &mut out,
    );
    signed(
        "kid-number",
        Algorithm::ES256,
        0,
        &json!({"alg": "ES256", "kid": 1}),
        &c,
        &mut out,
    );
    signed(
        "expired",
        Algorithm::ES384,
        3,
        &json!({"alg": "ES384"}),
        &json!({"iss": ISSUER, "aud": AUDIENCE, "exp": NOW - 61}),
        &mut out,
    );
    signed(
        "no-exp",
        Algorithm::RS256,
        16,
        &json!({"alg": "RS256"}),
        &json!({"sub": "a"}),
        &mut out,
    );
    signed(
        "exp-string",
        Algorithm::RS512,
        16,
        &json!({"alg": "RS512"}),
        &json!({"exp": "99999999999"}),
        &mut out,
    );
    signed(
        "exp-fraction",
        Algorithm::ES256,
        16,
        &json!({"alg": "ES256"}),
        &json!({"exp": 1.7e9}),
        &mut out,
    );
    signed(
        "exp-huge",
        Algorithm::ES256,
        16,
        &json!({"alg": "ES256"}),
        &json!({"exp": 1e300}),
        &mut out,
    );
    signed(
        "nbf-future",
        Algorithm::EdDSA,
        0,
        &json!({"alg": "EdDSA"}),
        &json!({"exp": NOW + 100, "nbf": NOW + 61}),
        &mut out,
    );
    signed(
        "aud-array",
        Algorithm::HS384,
        3,
        &json!({"alg": "HS384"}),
        &json!({"iss": ISSUER, "aud": ["x", AUDIENCE], "exp": NOW + 1}),
        &mut out,
    );
    signed(
        "aud-wrong",
        Algorithm::HS256,
        3,
        &json!({"alg": "HS256"}),
        &json!({"iss": ISSUER, "aud": ["x"], "exp": NOW + 1}),
        &mut out,
    );
    signed(
        "payload-array",
        Algorithm::HS256,
        16,
        &json!({"alg": "HS256"}),
        &json!([1, 2]),
        &mut out,
    );
    signed(
        "header-array",
        Algorithm::HS256,
        16,
        &json!(["alg", "HS256"]),
        &c,
        &mut out,
    );
    signed(
        "too-large",
        Algorithm::PS512,
        32,
        &json!({"alg": "PS512"}),
        &c,
        &mut out,
    );
    out
}

pub fn jwks_parse() -> Seeds {
    let mut out = Seeds::new();
    let set: Value = serde_json::from_str(&keys::public_jwks()).unwrap_or_default();
    seed(&mut out, "all-keys", set.to_string());
    if let Some(list) = set["keys"].as_array() {
        for key in list {
            let kid = key["kid"].as_str().unwrap_or("k");
            seed(&mut out, format!("single-{kid}"), key.to_string());
            let mut pinned = key.clone();
            pinned["alg"] = json!("ES256");
            seed(
                &mut out,
                format!("pinned-es256-{kid}"),
                json!({"keys": [pinned]}).to_string(),
            );
        }
    }
    use rsa::traits::PublicKeyParts;
    for (i, k) in keys::keys().rsa.iter().enumerate() {
        let jwk = keys::rsa_jwk(&k.n().to_bytes_be(), &k.e().to_bytes_be());
        seed(
            &mut out,
            format!("rsa-fixed-{i}"),
            json!({"keys": [jwk]}).to_string(),
        );
    }
    let fixed = &keys::keys().rsa[0];
    let n = fixed.n().to_bytes_be();
    let cases = [
        ("rsa-e1", keys::rsa_jwk(&n, &[1])),
        ("rsa-e-even", keys::rsa_jwk(&n, &[1, 0, 0])),
        ("rsa-e-9-bytes", keys::rsa_jwk(&n, &[1; 9])),
        (
            "rsa-n-even",
            keys::rsa_jwk(&[&n[..n.len() - 1], &[2]].concat(), &[1, 0, 1]),
        ),
        ("rsa-1024", keys::rsa_jwk(&n[..128], &[1, 0, 1])),
        (
            "rsa-leading-zeros",
            keys::rsa_jwk(&[&[0u8, 0][..], &n].concat(), &[0, 1, 0, 1]),
        ),
        ("ec-off-curve", keys::ec_jwk("P-256", &[1; 32], &[2; 32])),
        ("ec-short", keys::ec_jwk("P-256", &[1; 31], &[2; 32])),
        ("ec-p521", keys::ec_jwk("P-521", &[1; 66], &[2; 66])),
        (
            "ec-p384-coords-as-p256",
            keys::ec_jwk("P-256", &[1; 48], &[2; 48]),
        ),
    ];
    for (name, jwk) in cases {
        seed(&mut out, name, json!({"keys": [jwk]}).to_string());
    }
    seed(
        &mut out,
        "oct-short",
        r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#,
    );
    seed(
        &mut out,
        "okp-small-order",
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&[0u8; 32])}]})
            .to_string(),
    );
    seed(
        &mut out,
        "use-enc",
        r#"{"keys":[{"kty":"oct","use":"enc","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#,
    );
    seed(
        &mut out,
        "kid-number",
        r#"{"keys":[{"kty":"oct","kid":7,"k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}]}"#,
    );
    seed(&mut out, "keys-object", r#"{"keys":{}}"#);
    seed(&mut out, "keys-junk", r#"{"keys":[1,"x",null,[],{}]}"#);
    seed(&mut out, "not-json", "{\"keys\":[");
    out
}

pub fn config_compile() -> Seeds {
    let mut out = Seeds::new();
    let jwks = keys::public_jwks();
    let full = json!({
        "providers": {
            "main": {
                "issuer": ISSUER, "audiences": [AUDIENCE],
                "local_jwks": {"inline_string": jwks},
                "algorithms": ["ES256", "EdDSA"],
                "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
                "from_params": ["access_token"], "from_cookies": ["session"],
                "clock_skew_seconds": 60, "require_expiration": true, "max_token_bytes": 8192,
                "forward": false,
                "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
            },
            "idp": {"remote_jwks": {"cluster": "idp", "path": "/.well-known/jwks.json",
                    "authority": "idp", "timeout_ms": 1000, "cache_duration_seconds": 600}}
        },
        "rules": [
            {"match": {"prefix": "/healthz"}},
            {"match": {"path": "/either"}, "requires": {"requires_any": ["main", "idp"]}},
            {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}
        ],
        "verifier": {"cluster": "warden_verifier", "authority": "warden-verifier",
                     "path": "/v1/check", "timeout_ms": 200, "failure_mode": "deny"}
    });
    seed(&mut out, "readme-example", full.to_string());
    let variants: [(&str, &str, Value); 14] = [
        ("unknown-field", "/providers/main/colour", json!("red")),
        ("alg-none", "/providers/main/algorithms", json!(["none"])),
        ("alg-empty", "/providers/main/algorithms", json!([])),
        (
            "both-jwks",
            "/providers/main/remote_jwks",
            json!({"cluster": "c", "path": "/j"}),
        ),
        ("bad-cookie", "/providers/main/from_cookies", json!(["a=b"])),
        (
            "max-token-zero",
            "/providers/main/max_token_bytes",
            json!(0),
        ),
        ("issuer-empty", "/providers/main/issuer", json!("")),
        (
            "header-upper",
            "/providers/main/from_headers",
            json!([{"name": "Authorization"}]),
        ),
        (
            "claim-header-bad",
            "/providers/main/claim_to_headers",
            json!([{"header_name": "x y", "claim_name": "sub"}]),
        ),
        (
            "rule-missing-provider",
            "/rules/2/requires",
            json!({"provider_name": "ghost"}),
        ),
        (
            "rule-both-matchers",
            "/rules/0/match",
            json!({"prefix": "/", "path": "/"}),
        ),
        ("failure-allow", "/verifier/failure_mode", json!("allow")),
        ("timeout-huge", "/verifier/timeout_ms", json!(99_999_999u64)),
        (
            "jwks-cache-zero",
            "/providers/idp/remote_jwks/cache_duration_seconds",
            json!(0),
        ),
    ];
    for (name, pointer, value) in variants {
        let mut doc = full.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        if let Some(obj) = doc.pointer_mut(parent).and_then(Value::as_object_mut) {
            obj.insert(field.to_string(), value);
        } else if let Some(list) = doc.pointer_mut(parent).and_then(Value::as_array_mut) {
            if let (Ok(i), Some(obj)) = (field.parse::<usize>(), value.as_object()) {
                if let Some(slot) = list.get_mut(i) {
                    for (k, v) in obj {
                        slot[k] = v.clone();
                    }
                }
            }
        }
        seed(&mut out, name, doc.to_string());
    }
    seed(&mut out, "empty-object", "{}");
    seed(
        &mut out,
        "minimal",
        json!({"providers": {"p": {"local_jwks": {"inline_string": jwks}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "p"}}]})
        .to_string(),
    );
    seed(&mut out, "not-an-object", "[1]");
    seed(
        &mut out,
        "jwks-not-json",
        r#"{"providers":{"p":{"local_jwks":{"inline_string":"{"}}}}"#,
    );
    out
}

pub fn request_auth() -> Seeds {
    let mut out = Seeds::new();
    let hdr = good_token(Algorithm::ES256);
    let rs = good_token(Algorithm::RS256);
    let ed = good_token(Algorithm::EdDSA);
    let hs = good_token(Algorithm::HS256);
    let req = |name: &str, choice: u8, lines: &[String], out: &mut Seeds| {
        seed(
            out,
            name,
            [&[choice][..], lines.join("\n").as_bytes()].concat(),
        );
    };
    let p = |path: &str| format!(":path: {path}");
    let auth = |t: &str| format!("authorization: Bearer {t}");
    req("bearer-admin", 0, &[p("/admin/x"), auth(&hdr)], &mut out);
    req("bearer-root", 0, &[p("/"), auth(&rs)], &mut out);
    req("x-token", 0, &[p("/x"), format!("x-token: {ed}")], &mut out);
    req(
        "param-api",
        0,
        &[p(&format!("/api/v?a=1&access_token={hs}&b=2"))],
        &mut out,
    );
    req(
        "param-encoded-name",
        0,
        &[p(&format!("/api?access%5Ftoken={hs}"))],
        &mut out,
    );
    req(
        "param-twice",
        0,
        &[p(&format!("/api?access_token={hs}&access_token={hs}"))],
        &mut out,
    );
    req(
        "cookie-api",
        0,
        &[p("/api/x"), format!("cookie: a=b; session={ed}; c=d")],
        &mut out,
    );
    req(
        "cookie-twice",
        0,
        &[p("/api/x"), format!("cookie: session={ed}; session=forged")],
        &mut out,
    );
    req(
        "cookie-loose-name",
        0,
        &[
            p("/api/x"),
            format!("cookie: session={ed}"),
            "cookie: session =forged".into(),
        ],
        &mut out,
    );
    req(
        "cookie-quoted",
        0,
        &[p("/api/x"), format!("cookie: session=\"{ed}\"")],
        &mut out,
    );
    req(
        "second-source",
        0,
        &[p("/api/x"), auth(&hdr), format!("cookie: session={ed}")],
        &mut out,
    );
    req(
        "bearer-twice",
        0,
        &[p("/admin"), auth(&hdr), auth(&rs)],
        &mut out,
    );
    req(
        "basic-and-bearer",
        0,
        &[p("/admin"), "authorization: Basic YTpi".into(), auth(&hdr)],
        &mut out,
    );
    req(
        "spoofed-claim-header",
        0,
        &[
            p("/admin"),
            auth(&hdr),
            "x-jwt-sub: root".into(),
            "x_jwt_sub: root".into(),
        ],
        &mut out,
    );
    req("healthz", 0, &[p("/healthz")], &mut out);
    req("healthz-dotdot", 0, &[p("/healthz/../admin")], &mut out);
    req("open-exact", 0, &[p("/open?x=1")], &mut out);
    req("no-path", 0, &[auth(&hdr)], &mut out);
    req("star-path", 0, &[p("*")], &mut out);
    req("expired-later", 255, &[p("/admin"), auth(&hdr)], &mut out);
    req("one-area-admin", 1, &[p("/admin"), auth(&hdr)], &mut out);
    req("one-area-open", 1, &[p("/public")], &mut out);
    for (i, path) in [
        "//admin",
        "/./admin",
        "/x/../admin",
        "/%61dmin",
        "/admin;x=1",
        "/;/admin",
        "/\\admin",
        "/ADMIN",
        "/admin%00",
        "/exact/",
        "/%2561dmin%25",
        "/%2561dmin;%25",
        "/x%252f..%252fadmin%25",
        "/x%255c..%255cadmin%25",
        "/x/%25252e%25252e/admin",
        "/exact/.",
        "/exact//",
    ]
    .iter()
    .enumerate()
    {
        req(&format!("one-area-confusion-{i}"), 1, &[p(path)], &mut out);
    }
    req(
        "one-area-param",
        1,
        &[p(&format!("/admin?access_token={hs}"))],
        &mut out,
    );
    req(
        "one-area-cookie",
        1,
        &[p("/admin"), format!("cookie: session={ed}")],
        &mut out,
    );
    out
}

pub fn verifier_bodies() -> Seeds {
    let mut out = Seeds::new();
    let check = json!({"sub": "alice", "jti": "j1", "sid": "s1", "ver": 2, "iat": NOW, "exp": NOW + 60, "iss": ISSUER});
    let long = "a".repeat(257);
    let sid = format!("{}.{}", "A".repeat(22), "dGFn");
    let bodies: Vec<(&str, u8, String)> = vec![
        ("check", 0, check.to_string()),
        (
            "check-minimal",
            0,
            r#"{"sub":"a","jti":"b","exp":0}"#.into(),
        ),
        (
            "check-unknown-field",
            0,
            r#"{"sub":"a","jti":"b","exp":1,"x":1}"#.into(),
        ),
        (
            "check-exp-string",
            0,
            r#"{"sub":"a","jti":"b","exp":"1"}"#.into(),
        ),
        ("response-allow", 1, r#"{"allow":true}"#.into()),
        (
            "response-deny",
            1,
            r#"{"allow":false,"reason":"stale_version"}"#.into(),
        ),
        ("answer-allow", 2, r#"{"allow":true}"#.into()),
        (
            "answer-deny-unknown-reason",
            2,
            r#"{"allow":false,"reason":"nope"}"#.into(),
        ),
        (
            "answer-deny-missing",
            2,
            r#"{"allow":false,"reason":"token_missing"}"#.into(),
        ),
        ("answer-allow-string", 2, r#"{"allow":"true"}"#.into()),
        (
            "answer-duplicate",
            2,
            r#"{"allow":false,"allow":true}"#.into(),
        ),
        ("claims", 3, good_claims().to_string()),
        (
            "claims-long-sub",
            3,
            json!({"sub": long, "jti": "j"}).to_string(),
        ),
        (
            "claims-ver-negative",
            3,
            r#"{"sub":"a","jti":"j","ver":-1}"#.into(),
        ),
        ("claims-no-exp", 3, r#"{"sub":"a","jti":"j"}"#.into()),
        ("verifier-check", 4, check.to_string()),
        (
            "verifier-check-empty-sub",
            4,
            r#"{"sub":"","jti":"b","exp":0}"#.into(),
        ),
        (
            "verifier-check-long-jti",
            4,
            json!({"sub": "a", "jti": long, "exp": 0}).to_string(),
        ),
        (
            "verifier-check-array",
            4,
            r#"[{"sub":"a","jti":"b","exp":0}]"#.into(),
        ),
        (
            "verifier-check-bad-utf8",
            4,
            "{\"sub\":\"\u{fffd}\"}".into(),
        ),
        (
            "revoke-token",
            5,
            json!({"sub": "alice", "jti": "j1", "exp": NOW + 60}).to_string(),
        ),
        (
            "revoke-token-exp-huge",
            5,
            r#"{"sub":"a","jti":"b","exp":1e400}"#.into(),
        ),
        ("revoke-user", 6, r#"{"sub":"alice"}"#.into()),
        (
            "revoke-user-extra",
            6,
            r#"{"sub":"alice","all":true}"#.into(),
        ),
        (
            "create-session",
            7,
            r#"{"sub":"alice","device":"phone","ttl_seconds":3600}"#.into(),
        ),
        (
            "create-session-negative-ttl",
            7,
            r#"{"sub":"alice","ttl_seconds":-1}"#.into(),
        ),
        ("sid", 8, sid.clone()),
        ("sid-short", 8, format!("{}.{}", "A".repeat(21), "dGFn")),
    ];
    for (name, selector, body) in bodies {
        seed(&mut out, name, [&[selector][..], body.as_bytes()].concat());
    }
    // Invalid UTF-8 as a body.
    seed(
        &mut out,
        "verifier-check-invalid-utf8",
        vec![4, b'{', 0xff, b'}'],
    );
    out
}

pub fn diff_rsa() -> Seeds {
    let mut out = Seeds::new();
    for sig_mode in 0u8..8 {
        for alg in 0u8..6 {
            if (sig_mode + alg) % 2 == 1 && sig_mode > 1 {
                continue;
            }
            let key = (sig_mode + alg) % 5;
            let flags = sig_mode << 5 | alg;
            let selector = [alg * 7 + sig_mode, 3, 0, 40 + sig_mode];
            let mut bytes = vec![flags, key];
            bytes.extend_from_slice(&selector);
            if sig_mode >= 6 {
                bytes.extend(std::iter::repeat_n(0x5a, usize::from(40 + sig_mode)));
            }
            bytes.extend_from_slice(b"hello warden");
            seed(&mut out, format!("alg{alg}-sig{sig_mode}-key{key}"), bytes);
        }
    }
    use rsa::traits::PublicKeyParts;
    let fixed = &keys::keys().rsa[0];
    let n = fixed.n().to_bytes_be();
    for (name, e, sig_mode) in [
        ("arbitrary-key-raw", vec![1u8, 0, 1], 6u8),
        ("arbitrary-key-bounds", vec![3], 3),
        ("arbitrary-key-big-e", vec![1, 0, 0, 0, 1], 3),
    ] {
        let mut bytes = vec![sig_mode << 5 | 3 << 3];
        bytes.extend_from_slice(&(n.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&n);
        bytes.push(e.len() as u8);
        bytes.extend_from_slice(&e);
        bytes.extend_from_slice(&[1, 2, 1, 0]);
        bytes.extend(std::iter::repeat_n(0x33, 256));
        bytes.extend_from_slice(b"msg");
        seed(&mut out, name, bytes);
    }
    out
}

pub fn diff_ecdsa() -> Seeds {
    let mut out = Seeds::new();
    for curve in 0u8..2 {
        for sig_mode in 0u8..8 {
            for key_mode in [0u8, 1] {
                let flags = sig_mode << 3 | key_mode << 1 | curve;
                let mut bytes = vec![flags];
                if key_mode == 1 {
                    bytes.extend(std::iter::repeat_n(
                        0x17 + sig_mode,
                        if curve == 0 { 32 } else { 48 },
                    ));
                }
                bytes.extend_from_slice(&[sig_mode * 9 + 1, 0x80, 0, 0]);
                if sig_mode >= 6 {
                    let len = if curve == 0 { 64 } else { 96 };
                    bytes.push(len);
                    bytes.extend(std::iter::repeat_n(0x44, usize::from(len)));
                } else {
                    bytes.push(0);
                }
                bytes.extend_from_slice(b"hello warden");
                seed(
                    &mut out,
                    format!("c{curve}-key{key_mode}-sig{sig_mode}"),
                    bytes,
                );
            }
        }
        for key_mode in [2u8, 3] {
            let flags = 6 << 3 | key_mode << 1 | curve;
            let len = if curve == 0 { 32 } else { 48 };
            let mut bytes = vec![flags];
            if key_mode == 2 {
                bytes.push(1);
                bytes.extend(std::iter::repeat_n(0x21, len));
            } else {
                let k = keys::keys();
                let point = if curve == 0 {
                    k.p256
                        .verifying_key()
                        .to_encoded_point(false)
                        .as_bytes()
                        .to_vec()
                } else {
                    k.p384
                        .verifying_key()
                        .to_encoded_point(false)
                        .as_bytes()
                        .to_vec()
                };
                bytes.push(len as u8);
                bytes.extend_from_slice(&point[1..1 + len]);
                bytes.push(len as u8);
                bytes.extend_from_slice(&point[1 + len..]);
            }
            bytes.extend_from_slice(&[0, 0, 0, 0, (2 * len) as u8]);
            bytes.extend(std::iter::repeat_n(0x44, 2 * len));
            bytes.extend_from_slice(b"msg");
            seed(&mut out, format!("c{curve}-key{key_mode}-raw"), bytes);
        }
    }
    out
}

/// Every target's seeds, by target name.
pub fn all() -> Vec<(&'static str, Seeds)> {
    vec![
        ("token_verify", token_verify()),
        ("jwks_parse", jwks_parse()),
        ("config_compile", config_compile()),
        ("request_auth", request_auth()),
        ("verifier_bodies", verifier_bodies()),
        ("diff_rsa", diff_rsa()),
        ("diff_ecdsa", diff_ecdsa()),
        ("feed_view", super::feed_view::seeds()),
        ("route_metadata", super::route::seeds()),
        ("host_crypto_args", super::host_crypto::seeds()),
    ]
}
