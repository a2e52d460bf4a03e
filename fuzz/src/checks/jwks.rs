//! Target `jwks_parse`: arbitrary JWKS documents (local `inline_string` and fetched bodies).
//!
//! Oracles: a parsed set is non-empty and bounded, every candidate key fits the algorithm it is
//! offered for (kind, pinned `alg`, HMAC length), a public set holds no symmetric key, and no
//! key, however chosen, verifies an all-zero signature.

use super::keys;
use warden_core::alg::KeyKind;
use warden_core::jwk::{KeyMaterial, KeySet, MAX_KEYS};
use warden_core::Algorithm;

/// Keys checked with all-zero signatures per document (RSA with a large modulus is costly).
const ZERO_SIGNATURE_KEYS: usize = 4;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = KeySet::parse(text);
    match &parsed {
        Ok(set) => check_set(set),
        Err(why) => assert!(!why.to_string().is_empty(), "an error without a message"),
    }
    match KeySet::parse_public(text) {
        Ok(public) => {
            check_set(&public);
            assert!(
                public
                    .keys
                    .iter()
                    .all(|k| k.material.kind() != KeyKind::Hmac),
                "a symmetric key in a public key set"
            );
            let all = parsed.as_ref().expect("a public set is also a set");
            assert!(public.keys.len() <= all.keys.len());
        }
        Err(why) => {
            assert!(!why.to_string().is_empty());
            if let Ok(set) = &parsed {
                assert!(
                    set.keys.iter().all(|k| k.material.kind() == KeyKind::Hmac),
                    "parse_public refused a set with asymmetric keys: {why}"
                );
            }
        }
    }
}

fn check_set(set: &KeySet) {
    assert!(!set.keys.is_empty(), "an empty key set parsed");
    assert!(set.keys.len() <= MAX_KEYS, "more than MAX_KEYS keys kept");
    for alg in Algorithm::ALL {
        for key in set.candidates(alg, None) {
            assert_eq!(
                key.material.kind(),
                alg.key_kind(),
                "wrong key kind for {alg}"
            );
            assert!(
                key.alg.is_none_or(|pinned| pinned == alg),
                "pinned alg ignored"
            );
            if let KeyMaterial::Hmac(k) = &key.material {
                assert!(
                    k.len() >= alg.min_hmac_key_bytes(),
                    "short HMAC key for {alg}"
                );
            }
        }
        if let Some(kid) = set.keys.iter().find_map(|k| k.kid.as_deref()) {
            for key in set.candidates(alg, Some(kid)) {
                assert!(key.kid.is_none() || key.kid.as_deref() == Some(kid));
            }
        }
    }
    for key in set.keys.iter().take(ZERO_SIGNATURE_KEYS) {
        let Some(alg) = Algorithm::ALL.into_iter().find(|a| key.fits(*a)) else {
            continue;
        };
        let len = match &key.material {
            KeyMaterial::Rsa(rsa) => rsa.bits().div_ceil(8),
            KeyMaterial::P256(_) | KeyMaterial::Ed25519(_) => 64,
            KeyMaterial::P384(_) => 96,
            KeyMaterial::P521(_) => 132,
            KeyMaterial::Hmac(_) => match alg {
                Algorithm::HS384 => 48,
                Algorithm::HS512 => 64,
                _ => 32,
            },
        };
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        let input = keys::signing_input(header.as_bytes(), b"{}");
        let token = keys::compact(&input, &vec![0u8; len]);
        // Verified with the whole set (every candidate for `alg`): none may accept zeros.
        assert_eq!(
            keys::our_signature_verdict(&token, set),
            Ok(false),
            "an all-zero {alg} signature verified"
        );
    }
}
