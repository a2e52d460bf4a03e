#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Local verification: every algorithm, every claim rule, every hostile token class.

mod common;

use common::*;
use serde_json::json;
use warden_core::jwk::{JwkError, JwksError, KeySet};
use warden_core::token::{self, Requirements};
use warden_core::{b64, Algorithm, Reason};

fn keys_for(alg: Algorithm) -> KeySet {
    KeySet::parse(&json!({"keys":[jwk(alg)]}).to_string()).unwrap()
}

fn req() -> Requirements {
    Requirements {
        issuer: Some("https://issuer.example".into()),
        audiences: vec!["api.example".into()],
        ..Requirements::default()
    }
}

fn check(tok: &str, alg: Algorithm) -> Result<(), Reason> {
    token::verify(tok, &req(), &keys_for(alg), NOW).map(|_| ())
}

#[test]
fn every_algorithm_verifies_and_rejects_tampering() {
    for alg in Algorithm::ALL {
        let tok = token(alg, &claims());
        assert_eq!(check(&tok, alg), Ok(()), "{alg}");
        let claims = token::verify(&tok, &req(), &keys_for(alg), NOW).unwrap();
        assert_eq!(claims["sub"], "alice");

        // Tampered payload: swap in other claims, keep the signature.
        let parts: Vec<&str> = tok.split('.').collect();
        let mut evil = claims.clone();
        evil.insert("sub".into(), json!("mallory"));
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64::encode(json!(evil).to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(
            check(&forged, alg),
            Err(Reason::SignatureInvalid),
            "{alg} tampered"
        );

        // Stripped signature.
        let stripped = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(
            check(&stripped, alg),
            Err(Reason::SignatureInvalid),
            "{alg} stripped"
        );

        // Signature of another algorithm's key: the key for `alg` does not verify it.
        let mut sig = b64::decode(parts[2]).unwrap();
        sig[0] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], b64::encode(&sig));
        assert_eq!(
            check(&flipped, alg),
            Err(Reason::SignatureInvalid),
            "{alg} flipped bit"
        );
    }
}

#[test]
fn key_of_wrong_type_never_serves() {
    // An ES256 token checked against only an RSA key: no key fits.
    let tok = token(Algorithm::ES256, &claims());
    assert_eq!(check(&tok, Algorithm::RS256), Err(Reason::KeyNotFound));
}

#[test]
fn alg_none_in_any_case_is_refused() {
    for none in ["none", "None", "NONE", "nOnE"] {
        let tok = hostile::alg_none(none, &claims());
        assert_eq!(
            check(&tok, Algorithm::HS256),
            Err(Reason::AlgorithmNotAllowed),
            "{none}"
        );
    }
}

#[test]
fn unknown_or_disallowed_algorithms_are_refused() {
    let tok = token_with(Algorithm::HS256, &json!({"alg":"HS1024"}), &claims());
    assert_eq!(
        check(&tok, Algorithm::HS256),
        Err(Reason::AlgorithmNotAllowed)
    );
    let mut r = req();
    r.algorithms = Some(vec![Algorithm::ES256]);
    let tok = token(Algorithm::HS256, &claims());
    assert_eq!(
        token::verify(&tok, &r, &keys_for(Algorithm::HS256), NOW).map(|_| ()),
        Err(Reason::AlgorithmNotAllowed)
    );
}

#[test]
fn rsa_public_key_as_hmac_secret_is_refused() {
    use rsa::traits::PublicKeyParts;
    // The classic RS→HS confusion: sign HS256 with the RSA public key (as PEM-ish bytes and as
    // the JWK's JSON) and present it to a provider that only has that RSA key.
    let public = rsa_key().to_public_key();
    let secrets: Vec<Vec<u8>> = vec![
        public.n().to_bytes_be(),
        jwk(Algorithm::RS256).to_string().into_bytes(),
        serde_json::to_vec(&jwk(Algorithm::RS256)).unwrap(),
    ];
    for secret in secrets {
        for kid in [Some("RS256"), None] {
            let mut header = json!({"alg":"HS256"});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            let tok = hostile::hmac_with_secret(Algorithm::HS256, &secret, &header, &claims());
            assert_eq!(check(&tok, Algorithm::RS256), Err(Reason::KeyNotFound));
        }
    }
}

#[test]
fn psychic_ecdsa_signatures_are_refused() {
    for (alg, len) in [
        (Algorithm::ES256, 64),
        (Algorithm::ES384, 96),
        (Algorithm::ES512, 132),
    ] {
        let good = token(alg, &claims());
        let parts: Vec<&str> = good.split('.').collect();
        let zero = format!("{}.{}.{}", parts[0], parts[1], b64::encode(&vec![0u8; len]));
        assert_eq!(check(&zero, alg), Err(Reason::SignatureInvalid), "{alg}");
        // DER-encoded or wrongly sized signatures are refused too.
        let short = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            b64::encode(&vec![1u8; len - 1])
        );
        assert_eq!(check(&short, alg), Err(Reason::SignatureInvalid), "{alg}");
    }
}

#[test]
fn wrong_segment_counts_and_bad_base64_are_malformed() {
    let good = token(Algorithm::HS256, &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "abc".to_string(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        format!(
            "{}.{}.{}.{}.{}",
            parts[0], parts[1], parts[2], parts[2], parts[2]
        ),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}/", parts[0], parts[1], parts[2]),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", b64::encode(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64::encode(b"[1]"), parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            b64::encode(b"{\"typ\":\"JWT\"}"),
            parts[1],
            parts[2]
        ),
        format!(
            "{}.{}.{}",
            b64::encode(b"{\"alg\":256}"),
            parts[1],
            parts[2]
        ),
    ];
    for tok in &cases {
        assert_eq!(
            check(tok, Algorithm::HS256),
            Err(Reason::TokenMalformed),
            "{tok:?}"
        );
    }
    // A well-signed payload that is not a JSON object is malformed, too.
    let tok = token_with(Algorithm::HS256, &json!({"alg":"HS256"}), &json!([1, 2]));
    assert_eq!(check(&tok, Algorithm::HS256), Err(Reason::TokenMalformed));
}

#[test]
fn crit_is_refused() {
    for crit in [json!(["exp"]), json!(["b64"]), json!([]), json!("x")] {
        let tok = token_with(
            Algorithm::HS256,
            &json!({"alg":"HS256","crit":crit,"b64":false}),
            &claims(),
        );
        assert_eq!(
            check(&tok, Algorithm::HS256),
            Err(Reason::CritUnsupported),
            "{crit}"
        );
    }
}

#[test]
fn embedded_keys_are_never_trusted() {
    // The attacker signs with their own Ed25519 key and embeds it (jwk), or points to it (jku, x5u).
    let attacker = Keys::from_seed_with_rsa("attacker", &keys().rsa);
    let attacker_jwk = attacker.jwk(Algorithm::EdDSA);
    for header in [
        json!({"alg":"EdDSA","jwk": attacker_jwk}),
        json!({"alg":"EdDSA","jku":"https://evil.example/jwks.json"}),
        json!({"alg":"EdDSA","x5u":"https://evil.example/cert.pem"}),
        json!({"alg":"EdDSA","x5c":["MIIB"]}),
    ] {
        let tok = attacker.sign_with_header(Algorithm::EdDSA, &header, &claims());
        assert_eq!(
            check(&tok, Algorithm::EdDSA),
            Err(Reason::SignatureInvalid),
            "{header}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let mut big = claims();
    big["pad"] = json!("x".repeat(9000));
    let tok = token(Algorithm::HS256, &big);
    assert_eq!(check(&tok, Algorithm::HS256), Err(Reason::TokenTooLarge));
    assert_eq!(
        check(&"a".repeat(10_000), Algorithm::HS256),
        Err(Reason::TokenTooLarge)
    );
}

#[test]
fn numeric_dates_must_be_numbers_in_range() {
    for exp in [
        json!("1700000600"),
        json!(-0.5),
        json!(253_402_300_800.0),
        json!(1e300),
        json!(u64::MAX),
        json!(-1.5),
        json!(null),
        json!(true),
        json!([1]),
        json!(253_402_300_800i64),
    ] {
        let mut c = claims();
        c["exp"] = exp.clone();
        let tok = token(Algorithm::HS256, &c);
        assert_eq!(
            check(&tok, Algorithm::HS256),
            Err(Reason::TokenMalformed),
            "exp {exp}"
        );
    }
    for name in ["nbf", "iat"] {
        let mut c = claims();
        c[name] = json!("now");
        assert_eq!(
            check(&token(Algorithm::HS256, &c), Algorithm::HS256),
            Err(Reason::TokenMalformed),
            "{name}"
        );
    }
}

fn no_skew() -> Requirements {
    Requirements {
        clock_skew_seconds: 0,
        ..Requirements::default()
    }
}

/// Claims checked alone (the signature is not the point here).
fn claims_check(c: serde_json::Value, req: &Requirements) -> Result<(), Reason> {
    let claims: token::Claims = serde_json::from_value(c).unwrap();
    token::check_claims(&claims, req, NOW)
}

#[test]
fn fractional_numeric_dates_are_truncated() {
    let req = no_skew();
    let exp = |v: serde_json::Value| claims_check(json!({"sub": "a", "exp": v}), &req);
    // exp is truncated: NOW + 0.999 is NOW, which is already expired (now ≥ exp).
    assert_eq!(exp(json!(NOW as f64 + 0.999)), Err(Reason::TokenExpired));
    assert_eq!(exp(json!(NOW as f64 + 1.0)), Ok(()));
    assert_eq!(exp(json!(NOW as f64 + 1.5)), Ok(()));
    assert_eq!(exp(json!(NOW as f64 - 0.5)), Err(Reason::TokenExpired));
    // nbf NOW + 0.9 truncates to NOW: valid now; NOW + 1.1 is a second ahead.
    let nbf =
        |v: serde_json::Value| claims_check(json!({"sub": "a", "exp": NOW + 600, "nbf": v}), &req);
    assert_eq!(nbf(json!(NOW as f64 + 0.9)), Ok(()));
    assert_eq!(nbf(json!(NOW as f64 + 1.1)), Err(Reason::TokenNotYetValid));
    let iat =
        |v: serde_json::Value| claims_check(json!({"sub": "a", "exp": NOW + 600, "iat": v}), &req);
    assert_eq!(iat(json!(1234.5678)), Ok(()));
    assert_eq!(iat(json!(NOW as f64 + 0.5)), Ok(()));
    assert_eq!(iat(json!(NOW as f64 + 1.5)), Err(Reason::TokenNotYetValid));
    // The range ends: 0 and fractions of the last second of 9999 are dates, anything past not.
    assert_eq!(iat(json!(0.0)), Ok(()));
    assert_eq!(iat(json!(0.25)), Ok(()));
    assert_eq!(iat(json!(-0.25)), Err(Reason::TokenMalformed));
    let last = token::MAX_NUMERIC_DATE as f64;
    assert_eq!(exp(json!(last + 0.5)), Ok(()));
    assert_eq!(exp(json!(last + 1.0)), Err(Reason::TokenMalformed));
    assert_eq!(
        exp(json!(1e3)),
        Err(Reason::TokenExpired),
        "exponent form is a number"
    );
    let date = |v: serde_json::Value| {
        let claims: token::Claims = serde_json::from_value(json!({ "iat": v })).unwrap();
        token::numeric_date(&claims, "iat")
    };
    assert_eq!(date(json!(1234.5678)), Ok(Some(1234)));
    assert_eq!(date(json!(last + 0.999)), Ok(Some(token::MAX_NUMERIC_DATE)));
    assert_eq!(date(json!(1e300)), Err(Reason::TokenMalformed));
}

#[test]
fn registered_claims_must_have_their_types_whatever_the_config() {
    // No issuer, no audience configured: the types are checked all the same (RFC 7519 §4.1).
    let open = Requirements::default();
    let base = || json!({"sub": "alice", "exp": NOW + 600});
    let with = |name: &str, v: serde_json::Value| {
        let mut c = base();
        c[name] = v;
        claims_check(c, &open)
    };
    assert_eq!(claims_check(base(), &open), Ok(()));
    for (name, bad) in [
        ("iss", json!(true)),
        ("iss", json!(1)),
        ("iss", json!(["https://idp"])),
        ("iss", json!(null)),
        ("sub", json!(7)),
        ("sub", json!({"id": 1})),
        ("aud", json!(5)),
        ("aud", json!([1, 2])),
        ("aud", json!(["api", 2])),
        ("aud", json!({"aud": "api"})),
        ("aud", json!(null)),
        ("jti", json!(1)),
        ("exp", json!("soon")),
        ("nbf", json!(false)),
        ("iat", json!([0])),
        ("sid", json!(3)),
        ("ver", json!(-1)),
    ] {
        assert_eq!(
            with(name, bad.clone()),
            Err(Reason::TokenMalformed),
            "{name}: {bad}"
        );
    }
    for (name, good) in [
        ("iss", json!("https://idp")),
        ("aud", json!("api")),
        ("aud", json!(["api", "other"])),
        ("aud", json!([])),
        ("jti", json!("j1")),
        ("nbf", json!(NOW - 5)),
    ] {
        assert_eq!(with(name, good.clone()), Ok(()), "{name}: {good}");
    }
    // Unregistered claims are the application's business.
    assert_eq!(with("roles", json!(7)), Ok(()));
}

#[test]
fn a_wrongly_typed_claim_in_a_signed_token_is_malformed() {
    let mut c = claims();
    c["aud"] = json!([1, 2]);
    let open = Requirements::default();
    let tok = token(Algorithm::ES256, &c);
    assert_eq!(
        token::verify(&tok, &open, &keys_for(Algorithm::ES256), NOW).map(|_| ()),
        Err(Reason::TokenMalformed)
    );
}

#[test]
fn expiry_with_skew() {
    let at = |exp: i64| {
        let mut c = claims();
        c["exp"] = json!(exp);
        check(&token(Algorithm::HS256, &c), Algorithm::HS256)
    };
    assert_eq!(at(NOW - 59), Ok(()), "inside the 60 s skew");
    assert_eq!(at(NOW - 60), Err(Reason::TokenExpired));
    assert_eq!(at(NOW - 100_000), Err(Reason::TokenExpired));
}

#[test]
fn expiration_required_unless_configured_otherwise() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    let tok = token(Algorithm::HS256, &c);
    assert_eq!(check(&tok, Algorithm::HS256), Err(Reason::ClaimMissing));
    let mut r = req();
    r.require_expiration = false;
    assert!(token::verify(&tok, &r, &keys_for(Algorithm::HS256), NOW).is_ok());
}

#[test]
fn not_before_and_issued_in_the_future() {
    let mut c = claims();
    c["nbf"] = json!(NOW + 61);
    assert_eq!(
        check(&token(Algorithm::HS256, &c), Algorithm::HS256),
        Err(Reason::TokenNotYetValid)
    );
    c["nbf"] = json!(NOW + 60);
    assert_eq!(
        check(&token(Algorithm::HS256, &c), Algorithm::HS256),
        Ok(())
    );
    let mut c = claims();
    c["iat"] = json!(NOW + 3600);
    assert_eq!(
        check(&token(Algorithm::HS256, &c), Algorithm::HS256),
        Err(Reason::TokenNotYetValid)
    );
}

#[test]
fn issuer_must_match_exactly() {
    for iss in [
        json!("https://issuer.example/"),
        json!("HTTPS://ISSUER.EXAMPLE"),
    ] {
        let mut c = claims();
        c["iss"] = iss.clone();
        assert_eq!(
            check(&token(Algorithm::HS256, &c), Algorithm::HS256),
            Err(Reason::IssuerMismatch),
            "{iss}"
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        check(&token(Algorithm::HS256, &c), Algorithm::HS256),
        Err(Reason::IssuerMismatch)
    );
    // Not a string at all: malformed before any comparison (RFC 7519 §4.1.1).
    for iss in [json!(null), json!(["https://issuer.example"])] {
        let mut c = claims();
        c["iss"] = iss.clone();
        assert_eq!(
            check(&token(Algorithm::HS256, &c), Algorithm::HS256),
            Err(Reason::TokenMalformed),
            "{iss}"
        );
    }
}

#[test]
fn audience_string_or_array_any_of() {
    let with = |aud: serde_json::Value| {
        let mut c = claims();
        c["aud"] = aud;
        check(&token(Algorithm::HS256, &c), Algorithm::HS256)
    };
    assert_eq!(with(json!("api.example")), Ok(()));
    assert_eq!(with(json!(["other", "api.example"])), Ok(()));
    assert_eq!(with(json!(["other"])), Err(Reason::AudienceMismatch));
    assert_eq!(with(json!("API.EXAMPLE")), Err(Reason::AudienceMismatch));
    assert_eq!(with(json!([])), Err(Reason::AudienceMismatch));
    assert_eq!(with(json!(7)), Err(Reason::TokenMalformed));
    assert_eq!(with(json!(["api.example", 7])), Err(Reason::TokenMalformed));
    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        check(&token(Algorithm::HS256, &c), Algorithm::HS256),
        Err(Reason::AudienceMismatch)
    );
}

#[test]
fn typed_identity_claims() {
    for (name, bad) in [
        ("sub", json!(1)),
        ("jti", json!({})),
        ("sid", json!(true)),
        ("ver", json!(-1)),
        ("ver", json!("2")),
    ] {
        let mut c = claims();
        c[name] = bad.clone();
        assert_eq!(
            check(&token(Algorithm::HS256, &c), Algorithm::HS256),
            Err(Reason::TokenMalformed),
            "{name}={bad}"
        );
    }
}

#[test]
fn kid_selects_the_key_and_unknown_kid_finds_none() {
    let set = KeySet::parse(&jwks_all()).unwrap();
    let tok = token(Algorithm::ES256, &claims());
    assert!(token::verify(&tok, &req(), &set, NOW).is_ok());
    let tok = token_with(
        Algorithm::ES256,
        &json!({"alg":"ES256","kid":"nope"}),
        &claims(),
    );
    assert_eq!(
        token::verify(&tok, &req(), &set, NOW).map(|_| ()),
        Err(Reason::KeyNotFound)
    );
    // Without a kid every key that fits the algorithm is tried.
    let tok = token_with(Algorithm::EdDSA, &json!({"alg":"EdDSA"}), &claims());
    assert!(token::verify(&tok, &req(), &set, NOW).is_ok());
}

#[test]
fn short_hmac_keys_cannot_be_configured() {
    let err = KeySet::parse(
        &json!({"keys":[{"kty":"oct","k": b64::encode(b"0123456789ab")}]}).to_string(),
    )
    .unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(first.error, JwkError::HmacTooShort { bytes: 12 });
}
