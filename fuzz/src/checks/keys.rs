//! Fixed keys of every algorithm (test keys, never secrets: `fuzz/keys/*.pem` are committed), the
//! JWKS that publishes them, reference signing and verification with RustCrypto, and a signature
//! verdict taken through Warden's public token API.

use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::sync::OnceLock;
use warden_core::alg::KeyKind;
use warden_core::jwk::KeySet;
use warden_core::token::{self, Requirements};
use warden_core::{b64, Algorithm, Reason};

/// "Now" for every claim check: 2023-11-14T22:13:20Z.
pub const NOW: i64 = 1_700_000_000;
/// 64 bytes: long enough for HS256, HS384 and HS512.
pub const HMAC_SECRET: &[u8] = b"warden-fuzz-hmac-key-0123456789abcdef0123456789abcdef0123456789a";

/// 2048 (e = 65537), 2048 with e = 3, 2049 (a modulus whose top byte is 0x01), 3072, 4096.
pub const RSA_PEMS: [&str; 5] = [
    include_str!("../../keys/rsa2048.pem"),
    include_str!("../../keys/rsa2048_e3.pem"),
    include_str!("../../keys/rsa2049.pem"),
    include_str!("../../keys/rsa3072.pem"),
    include_str!("../../keys/rsa4096.pem"),
];

pub struct Keys {
    pub rsa: Vec<rsa::RsaPrivateKey>,
    pub p256: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub p521: p521::ecdsa::SigningKey,
    pub ed: ed25519_dalek::SigningKey,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: RSA_PEMS
            .iter()
            .map(|pem| rsa::RsaPrivateKey::from_pkcs8_pem(pem).expect("fixed RSA key"))
            .collect(),
        p256: p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).expect("fixed P-256 scalar"),
        p384: p384::ecdsa::SigningKey::from_slice(&[0x42; 48]).expect("fixed P-384 scalar"),
        // P-521 scalars have 521 bits: the top byte holds one.
        p521: p521::ecdsa::SigningKey::from_slice(&[[0u8].as_slice(), &[0x42; 65]].concat())
            .expect("fixed P-521 scalar"),
        ed: ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]),
    })
}

/// The `kid` of the fixed key serving `alg` (one RSA key serves RS* and PS*).
pub fn kid(alg: Algorithm) -> &'static str {
    match alg.key_kind() {
        KeyKind::Hmac => "hs",
        KeyKind::Rsa => "rs",
        KeyKind::EcP256 => "es256",
        KeyKind::EcP384 => "es384",
        KeyKind::EcP521 => "es512",
        KeyKind::Ed25519 => "ed",
    }
}

pub fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64::encode(n), "e": b64::encode(e)})
}

pub fn ec_jwk(crv: &str, x: &[u8], y: &[u8]) -> Value {
    json!({"kty": "EC", "crv": crv, "x": b64::encode(x), "y": b64::encode(y)})
}

fn with_kid(mut jwk: Value, kid: &str) -> Value {
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), kid.into());
    }
    jwk
}

/// Public JWKS of the fixed keys (and the HMAC secret), each with its `kid`.
pub fn public_jwks() -> String {
    let k = keys();
    let rsa = k.rsa[0].to_public_key();
    let p256 = k.p256.verifying_key().to_encoded_point(false);
    let p384 = k.p384.verifying_key().to_encoded_point(false);
    let p521 = p521::ecdsa::VerifyingKey::from(&k.p521).to_encoded_point(false);
    let keys = vec![
        json!({"kty": "oct", "kid": "hs", "k": b64::encode(HMAC_SECRET)}),
        with_kid(
            rsa_jwk(&rsa.n().to_bytes_be(), &rsa.e().to_bytes_be()),
            "rs",
        ),
        with_kid(
            ec_jwk("P-256", p256.x().expect("x"), p256.y().expect("y")),
            "es256",
        ),
        with_kid(
            ec_jwk("P-384", p384.x().expect("x"), p384.y().expect("y")),
            "es384",
        ),
        with_kid(
            ec_jwk("P-521", p521.x().expect("x"), p521.y().expect("y")),
            "es512",
        ),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed",
               "x": b64::encode(k.ed.verifying_key().as_bytes())}),
    ];
    json!({ "keys": keys }).to_string()
}

pub fn keyset() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| KeySet::parse(&public_jwks()).expect("the fixed JWKS parses"))
}

/// A deterministic RNG (xorshift64*) for PSS salts: the same input gives the same signature.
pub struct SeedRng(pub u64);

impl rand_core::RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0 = self.0.max(1);
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for SeedRng {}

fn mac<M: hmac::Mac + hmac::digest::KeyInit>(input: &[u8]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(HMAC_SECRET).expect("any HMAC key");
    m.update(input);
    m.finalize().into_bytes().to_vec()
}

/// Hash of `input` for an RSA algorithm, and the matching padding schemes.
fn rsa_digest(alg: Algorithm, input: &[u8]) -> Vec<u8> {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => Sha256::digest(input).to_vec(),
        Algorithm::RS384 | Algorithm::PS384 => Sha384::digest(input).to_vec(),
        _ => Sha512::digest(input).to_vec(),
    }
}

fn pkcs1(alg: Algorithm) -> rsa::Pkcs1v15Sign {
    match alg {
        Algorithm::RS256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
        Algorithm::RS384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
        _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
    }
}

/// PSS with the salt as long as the hash, as JWA requires (RFC 7518 §3.5).
fn pss(alg: Algorithm) -> rsa::Pss {
    match alg {
        Algorithm::PS256 => rsa::Pss::new::<Sha256>(),
        Algorithm::PS384 => rsa::Pss::new::<Sha384>(),
        _ => rsa::Pss::new::<Sha512>(),
    }
}

fn is_pss(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512)
}

pub fn rsa_sign(key: &rsa::RsaPrivateKey, alg: Algorithm, input: &[u8], seed: u64) -> Vec<u8> {
    let hashed = rsa_digest(alg, input);
    let signed = if is_pss(alg) {
        key.sign_with_rng(&mut SeedRng(seed | 1), pss(alg), &hashed)
    } else {
        key.sign(pkcs1(alg), &hashed)
    };
    signed.expect("RustCrypto signs with a fixed key")
}

pub fn rsa_reference_verify(
    key: &rsa::RsaPublicKey,
    alg: Algorithm,
    input: &[u8],
    sig: &[u8],
) -> bool {
    let hashed = rsa_digest(alg, input);
    if is_pss(alg) {
        key.verify(pss(alg), &hashed, sig).is_ok()
    } else {
        key.verify(pkcs1(alg), &hashed, sig).is_ok()
    }
}

/// Signs with the fixed key for `alg` (RSA: `keys().rsa[0]`).
pub fn sign(alg: Algorithm, input: &[u8], seed: u64) -> Vec<u8> {
    use p256::ecdsa::signature::Signer;
    let k = keys();
    match alg {
        Algorithm::HS256 => mac::<hmac::Hmac<Sha256>>(input),
        Algorithm::HS384 => mac::<hmac::Hmac<Sha384>>(input),
        Algorithm::HS512 => mac::<hmac::Hmac<Sha512>>(input),
        Algorithm::ES256 => {
            let sig: p256::ecdsa::Signature = k.p256.sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::ES384 => {
            let sig: p384::ecdsa::Signature = k.p384.sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::ES512 => {
            let sig: p521::ecdsa::Signature = k.p521.sign(input);
            sig.to_bytes().to_vec()
        }
        Algorithm::EdDSA => {
            use ed25519_dalek::Signer as _;
            k.ed.sign(input).to_bytes().to_vec()
        }
        rsa_alg => rsa_sign(&k.rsa[0], rsa_alg, input, seed),
    }
}

/// RustCrypto's (and dalek's strict) verdict with the fixed key for `alg`.
pub fn reference_verify(alg: Algorithm, input: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    let k = keys();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let tag = sign(alg, input, 0);
            // Not constant time: this is the oracle, not the filter.
            tag == sig
        }
        Algorithm::ES256 => p256::ecdsa::Signature::from_slice(sig)
            .is_ok_and(|s| k.p256.verifying_key().verify(input, &s).is_ok()),
        Algorithm::ES384 => p384::ecdsa::Signature::from_slice(sig)
            .is_ok_and(|s| k.p384.verifying_key().verify(input, &s).is_ok()),
        Algorithm::ES512 => p521::ecdsa::Signature::from_slice(sig).is_ok_and(|s| {
            p521::ecdsa::VerifyingKey::from(&k.p521)
                .verify(input, &s)
                .is_ok()
        }),
        Algorithm::EdDSA => ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|s| k.ed.verifying_key().verify_strict(input, &s).is_ok()),
        rsa_alg => rsa_reference_verify(&k.rsa[0].to_public_key(), rsa_alg, input, sig),
    }
}

/// `b64(header) . b64(payload)`.
pub fn signing_input(header: &[u8], payload: &[u8]) -> String {
    format!("{}.{}", b64::encode(header), b64::encode(payload))
}

pub fn compact(input: &str, sig: &[u8]) -> String {
    format!("{input}.{}", b64::encode(sig))
}

/// Whether Warden accepts the token's signature with `set`, through `token::decode` and
/// `verify_signature` (the path the filter takes). The payload must be a JSON object, so that
/// `Ok` means exactly "signature good". Any other error is returned as it is.
pub fn our_signature_verdict(token: &str, set: &KeySet) -> Result<bool, Reason> {
    let req = Requirements {
        max_token_bytes: 1 << 20,
        ..Requirements::default()
    };
    let decoded = token::decode(token, &req)?;
    match decoded.verify_signature(set) {
        Ok(_) => Ok(true),
        Err(Reason::SignatureInvalid) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A JSON payload carrying arbitrary message bytes.
pub fn payload_for(message: &[u8]) -> Vec<u8> {
    json!({ "m": b64::encode(message) })
        .to_string()
        .into_bytes()
}
