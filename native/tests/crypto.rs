#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The native module's signature backend (`crypto::NativeCrypto`, aws-lc-rs) through core, as
//! the adapter uses it: which algorithms detection hands to it, that every test-kit signature
//! verifies and every tampered one fails, and that its decisions are core's own on every
//! Wycheproof vector (valid, invalid and acceptable alike) — the wasm build's decisions.
//! (EdDSA stays with core, so its vectors run through core on both sides; they are kept so
//! that handing it over later is checked the same way.)

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BigUint;
use serde_json::{json, Value};
use warden_core::host_crypto::{encode_arguments, Backend, HostCrypto, SignatureBackends};
use warden_core::jwk::{Jwk, KeySet};
use warden_core::Algorithm;
use warden_native::crypto::{signature_backends, NativeCrypto};
use warden_testkit::{b64, keys, other_keys};

/// One detection per test thread (`SignatureBackends` is per thread, as in the adapter).
fn backends() -> &'static SignatureBackends {
    thread_local! {
        static BACKENDS: &'static SignatureBackends = Box::leak(Box::new(signature_backends()));
    }
    BACKENDS.with(|b| *b)
}

fn jwk(value: &Value) -> Jwk {
    KeySet::parse(&json!({ "keys": [value] }).to_string())
        .unwrap()
        .keys
        .pop()
        .unwrap()
}

#[test]
fn detection_hands_rsa_and_ecdsa_to_aws_lc() {
    use Algorithm::*;
    let table = backends().table();
    let on_host: Vec<Algorithm> = table
        .iter()
        .filter(|(_, b)| *b == Backend::Host)
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(
        on_host,
        [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512],
        "{table:?}"
    );
    for alg in [HS256, HS384, HS512, EdDSA] {
        assert_eq!(backends().backend(alg), Backend::Wasm, "{alg}");
    }
}

#[test]
fn every_test_kit_signature_verifies_and_tampering_fails() {
    for alg in Algorithm::ALL {
        let key = jwk(&keys().jwk(alg));
        let other_key = jwk(&other_keys().jwk(alg));
        let input = format!("{}.{}", b64(br#"{"alg":"x"}"#), b64(br#"{"sub":"alice"}"#));
        let input = input.as_bytes();
        let signature = keys().signature(alg, input);
        let backends = backends();
        assert!(backends.verify(&key, alg, input, &signature), "{alg}");
        // Agrees with core's own verifier on the same key.
        assert!(key.material.verify(alg, input, &signature), "{alg}");

        let mut flipped = signature.clone();
        flipped[signature.len() / 2] ^= 0x10;
        assert!(
            !backends.verify(&key, alg, input, &flipped),
            "{alg} flipped"
        );
        assert!(
            !backends.verify(&key, alg, &[input, b"x"].concat(), &signature),
            "{alg} other text"
        );
        assert!(
            !backends.verify(&other_key, alg, input, &signature),
            "{alg} other key"
        );
        assert!(
            !backends.verify(&key, alg, input, &signature[..signature.len() - 1]),
            "{alg} short"
        );
        assert!(!backends.verify(&key, alg, input, &[]), "{alg} empty");
    }
}

#[test]
fn each_hash_name_means_one_padding() {
    // `sha256` is PKCS#1 v1.5 only (as on Envoy), `sha256-pss` PSS only: a signature of one
    // padding never passes for the other.
    let key = jwk(&keys().jwk(Algorithm::PS256));
    let input = b"a.b";
    let pss = keys().signature(Algorithm::PS256, input);
    let pkcs1 = keys().signature(Algorithm::RS256, input);
    let answer = |hash: &str, signature: &[u8]| {
        NativeCrypto.verify_signature(&encode_arguments(hash, &key.spki, signature, input))
    };
    let (yes, no) = (Some(vec![8, 1]), Some(Vec::new())); // true / false, as protobuf writes them
    assert_eq!(answer("sha256", &pss), no);
    assert_eq!(answer("sha256", &pkcs1), yes);
    assert_eq!(answer("sha256-pss", &pss), yes);
    assert_eq!(answer("sha256-pss", &pkcs1), no);
}

#[test]
fn what_aws_lc_does_not_do_here_gets_no_answer() {
    let input = b"a.b";
    // Ed25519 (EdDSA): core's is as fast and stricter (see the small-order test below).
    let key = jwk(&keys().jwk(Algorithm::EdDSA));
    // Whatever the signature, the key and hash decide: no answer.
    let signature = keys().signature(Algorithm::EdDSA, input);
    assert_eq!(
        NativeCrypto.verify_signature(&encode_arguments("sha512", &key.spki, &signature, input)),
        None
    );
    // A hash that does not go with the key, an unknown hash, garbage arguments, a garbage key.
    let p256 = jwk(&keys().jwk(Algorithm::ES256));
    for hash in ["sha384", "sha1", "SHA-256", "sha256-pss", ""] {
        assert_eq!(
            NativeCrypto.verify_signature(&encode_arguments(hash, &p256.spki, &[1; 70], input)),
            None,
            "{hash}"
        );
    }
    assert_eq!(NativeCrypto.verify_signature(&[0xff, 0xff]), None);
    assert_eq!(
        NativeCrypto.verify_signature(&encode_arguments("sha256", &[0x30, 0], &[1; 64], input)),
        None
    );
}

/// `a⁻¹ mod m` by the extended Euclidean algorithm, coefficients kept in [0, m).
fn mod_inverse(a: &BigUint, m: &BigUint) -> BigUint {
    let zero = BigUint::from(0u8);
    let (mut old_r, mut r) = (a.clone(), m.clone());
    let (mut old_s, mut s) = (BigUint::from(1u8), zero.clone());
    while r != zero {
        let q = &old_r / &r;
        let next_r = &old_r - &q * &r;
        old_r = std::mem::replace(&mut r, next_r);
        let qs = (&q * &s) % m;
        let next_s = (&old_s + m - qs) % m;
        old_s = std::mem::replace(&mut s, next_s);
    }
    assert_eq!(old_r, BigUint::from(1u8), "not invertible");
    old_s
}

#[test]
fn rsa_exponents_beyond_aws_lc_are_verified_by_core() {
    // The test kit's primes with e = 2³³ + 17: core accepts such a key (e up to 64 bits), AWS-LC
    // refuses it (e ≤ 2³³ − 1). Signed by hand: s = EM^d mod n, EM per RFC 8017 §9.2.
    let private = &keys().rsa;
    let (p, q) = (&private.primes()[0], &private.primes()[1]);
    let one = BigUint::from(1u8);
    let phi = (p - &one) * (q - &one);
    let e = BigUint::from((1u64 << 33) + 17);
    let d = mod_inverse(&e, &phi);
    let n = private.n();
    let k = n.to_bytes_be().len();
    let input = b"header.payload";
    let digest = ring::digest::digest(&ring::digest::SHA256, input);
    let prefix = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let mut em = vec![0x00, 0x01];
    em.resize(k - prefix.len() - 32 - 1, 0xff);
    em.push(0);
    em.extend_from_slice(&prefix);
    em.extend_from_slice(digest.as_ref());
    let s = BigUint::from_bytes_be(&em).modpow(&d, n).to_bytes_be();
    let mut signature = vec![0u8; k - s.len()];
    signature.extend_from_slice(&s);

    let key = jwk(&json!({
        "kty": "RSA",
        "n": b64(&n.to_bytes_be()),
        "e": b64(&e.to_bytes_be()),
    }));
    assert!(key.material.verify(Algorithm::RS256, input, &signature));
    // AWS-LC alone refuses the key…
    let components = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: n.to_bytes_be(),
        e: e.to_bytes_be(),
    };
    assert!(components
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            input,
            &signature
        )
        .is_err());
    // …the native backend still decides as core does.
    assert!(backends().verify(&key, Algorithm::RS256, input, &signature));
    let mut flipped = signature.clone();
    flipped[7] ^= 1;
    assert!(!backends().verify(&key, Algorithm::RS256, input, &flipped));
}

fn wycheproof(name: &str) -> Value {
    let path = format!(
        "{}/../core/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The group's key as a JWK Warden loads, or `None` when core refuses it.
fn group_key(group: &Value) -> Option<Jwk> {
    if let Some(jwk) = group.get("publicKeyJwk").or_else(|| group.get("keyJwk")) {
        return KeySet::parse(&json!({ "keys": [jwk] }).to_string())
            .ok()?
            .keys
            .pop();
    }
    let key = &group["publicKey"];
    let (len, crv) = match key["curve"].as_str()? {
        "secp256r1" => (32, "P-256"),
        "secp384r1" => (48, "P-384"),
        "secp521r1" => (66, "P-521"),
        _ => return None,
    };
    let coordinate = |name: &str| {
        let mut bytes = hex(key[name].as_str().unwrap());
        while bytes.len() > len && bytes[0] == 0 {
            bytes.remove(0);
        }
        let mut padded = vec![0u8; len.saturating_sub(bytes.len())];
        padded.extend(bytes);
        b64(&padded)
    };
    let jwk = json!({"kty": "EC", "crv": crv, "x": coordinate("wx"), "y": coordinate("wy")});
    KeySet::parse(&json!({ "keys": [jwk] }).to_string())
        .ok()?
        .keys
        .pop()
}

/// Every test of `file`, through the native backends and through core's own verifier: the same
/// answer each time. Returns how many were compared.
fn same_decisions(file: &str, alg: Algorithm) -> usize {
    let mut compared = 0;
    for group in wycheproof(file)["testGroups"].as_array().unwrap() {
        let Some(key) = group_key(group) else {
            continue;
        };
        for t in group["tests"].as_array().unwrap() {
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let native = backends().verify(&key, alg, &msg, &sig);
            let core = key.material.verify(alg, &msg, &sig);
            assert_eq!(
                native, core,
                "{file} tc {} ({}, {}): the native backend and core disagree",
                t["tcId"], t["result"], t["comment"]
            );
            if t["result"] == "valid" {
                assert!(native, "{file} tc {}", t["tcId"]);
            }
            if t["result"] == "invalid" {
                assert!(!native, "{file} tc {}", t["tcId"]);
            }
            compared += 1;
        }
    }
    compared
}

#[test]
fn wycheproof_decisions_are_cores() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
        ("ecdsa_secp521r1_sha512_p1363_test.json", Algorithm::ES512),
        ("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256),
        ("rsa_pss_2048_sha384_mgf1_48_test.json", Algorithm::PS384),
        ("ed25519_test.json", Algorithm::EdDSA),
    ] {
        assert!(same_decisions(file, alg) > 100, "{file}");
    }
}

/// Why Ed25519 stays with core (besides the libraries being no faster there): the key holder
/// signs with r = 0, so R is the identity and s = h·a, valid for the cofactorless equation
/// `ring` checks, refused by core's `verify_strict`. The native backends refuse it (core
/// decides).
#[test]
fn ed25519_small_order_r_is_refused_as_core_refuses_it() {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::scalar::Scalar;
    let seed = keys().ed25519.to_bytes();
    let expanded = ring::digest::digest(&ring::digest::SHA512, &seed);
    let mut clamped = [0u8; 32];
    clamped.copy_from_slice(&expanded.as_ref()[..32]);
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let a = Scalar::from_bytes_mod_order(clamped);
    let public = (ED25519_BASEPOINT_POINT * a).compress().to_bytes();
    assert_eq!(public, keys().ed25519.verifying_key().to_bytes());
    let message = b"header.payload";
    let r = curve25519_dalek::edwards::EdwardsPoint::default()
        .compress()
        .to_bytes();
    let mut context = ring::digest::Context::new(&ring::digest::SHA512);
    context.update(&r);
    context.update(&public);
    context.update(message);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(context.finish().as_ref());
    let s = Scalar::from_bytes_mod_order_wide(&wide) * a;
    let signature = [r, s.to_bytes()].concat();

    assert!(
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
            .verify(message, &signature)
            .is_ok()
    );
    let key = jwk(&keys().jwk(Algorithm::EdDSA));
    assert!(!key.material.verify(Algorithm::EdDSA, message, &signature));
    assert!(!backends().verify(&key, Algorithm::EdDSA, message, &signature));
}
