#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! PEM public keys, PKCS#1 RSA keys, X.509 certificates (PEM, Google-style maps, JWK `x5c`):
//! fixtures minted by `cryptography` + PyJWT (`data/pem/make_pem.py`), verified through the
//! filter's path (`KeySet::parse` / `parse_public` → `token::verify`), local and remote.

use serde_json::{json, Value};
use warden_core::config::{Config, KeySource};
use warden_core::jwk::{JwkError, JwksError, KeySet};
use warden_core::pubkey::{self, PublicKeyError};
use warden_core::token::{self, Requirements};
use warden_core::Reason;

fn fixtures() -> Value {
    let path = format!("{}/tests/data/pem/pem.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn req() -> Requirements {
    Requirements {
        issuer: Some("https://issuer.example".into()),
        audiences: vec!["api.example".into()],
        ..Requirements::default()
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn every_key_form_verifies_its_tokens_local_and_remote() {
    let doc = fixtures();
    let now = doc["now"].as_i64().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 14);
    let (mut good, mut bad) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let text = case["document"].as_str().unwrap();
        for set in [KeySet::parse(text), KeySet::parse_public(text)] {
            let set = set.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(set.skipped.is_empty(), "{name}: {:?}", set.skipped);
            for tok in strings(&case["valid"]) {
                let claims = token::verify(tok, &req(), &set, now)
                    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(claims["sub"], "alice");
                good += 1;
            }
            for tok in strings(&case["wrong_key"]) {
                let got = token::verify(tok, &req(), &set, now).map(|_| ());
                assert!(
                    matches!(got, Err(Reason::SignatureInvalid | Reason::KeyNotFound)),
                    "{name}: {got:?}"
                );
                bad += 1;
            }
        }
    }
    assert!(good >= 40 && bad >= 10, "{good} {bad}");
}

#[test]
fn certificate_map_kids_come_from_the_map_keys() {
    let doc = fixtures();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "certificate-map")
        .unwrap();
    let set = KeySet::parse_public(case["document"].as_str().unwrap()).unwrap();
    let mut kids: Vec<_> = set.keys.iter().map(|k| k.kid.clone().unwrap()).collect();
    kids.sort();
    assert_eq!(kids, ["k-ec", "k-rsa"]);
    assert!(set.has_kid("k-rsa"));
}

#[test]
fn unusable_documents_are_refused_with_a_reason() {
    let doc = fixtures();
    for case in doc["refused"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let err = KeySet::parse(case["document"].as_str().unwrap()).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = &err else {
            panic!("{name}: {err:?}")
        };
        let expected = match name {
            "x5c-differs-from-members" => matches!(first.error, JwkError::X5cMismatch("kty")),
            "private-key-pem" => matches!(
                &first.error,
                JwkError::PublicKey(PublicKeyError::UnsupportedPemLabel(l)) if l == "PRIVATE KEY"
            ),
            "x25519-spki" => matches!(
                first.error,
                JwkError::PublicKey(PublicKeyError::UnsupportedKeyAlgorithm)
            ),
            "secp256k1-spki" => {
                matches!(
                    first.error,
                    JwkError::PublicKey(PublicKeyError::UnsupportedCurve)
                )
            }
            "rsa-1024-spki" => matches!(first.error, JwkError::RsaTooSmall { bits: 1024 }),
            other => panic!("unknown case {other}"),
        };
        assert!(expected, "{name}: {err}");
    }
    // Text that starts as PEM but is not.
    assert!(matches!(
        KeySet::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        Err(JwksError::Pem(_))
    ));
    // A map whose values are not all PEM is no certificate map.
    assert_eq!(
        KeySet::parse(r#"{"a": "-----BEGIN CERTIFICATE-----", "b": 1}"#).unwrap_err(),
        JwksError::MissingKeys
    );
    // One broken map entry is skipped with its kid; the others serve.
    let good = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "certificate-ec256")
        .unwrap()["document"]
        .clone();
    let map = json!({"good": good, "broken": "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----"});
    let set = KeySet::parse(&map.to_string()).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped[0].kid.as_deref(), Some("broken"));
}

#[test]
fn x5c_must_be_base64_certificates() {
    for x5c in [
        json!([]),
        json!("MII"),
        json!(["not base64!"]),
        json!([1]),
        json!(["AAAA"]),
    ] {
        let jwk = json!({"keys": [{"kty": "RSA", "x5c": x5c}]});
        let err = KeySet::parse(&jwk.to_string()).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = &err else {
            panic!("{err:?}")
        };
        assert!(
            matches!(first.error, JwkError::BadX5c | JwkError::PublicKey(_)),
            "{x5c}: {err}"
        );
    }
}

#[test]
fn pem_keys_work_as_local_jwks_in_the_plugin_config() {
    let doc = fixtures();
    let pem = doc["cases"][0]["document"].as_str().unwrap();
    let config = json!({
        "providers": {"main": {"issuer": "https://issuer.example",
                               "local_jwks": {"inline_string": pem}}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]
    });
    let config = Config::parse(&config.to_string()).unwrap();
    let KeySource::Local(set) = &config.providers[0].keys else {
        panic!("local keys expected")
    };
    assert_eq!(set.keys.len(), 1);
    // A broken PEM is a configuration error that names the field.
    let bad = json!({
        "providers": {"main": {"local_jwks": {"inline_string": "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"}}}
    });
    let err = Config::parse(&bad.to_string()).unwrap_err();
    assert_eq!(err.path, "providers.main.local_jwks");
    assert!(err.reason.contains("DER"), "{err}");
}

#[test]
fn der_structure_errors_are_typed() {
    let doc = fixtures();
    let pem = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "spki-ec256")
        .unwrap()["document"]
        .as_str()
        .unwrap()
        .to_owned();
    let der = warden_core::pem::parse(&pem).unwrap().remove(0).der;
    assert!(pubkey::spki_jwk(&der).is_ok());
    // Trailing bytes, truncation, a compressed point.
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(
        pubkey::spki_jwk(&trailing),
        Err(PublicKeyError::Der(_))
    ));
    for cut in [1, 10, der.len() - 1] {
        assert!(pubkey::spki_jwk(&der[..cut]).is_err(), "cut at {cut}");
    }
    let mut compressed = der.clone();
    let point = compressed.len() - 65;
    compressed[point] = 0x02;
    assert_eq!(pubkey::spki_jwk(&compressed), Err(PublicKeyError::BadPoint));
}
