//! Compact JWS signing with the test keys: any header, any claims, even bytes that are not JSON.
//! Signatures are deterministic too (RSA-PSS takes its salt from a stream seeded by the input).

use crate::keys::{kid, stream, Keys};
use crate::{b64, Algorithm};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

/// The usual header for `alg`: `alg`, `typ: JWT` and the test key's `kid`.
pub fn header(alg: Algorithm) -> Value {
    json!({"alg": alg.name(), "typ": "JWT", "kid": kid(alg)})
}

/// HMAC of `input` under `secret` with the hash of an `HS*` algorithm (any secret: also the
/// ones an attacker would pick, such as an RSA public key).
pub fn hmac(alg: Algorithm, secret: &[u8], input: &[u8]) -> Vec<u8> {
    fn mac<M: hmac::Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret).expect("HMAC key");
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
    match alg {
        Algorithm::HS256 => mac::<hmac::Hmac<Sha256>>(secret, input),
        Algorithm::HS384 => mac::<hmac::Hmac<Sha384>>(secret, input),
        Algorithm::HS512 => mac::<hmac::Hmac<Sha512>>(secret, input),
        other => panic!("{other} is not an HMAC algorithm"),
    }
}

/// `base64url(header).base64url(claims)`: the JWS signing input.
pub fn signing_input(header: &[u8], claims: &[u8]) -> String {
    format!("{}.{}", b64(header), b64(claims))
}

impl Keys {
    /// The JWS signature of `input` with the key for `alg` (ECDSA in the r‖s form JWS uses).
    pub fn signature(&self, alg: Algorithm, input: &[u8]) -> Vec<u8> {
        let rsa = || self.rsa.clone();
        let salt = || stream(&b64(input), "pss-salt");
        match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                hmac(alg, self.hmac_secret(alg), input)
            }
            Algorithm::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa())
                .sign(input)
                .to_vec(),
            Algorithm::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(rsa())
                .sign(input)
                .to_vec(),
            Algorithm::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(rsa())
                .sign(input)
                .to_vec(),
            Algorithm::PS256 => rsa::pss::SigningKey::<Sha256>::new(rsa())
                .sign_with_rng(&mut salt(), input)
                .to_vec(),
            Algorithm::PS384 => rsa::pss::SigningKey::<Sha384>::new(rsa())
                .sign_with_rng(&mut salt(), input)
                .to_vec(),
            Algorithm::PS512 => rsa::pss::SigningKey::<Sha512>::new(rsa())
                .sign_with_rng(&mut salt(), input)
                .to_vec(),
            Algorithm::ES256 => {
                let signature: p256::ecdsa::Signature = self.p256.sign(input);
                signature.to_bytes().to_vec()
            }
            Algorithm::ES384 => {
                let signature: p384::ecdsa::Signature = self.p384.sign(input);
                signature.to_bytes().to_vec()
            }
            Algorithm::ES512 => {
                // `p521` 0.13 has no RFC 6979 signer: its nonce comes from a stream seeded by the
                // input, like the PSS salt, so signatures stay deterministic (test keys only).
                let signature: p521::ecdsa::Signature = self
                    .p521
                    .sign_with_rng(&mut stream(&b64(input), "p521-k"), input);
                signature.to_bytes().to_vec()
            }
            Algorithm::EdDSA => ed25519_dalek::Signer::sign(&self.ed25519, input)
                .to_bytes()
                .to_vec(),
        }
    }

    /// A compact JWS over raw header and claims bytes (which need not be JSON at all), signed
    /// with the key for `alg`.
    pub fn sign_parts(&self, alg: Algorithm, header: &[u8], claims: &[u8]) -> String {
        let input = signing_input(header, claims);
        let signature = self.signature(alg, input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    /// A compact JWS with exactly this header and these claims, signed with the key for `alg`
    /// (whatever the header's own `alg` says: that is how wrong-alg tokens are made).
    pub fn sign_with_header(&self, alg: Algorithm, header: &Value, claims: &Value) -> String {
        self.sign_parts(
            alg,
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
        )
    }

    /// A token for `alg` with the usual [`header`].
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> String {
        self.sign_with_header(alg, &header(alg), claims)
    }
}
