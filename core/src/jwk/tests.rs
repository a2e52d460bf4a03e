#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::*;
use crate::b64;
use crate::crypto::ecdsa::EcKeyError;
use crate::crypto::eddsa::EdKeyError;
use crate::crypto::rsa::RsaKeyError;

const EC_P256: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1",
    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

#[test]
fn parses_ec_key_and_matches_by_kid_and_alg() {
    let set = KeySet::parse(&format!(r#"{{"keys":[{EC_P256}]}}"#)).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.candidates(Algorithm::ES256, Some("ec1")).count(), 1);
    assert_eq!(set.candidates(Algorithm::ES256, Some("other")).count(), 0);
    assert_eq!(set.candidates(Algorithm::ES384, None).count(), 0);
    assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
    assert!(set.has_kid("ec1"));
}

#[test]
fn single_jwk_object_is_accepted() {
    assert_eq!(KeySet::parse(EC_P256).unwrap().keys.len(), 1);
}

#[test]
fn short_hmac_key_is_refused() {
    let err = KeySet::parse(r#"{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}"#).unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(first.error, JwkError::HmacTooShort { bytes: 5 });
    // The configuration error names the key and the rule it breaks.
    assert_eq!(
        err.to_string(),
        "no usable key (key 0: HMAC key is 5 bytes; at least 32 required (RFC 7518 §3.2))"
    );
}

#[test]
fn hmac_key_length_limits_algorithms() {
    let k = b64::encode(&[7u8; 40]);
    let set = KeySet::parse(&format!(r#"{{"keys":[{{"kty":"oct","k":"{k}"}}]}}"#)).unwrap();
    assert_eq!(set.candidates(Algorithm::HS256, None).count(), 1);
    assert_eq!(set.candidates(Algorithm::HS384, None).count(), 0);
    assert_eq!(set.candidates(Algorithm::RS256, None).count(), 0);
}

#[test]
fn pinned_alg_must_match() {
    let k = b64::encode(&[7u8; 64]);
    let set = KeySet::parse(&format!(
        r#"{{"keys":[{{"kty":"oct","alg":"HS512","k":"{k}"}}]}}"#
    ))
    .unwrap();
    assert_eq!(set.candidates(Algorithm::HS256, None).count(), 0);
    assert_eq!(set.candidates(Algorithm::HS512, None).count(), 1);
    let err = KeySet::parse(&format!(
        r#"{{"keys":[{{"kty":"oct","alg":"ES256","k":"{k}"}}]}}"#
    ))
    .unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        first.error,
        JwkError::AlgMismatch {
            alg: Algorithm::ES256,
            kty: "oct"
        }
    );
}

#[test]
fn unusable_keys_are_skipped_with_reasons() {
    let set = KeySet::parse(&format!(
        r#"{{"keys":[{{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}},{EC_P256},{{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}}]}}"#
    ))
    .unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 2);
    assert_eq!(
        set.skipped[0].error,
        JwkError::UnsupportedCurve("secp256k1".into())
    );
    assert_eq!(
        (set.skipped[1].index, &set.skipped[1].error),
        (2, &JwkError::UseNotSig)
    );
}

#[test]
fn point_off_curve_is_refused() {
    let err = KeySet::parse(
        r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}"#,
    )
    .unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        first.error,
        JwkError::Ec(EcKeyError::NotOnCurve { curve: "P-256" })
    );
}

#[test]
fn small_rsa_key_is_refused() {
    let n = b64::encode(&[0xC5u8; 128]);
    let err = KeySet::parse(&format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#)).unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(first.error, JwkError::RsaTooSmall { bits: 1024 });
}

#[test]
fn garbage_documents_are_errors() {
    assert!(matches!(KeySet::parse("nope"), Err(JwksError::NotJson(_))));
    assert_eq!(KeySet::parse("[]").unwrap_err(), JwksError::NotAnObject);
    assert_eq!(KeySet::parse("{}").unwrap_err(), JwksError::MissingKeys);
    assert_eq!(
        KeySet::parse(r#"{"keys":{}}"#).unwrap_err(),
        JwksError::KeysNotArray
    );
    assert_eq!(
        KeySet::parse(r#"{"keys":[]}"#).unwrap_err(),
        JwksError::NoUsableKey(None)
    );
    let err = KeySet::parse(r#"{"keys":[1,"x",null]}"#).unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(first.error, JwkError::NotAnObject);
}

#[test]
fn each_kind_of_bad_key_has_its_variant() {
    let cases = [
        (r#"{"kty":"RSA","n":"AQAB"}"#, JwkError::MissingMember("e")),
        (r#"{"kty":"oct","k":"a+b"}"#, JwkError::NotBase64Url("k")),
        (r#"{"kty":"dsa"}"#, JwkError::UnsupportedKty("dsa".into())),
        (r#"{"kty":"oct","kid":7}"#, JwkError::KidNotString),
        (r#"{"kty":"oct","alg":5}"#, JwkError::AlgNotString),
        (
            r#"{"kty":"oct","alg":"none"}"#,
            JwkError::UnsupportedAlg("none".into()),
        ),
        (
            r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#,
            JwkError::UnsupportedCurve("X25519".into()),
        ),
        (
            r#"{"kty":"OKP","crv":"Ed25519","x":"AA"}"#,
            JwkError::Ed25519(EdKeyError::Length),
        ),
        (
            r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#,
            JwkError::Ec(EcKeyError::CoordinateLength {
                curve: "P-384",
                coordinate: "x",
                bytes: 48,
            }),
        ),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            JwkError::Rsa(RsaKeyError::BadModulus),
        ),
    ];
    for (jwk, expected) in cases {
        let err = KeySet::parse(jwk).unwrap_err();
        let JwksError::NoUsableKey(Some(first)) = err else {
            panic!("{jwk}: {err:?}")
        };
        assert_eq!(first.error, expected, "{jwk}");
    }
}

#[test]
fn remote_sets_refuse_symmetric_keys_one_by_one() {
    let k = b64::encode(&[7u8; 32]);
    let oct = format!(r#"{{"kty":"oct","kid":"s","k":"{k}"}}"#);
    let set = KeySet::parse_public(&format!(r#"{{"keys":[{oct},{EC_P256}]}}"#)).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(
        set.skipped,
        vec![SkippedKey {
            index: 0,
            kid: Some("s".into()),
            error: JwkError::SymmetricFromRemote
        }]
    );
    let err = KeySet::parse_public(&format!(r#"{{"keys":[{oct}]}}"#)).unwrap_err();
    let JwksError::NoUsableKey(Some(first)) = err else {
        panic!("{err:?}")
    };
    assert_eq!(first.error, JwkError::SymmetricFromRemote);
    // The same key is fine in the (secret) configuration.
    assert_eq!(KeySet::parse(&oct).unwrap().keys.len(), 1);
}

#[test]
fn keys_beyond_the_limit_are_skipped() {
    let keys = vec![EC_P256; MAX_KEYS + 2].join(",");
    let set = KeySet::parse(&format!(r#"{{"keys":[{keys}]}}"#)).unwrap();
    assert_eq!(set.keys.len(), MAX_KEYS);
    assert_eq!(set.skipped.len(), 2);
    assert_eq!(set.skipped[0].error, JwkError::TooManyKeys);
    assert_eq!(set.skipped[0].index, MAX_KEYS);
    assert_eq!(
        set.skipped[0].to_string(),
        format!("key {MAX_KEYS} (kid \"ec1\"): more than {MAX_KEYS} keys")
    );
}
