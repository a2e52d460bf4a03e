//! Test signing kit: a key pair per algorithm, its public JWK, and compact JWS minting.
#![allow(dead_code)]

use std::sync::OnceLock;
use warden_core::b64;
use warden_core::Algorithm;

pub const HMAC_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap())
}

pub fn p256_key() -> &'static p256::ecdsa::SigningKey {
    static KEY: OnceLock<p256::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
}

pub fn p384_key() -> &'static p384::ecdsa::SigningKey {
    static KEY: OnceLock<p384::ecdsa::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| p384::ecdsa::SigningKey::random(&mut rand_core::OsRng))
}

pub fn ed_key() -> &'static ed25519_dalek::SigningKey {
    static KEY: OnceLock<ed25519_dalek::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
}

/// Public JWK (or the `oct` secret) for `alg`'s test key, with `kid` = the algorithm name.
pub fn jwk(alg: Algorithm) -> serde_json::Value {
    use rsa::traits::PublicKeyParts;
    let kid = alg.name();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            serde_json::json!({"kty":"oct","kid":kid,"k": b64::encode(HMAC_SECRET)})
        }
        Algorithm::ES256 => {
            let p = p256_key().verifying_key().to_encoded_point(false);
            serde_json::json!({"kty":"EC","crv":"P-256","kid":kid,
                "x": b64::encode(p.x().unwrap()), "y": b64::encode(p.y().unwrap())})
        }
        Algorithm::ES384 => {
            let p = p384_key().verifying_key().to_encoded_point(false);
            serde_json::json!({"kty":"EC","crv":"P-384","kid":kid,
                "x": b64::encode(p.x().unwrap()), "y": b64::encode(p.y().unwrap())})
        }
        Algorithm::EdDSA => serde_json::json!({"kty":"OKP","crv":"Ed25519","kid":kid,
            "x": b64::encode(ed_key().verifying_key().as_bytes())}),
        _ => {
            let k = rsa_key().to_public_key();
            serde_json::json!({"kty":"RSA","kid":kid,
                "n": b64::encode(&k.n().to_bytes_be()), "e": b64::encode(&k.e().to_bytes_be())})
        }
    }
}

/// A JWKS holding the test key of every algorithm.
pub fn jwks_all() -> String {
    let keys: Vec<_> = Algorithm::ALL
        .iter()
        .filter(|a| {
            !matches!(
                a,
                Algorithm::HS384
                    | Algorithm::HS512
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            )
        })
        .map(|a| jwk(*a))
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

pub fn sign_raw(alg: Algorithm, input: &[u8]) -> Vec<u8> {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    match alg {
        Algorithm::HS256 => mac::<hmac::Hmac<sha2::Sha256>>(input),
        Algorithm::HS384 => mac::<hmac::Hmac<sha2::Sha384>>(input),
        Algorithm::HS512 => mac::<hmac::Hmac<sha2::Sha512>>(input),
        Algorithm::RS256 => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key().clone())
            .sign(input)
            .to_vec(),
        Algorithm::RS384 => rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(rsa_key().clone())
            .sign(input)
            .to_vec(),
        Algorithm::RS512 => rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(rsa_key().clone())
            .sign(input)
            .to_vec(),
        Algorithm::PS256 => rsa::pss::SigningKey::<sha2::Sha256>::new(rsa_key().clone())
            .sign_with_rng(&mut rand_core::OsRng, input)
            .to_vec(),
        Algorithm::PS384 => rsa::pss::SigningKey::<sha2::Sha384>::new(rsa_key().clone())
            .sign_with_rng(&mut rand_core::OsRng, input)
            .to_vec(),
        Algorithm::PS512 => rsa::pss::SigningKey::<sha2::Sha512>::new(rsa_key().clone())
            .sign_with_rng(&mut rand_core::OsRng, input)
            .to_vec(),
        Algorithm::ES256 => {
            let sig: p256::ecdsa::Signature = p256_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::ES384 => {
            let sig: p384::ecdsa::Signature = p384_key().sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::EdDSA => {
            use ed25519_dalek::Signer as _;
            ed_key().sign(input).to_bytes().to_vec()
        }
    }
}

fn mac<M: hmac::Mac + hmac::digest::KeyInit>(input: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(HMAC_SECRET).unwrap();
    m.update(input);
    m.finalize().into_bytes().to_vec()
}

/// Compact JWS from raw header and claims JSON, signed with `alg`'s test key.
pub fn token_with(
    alg: Algorithm,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let sig = sign_raw(alg, input.as_bytes());
    format!("{input}.{}", b64::encode(&sig))
}

pub fn token(alg: Algorithm, claims: &serde_json::Value) -> String {
    token_with(
        alg,
        &serde_json::json!({"alg": alg.name(), "typ": "JWT", "kid": alg.name()}),
        claims,
    )
}

pub const NOW: i64 = 1_700_000_000;

pub fn claims() -> serde_json::Value {
    serde_json::json!({"iss":"https://issuer.example","aud":"api.example","sub":"alice","jti":"j1",
        "iat": NOW - 10, "exp": NOW + 600})
}
