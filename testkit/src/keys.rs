//! Test keys: one per algorithm family, derived from a seed, and their JWKs.
//!
//! The same seed gives the same keys on every run (a ChaCha20 stream seeded with SHA-256 of the
//! seed), so a failure reproduces with the very token that failed. Keys of different seeds are
//! unrelated: a token signed by one set never verifies under another.

use crate::{b64, Algorithm};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// RSA modulus size of the test keys.
pub const RSA_BITS: usize = 2048;

/// One key of every kind. HMAC secrets are as long as their hash output (RFC 7518 §3.2); all RSA
/// algorithms (RS*, PS*) share the one RSA key, as a real issuer's key would serve them.
#[derive(Clone)]
pub struct Keys {
    pub hs256: Vec<u8>,
    pub hs384: Vec<u8>,
    pub hs512: Vec<u8>,
    pub rsa: rsa::RsaPrivateKey,
    pub p256: p256::ecdsa::SigningKey,
    pub p384: p384::ecdsa::SigningKey,
    pub p521: p521::ecdsa::SigningKey,
    pub ed25519: ed25519_dalek::SigningKey,
}

/// The key set most tests use (seed `main`), made once per test binary.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::from_seed("main"))
}

/// A second, unrelated key set (seed `other`, its own RSA key): the "signed by someone else" keys.
pub fn other_keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys::from_seed("other"))
}

/// The `kid` of the test key serving `alg` (the RSA algorithms share one key, hence one kid).
pub fn kid(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "hs256",
        Algorithm::HS384 => "hs384",
        Algorithm::HS512 => "hs512",
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => "rsa",
        Algorithm::ES256 => "p256",
        Algorithm::ES384 => "p384",
        Algorithm::ES512 => "p521",
        Algorithm::EdDSA => "ed25519",
    }
}

/// `{"keys": [...]}` of the given JWKs.
pub fn jwks_of(jwks: impl IntoIterator<Item = Value>) -> Value {
    json!({ "keys": jwks.into_iter().collect::<Vec<_>>() })
}

/// A deterministic random stream for one part of one seed's key set.
pub(crate) fn stream(seed: &str, part: &str) -> ChaCha20Rng {
    let digest: [u8; 32] = Sha256::digest(format!("warden-testkit/{seed}/{part}")).into();
    ChaCha20Rng::from_seed(digest)
}

fn secret(seed: &str, part: &str, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    stream(seed, part).fill_bytes(&mut bytes);
    bytes
}

fn rsa_key(seed: &str) -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut stream(seed, "rsa"), RSA_BITS).expect("RSA key generation")
}

impl Keys {
    /// The key set of `seed`; the same seed always gives the same keys. RSA generation takes a
    /// moment: prefer [`keys`] / [`other_keys`], or [`Keys::from_seed_with_rsa`].
    pub fn from_seed(seed: &str) -> Keys {
        Keys::from_seed_with_rsa(seed, &rsa_key(seed))
    }

    /// The HMAC, EC and Ed25519 keys of `seed`, with the given RSA key (RSA generation is slow,
    /// and many tests only need fresh keys of the other kinds).
    pub fn from_seed_with_rsa(seed: &str, rsa: &rsa::RsaPrivateKey) -> Keys {
        Keys {
            hs256: secret(seed, "hs256", 32),
            hs384: secret(seed, "hs384", 48),
            hs512: secret(seed, "hs512", 64),
            rsa: rsa.clone(),
            p256: p256::ecdsa::SigningKey::random(&mut stream(seed, "p256")),
            p384: p384::ecdsa::SigningKey::random(&mut stream(seed, "p384")),
            p521: p521::ecdsa::SigningKey::random(&mut stream(seed, "p521")),
            ed25519: ed25519_dalek::SigningKey::generate(&mut stream(seed, "ed25519")),
        }
    }

    /// The HMAC secret for an `HS*` algorithm.
    pub fn hmac_secret(&self, alg: Algorithm) -> &[u8] {
        match alg {
            Algorithm::HS384 => &self.hs384,
            Algorithm::HS512 => &self.hs512,
            Algorithm::HS256 => &self.hs256,
            other => panic!("{other} is not an HMAC algorithm"),
        }
    }

    /// The public JWK of the key for `alg` (for HMAC the secret itself), with [`kid`]`(alg)`.
    /// `oct` keys carry their `alg`: each HMAC secret is sized for one hash.
    pub fn jwk(&self, alg: Algorithm) -> Value {
        self.jwk_with_kid(alg, kid(alg))
    }

    /// [`Keys::jwk`] with another `kid`.
    pub fn jwk_with_kid(&self, alg: Algorithm, kid: &str) -> Value {
        match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                json!({"kty": "oct", "kid": kid, "alg": alg.name(), "k": b64(self.hmac_secret(alg))})
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let public = self.rsa.to_public_key();
                json!({"kty": "RSA", "kid": kid,
                       "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
            }
            Algorithm::ES256 => {
                let point = self.p256.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "kid": kid, "crv": "P-256",
                       "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
            }
            Algorithm::ES384 => {
                let point = self.p384.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "kid": kid, "crv": "P-384",
                       "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
            }
            Algorithm::ES512 => {
                let point = p521::ecdsa::VerifyingKey::from(&self.p521).to_encoded_point(false);
                json!({"kty": "EC", "kid": kid, "crv": "P-521",
                       "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y"))})
            }
            Algorithm::EdDSA => json!({"kty": "OKP", "kid": kid, "crv": "Ed25519",
                                       "x": b64(self.ed25519.verifying_key().as_bytes())}),
        }
    }

    /// The private JWK of the key for `alg`, with `kid`, `alg` and `use: sig` (the shape
    /// `warden-verifier keygen` writes).
    pub fn private_jwk(&self, alg: Algorithm) -> Value {
        let mut jwk = self.jwk(alg);
        let fields: Vec<(&str, Vec<u8>)> = match alg.key_kind() {
            warden_core::alg::KeyKind::Hmac => vec![],
            warden_core::alg::KeyKind::EcP256 => vec![("d", self.p256.to_bytes().to_vec())],
            warden_core::alg::KeyKind::EcP384 => vec![("d", self.p384.to_bytes().to_vec())],
            warden_core::alg::KeyKind::EcP521 => vec![("d", self.p521.to_bytes().to_vec())],
            warden_core::alg::KeyKind::Ed25519 => vec![("d", self.ed25519.to_bytes().to_vec())],
            warden_core::alg::KeyKind::Rsa => {
                let primes = self.rsa.primes();
                vec![
                    ("d", self.rsa.d().to_bytes_be()),
                    ("p", primes[0].to_bytes_be()),
                    ("q", primes[1].to_bytes_be()),
                    ("dp", self.rsa.dp().expect("dp").to_bytes_be()),
                    ("dq", self.rsa.dq().expect("dq").to_bytes_be()),
                    ("qi", self.rsa.crt_coefficient().expect("qi").to_bytes_be()),
                ]
            }
        };
        for (name, value) in fields {
            jwk[name] = json!(b64(&value));
        }
        jwk["alg"] = json!(alg.name());
        jwk["use"] = json!("sig");
        jwk
    }

    /// A JWK set with one key of every kind: the three HMAC secrets, RSA, P-256, P-384, P-521,
    /// Ed25519.
    pub fn jwks(&self) -> Value {
        jwks_of(
            [
                Algorithm::HS256,
                Algorithm::HS384,
                Algorithm::HS512,
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::ES512,
                Algorithm::EdDSA,
            ]
            .map(|alg| self.jwk(alg)),
        )
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ed = b64(self.ed25519.verifying_key().as_bytes());
        write!(f, "Keys(ed25519 {ed}, ..)")
    }
}
