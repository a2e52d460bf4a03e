//! Each class of hostile token is refused with its reason code, and never crashes the VM.

use crate::common::*;
use serde_json::json;
use warden_wasm_tests::Host;

fn refused(host: &mut Host, token: &str, reason: &str) {
    let request = get(host, "/api", Some(token), &[]);
    assert_denied(host, request, reason);
}

#[test]
fn alg_none_in_any_case() {
    let mut host = start(&config());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let token = hostile::alg_none(alg, &claims());
        refused(&mut host, &token, "algorithm_not_allowed");
        // A none token carrying some signature anyway.
        refused(
            &mut host,
            &hostile::with_signature(&token, b"sig"),
            "algorithm_not_allowed",
        );
    }
    assert_eq!(host.metric("warden.denied.algorithm_not_allowed"), Some(8));
}

#[test]
fn rs_to_hs_key_confusion() {
    // Only the RSA public key is configured; an attacker MACs a token with its public parts.
    let rsa_only = json!({"keys": [keys().jwk(Alg::RS256)]});
    let mut host = start(&config_with(provider(&rsa_only, json!({})), None));
    let jwk = keys().jwk(Alg::RS256);
    let n = jwk["n"].as_str().unwrap().to_owned();
    let pem = {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        keys()
            .rsa
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    let secrets: Vec<Vec<u8>> = vec![
        pem.into_bytes(),
        jwk.to_string().into_bytes(),
        n.clone().into_bytes(),
        warden_testkit::unb64(&n),
    ];
    for secret in secrets {
        for header in [
            json!({"alg": "HS256", "kid": "rsa"}),
            json!({"alg": "HS256"}),
        ] {
            let token = hostile::hmac_with_secret(Alg::HS256, &secret, &header, &claims());
            refused(&mut host, &token, "key_not_found");
        }
    }
}

#[test]
fn psychic_ecdsa_signature_r_s_zero() {
    let mut host = start(&config());
    for (alg, size) in [(Alg::ES256, 64), (Alg::ES384, 96)] {
        let token = keys().sign(alg, &claims());
        let zero = hostile::with_signature(&token, &vec![0u8; size]);
        refused(&mut host, &zero, "signature_invalid");
    }
}

#[test]
fn tampered_payload() {
    let mut host = start(&config());
    for alg in Alg::ALL {
        let token = keys().sign(alg, &claims());
        let evil = hostile::with_claims(&token, &claims_with(json!({"sub": "admin"})));
        refused(&mut host, &evil, "signature_invalid");
    }
}

#[test]
fn stripped_signature() {
    let mut host = start(&config());
    for alg in [Alg::ES256, Alg::RS256, Alg::HS256, Alg::EdDSA] {
        let token = keys().sign(alg, &claims());
        refused(
            &mut host,
            &hostile::without_signature(&token),
            "signature_invalid",
        );
    }
}

#[test]
fn wrong_segment_count() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    for bad in hostile::bad_segment_counts(&token) {
        refused(&mut host, &bad, "token_malformed");
    }
}

#[test]
fn bad_base64() {
    let mut host = start(&config());
    let token = keys().sign(Alg::ES256, &claims());
    for bad in hostile::bad_base64(&token) {
        refused(&mut host, &bad, "token_malformed");
    }
}

#[test]
fn crit_header_is_refused() {
    let mut host = start(&config());
    for crit in [json!(["exp"]), json!(["b64"]), json!([])] {
        let header = json!({"alg": "ES256", "kid": "p256", "crit": crit, "exp": 1});
        refused(
            &mut host,
            &keys().sign_with_header(Alg::ES256, &header, &claims()),
            "crit_unsupported",
        );
    }
}

#[test]
fn embedded_jwk_and_jku_are_not_trusted() {
    let mut host = start(&config());
    let attacker = Keys::from_seed_with_rsa("attacker", &keys().rsa);
    let attacker_jwk = attacker.jwk(Alg::ES256);
    for header in [
        json!({"alg": "ES256", "jwk": attacker_jwk}),
        json!({"alg": "ES256", "jku": "https://evil.example/jwks.json"}),
        json!({"alg": "ES256", "x5u": "https://evil.example/cert.pem"}),
        json!({"alg": "ES256", "kid": "p256", "jwk": attacker_jwk}),
    ] {
        refused(
            &mut host,
            &attacker.sign_with_header(Alg::ES256, &header, &claims()),
            "signature_invalid",
        );
    }
    // The attacker's kid is unknown to a local key set.
    let header = json!({"alg": "ES256", "kid": "attacker", "jwk": attacker_jwk});
    refused(
        &mut host,
        &attacker.sign_with_header(Alg::ES256, &header, &claims()),
        "key_not_found",
    );
    assert!(
        host.pending_http_calls().is_empty(),
        "no jku is ever fetched"
    );
}

#[test]
fn oversized_token_is_refused_before_parsing() {
    let mut host = start(&config());
    let big = keys().sign(Alg::ES256, &claims_with(json!({"pad": "x".repeat(9000)})));
    refused(&mut host, &big, "token_too_large");
    // Not even base64: still only the size is looked at.
    refused(&mut host, &"!".repeat(8193), "token_too_large");
    assert_eq!(
        host.metric("warden.cache.miss").unwrap_or(0),
        0,
        "refused before any verification"
    );
    // The limit is configurable.
    let config = config_with(
        provider(&keys().jwks(), json!({"max_token_bytes": 16000})),
        None,
    );
    let mut host = start(&config);
    let request = get(&mut host, "/api", Some(&big), &[]);
    forwarded(&host, request);
}

#[test]
fn numeric_dates_must_be_numbers_in_range() {
    let mut host = start(&config());
    for exp in [
        json!((NOW + 600).to_string()),
        json!(-0.5),
        json!(1e20),
        json!(-1),
        json!(true),
    ] {
        let token = keys().sign(Alg::ES256, &claims_with(json!({ "exp": exp })));
        refused(&mut host, &token, "token_malformed");
    }
    let token = keys().sign(Alg::ES256, &claims_with(json!({"nbf": "0"})));
    refused(&mut host, &token, "token_malformed");
}

#[test]
fn garbage_headers_never_crash_the_vm() {
    let mut host = start(&config());
    for value in [
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "bearer x.y.z",
        "Bearer \u{7f}",
        "Bearer ....",
        "Bearer é.é.é",
    ] {
        let request = host
            .request(&[
                (":method", "GET"),
                (":path", "/api"),
                ("authorization", value),
            ])
            .unwrap();
        assert_eq!(answered(&host, request).status, 401, "{value:?}");
    }
    assert!(!host.is_crashed());
}

#[test]
fn huge_and_numerous_headers_are_handled() {
    let mut host = start(&config());
    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let request = host
        .request(&[
            (":method", "GET"),
            (":path", "/api"),
            ("authorization", &huge),
        ])
        .unwrap();
    assert_denied(&host, request, "token_too_large");
    let token = keys().sign(Alg::ES256, &claims());
    let bearer = format!("Bearer {token}");
    let names: Vec<String> = (0..1000).map(|i| format!("x-filler-{i}")).collect();
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", "GET"),
        (":path", "/api"),
        ("authorization", &bearer),
    ];
    headers.extend(names.iter().map(|n| (n.as_str(), "v")));
    let request = host.request(&headers).unwrap();
    // :method, :path, the 1000 fillers and 3 claim headers; not the token.
    let forwarded_headers = forwarded(&host, request);
    assert_eq!(forwarded_headers.len(), 1005);
    assert!(!forwarded_headers.contains("authorization"));
}
