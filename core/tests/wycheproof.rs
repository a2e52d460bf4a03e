#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Project Wycheproof vectors (Apache-2.0, `data/wycheproof/LICENSE`) through the same path the
//! filter uses: the group's public key as a JWK → `KeySet::parse` → `KeyMaterial::verify`, and again
//! through the host backend (`host_crypto`, with the native stand-in of Envoy's
//! `verify_signature` from the test kit) for the algorithms the host verifies.
//! `valid` must verify, `invalid` must not; `acceptable` may go either way.

use serde_json::Value;
use warden_core::host_crypto::{Backend, HostCrypto, SignatureBackends};
use warden_core::jwk::{Jwk, KeyMaterial, KeySet};
use warden_core::Algorithm;

struct NativeHost;

impl HostCrypto for NativeHost {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        warden_testkit::host_crypto::verify_signature(arguments).ok()
    }
}

fn host_backends() -> &'static SignatureBackends {
    thread_local! {
        static BACKENDS: &'static SignatureBackends =
            Box::leak(Box::new(SignatureBackends::detect(Box::new(NativeHost))));
    }
    BACKENDS.with(|b| *b)
}

fn load(name: &str) -> Value {
    let path = format!(
        "{}/tests/data/wycheproof/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

enum Key {
    Usable(Box<Jwk>),
    /// Warden refuses the key itself, so nothing can verify with it.
    Unusable,
    /// The group tests something JWS does not use.
    NotApplicable,
}

impl From<Option<Jwk>> for Key {
    fn from(k: Option<Jwk>) -> Self {
        k.map_or(Key::Unusable, |k| Key::Usable(Box::new(k)))
    }
}

fn run(file: &str, alg: Algorithm, key_of: impl Fn(&Value, &Value) -> Key) -> usize {
    let doc = load(file);
    let mut checked = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        for t in group["tests"].as_array().unwrap() {
            let key = match key_of(group, t) {
                Key::Usable(key) => key,
                Key::Unusable => {
                    assert_ne!(
                        t["result"], "valid",
                        "{file} tc {} has an unusable key but is valid",
                        t["tcId"]
                    );
                    continue;
                }
                Key::NotApplicable => continue,
            };
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig_field = if t.get("sig").is_some() { "sig" } else { "tag" };
            let sig = hex::decode(t[sig_field].as_str().unwrap()).unwrap();
            let ok = key.material.verify(alg, &msg, &sig);
            let backends = host_backends();
            if backends.backend(alg) == Backend::Host {
                let on_host = backends.verify(&key, alg, &msg, &sig);
                if t["result"] != "acceptable" {
                    assert_eq!(
                        on_host, ok,
                        "{file} tc {} ({}): host and wasm disagree",
                        t["tcId"], t["comment"]
                    );
                }
            }
            match t["result"].as_str().unwrap() {
                "valid" => assert!(
                    ok,
                    "{file} tc {} ({}) should verify",
                    t["tcId"], t["comment"]
                ),
                "invalid" => assert!(
                    !ok,
                    "{file} tc {} ({}) must not verify",
                    t["tcId"], t["comment"]
                ),
                _ => {}
            }
            checked += 1;
        }
    }
    checked
}

fn jwk_key(jwk: &Value) -> Option<Jwk> {
    KeySet::parse(&jwk.to_string())
        .ok()
        .and_then(|mut set| set.keys.pop())
}

fn public_jwk(group: &Value, t: &Value) -> Key {
    public_key(group, t).into()
}

fn public_key(group: &Value, _: &Value) -> Option<Jwk> {
    if let Some(jwk) = group.get("publicKeyJwk").or_else(|| group.get("keyJwk")) {
        return jwk_key(jwk);
    }
    // Some ECDSA groups give only the affine coordinates: make the JWK from them.
    let key = &group["publicKey"];
    let (crv, len) = match key["curve"].as_str()? {
        "secp256r1" => ("P-256", 32),
        "secp384r1" => ("P-384", 48),
        "secp521r1" => ("P-521", 66),
        _ => return None,
    };
    let coord = |name: &str| -> Option<String> {
        let mut bytes = hex::decode(key[name].as_str()?).ok()?;
        while bytes.len() > len && bytes[0] == 0 {
            bytes.remove(0);
        }
        let mut padded = vec![0u8; len.saturating_sub(bytes.len())];
        padded.extend(bytes);
        Some(warden_core::b64::encode(&padded))
    };
    jwk_key(&serde_json::json!({"kty":"EC","crv":crv,"x":coord("wx")?,"y":coord("wy")?}))
}

/// The test's HMAC key, for groups whose tag is the full hash output (JWS never truncates).
fn hmac_key(full_bits: u64) -> impl Fn(&Value, &Value) -> Key {
    move |group, t| {
        if group["tagSize"].as_u64() != Some(full_bits) {
            return Key::NotApplicable;
        }
        match t["key"].as_str().and_then(|k| hex::decode(k).ok()) {
            Some(k) => Key::Usable(Box::new(Jwk {
                kid: None,
                alg: None,
                material: KeyMaterial::Hmac(k),
                spki: Box::default(),
            })),
            None => Key::Unusable,
        }
    }
}

#[test]
fn ecdsa_p256() {
    assert!(
        run(
            "ecdsa_secp256r1_sha256_p1363_test.json",
            Algorithm::ES256,
            public_jwk
        ) > 100
    );
}

#[test]
fn ecdsa_p384() {
    assert!(
        run(
            "ecdsa_secp384r1_sha384_p1363_test.json",
            Algorithm::ES384,
            public_jwk
        ) > 100
    );
}

#[test]
fn ecdsa_p521() {
    assert!(
        run(
            "ecdsa_secp521r1_sha512_p1363_test.json",
            Algorithm::ES512,
            public_jwk
        ) > 100
    );
}

#[test]
fn ed25519() {
    assert!(run("ed25519_test.json", Algorithm::EdDSA, public_jwk) > 100);
}

#[test]
fn rsa_pkcs1_v1_5() {
    assert!(
        run(
            "rsa_signature_2048_sha256_test.json",
            Algorithm::RS256,
            public_jwk
        ) > 100
    );
    assert!(
        run(
            "rsa_signature_2048_sha384_test.json",
            Algorithm::RS384,
            public_jwk
        ) > 100
    );
    assert!(
        run(
            "rsa_signature_2048_sha512_test.json",
            Algorithm::RS512,
            public_jwk
        ) > 100
    );
}

#[test]
fn rsa_pss() {
    assert!(
        run(
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::PS256,
            public_jwk
        ) > 50
    );
    assert!(
        run(
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            Algorithm::PS384,
            public_jwk
        ) > 50
    );
}

#[test]
fn hmac() {
    assert!(run("hmac_sha256_test.json", Algorithm::HS256, hmac_key(256)) > 50);
    assert!(run("hmac_sha384_test.json", Algorithm::HS384, hmac_key(384)) > 50);
    assert!(run("hmac_sha512_test.json", Algorithm::HS512, hmac_key(512)) > 50);
}

/// Which algorithms the native stand-in of Envoy's function verifies: the ones BoringSSL's
/// `EVP_DigestVerify` does right (so the host path above really ran for them).
#[test]
fn host_backend_covers_pkcs1_and_ecdsa_only() {
    let backends = host_backends();
    for alg in Algorithm::ALL {
        let expected = matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::ES512
        );
        assert_eq!(backends.backend(alg) == Backend::Host, expected, "{alg}");
    }
}
