//! Signature checks over the JWS signing input (RFC 7515 §5.2), one algorithm family per
//! module. Each key kind only ever runs its own algorithms (the caller checks `Jwk::fits`;
//! `verify` checks the pairing again).
//!
//! - `limbs`: 32-bit-limb multi-precision and Montgomery arithmetic shared by RSA and ECDSA;
//! - `rsa`: RS256/384/512 and PS256/384/512;
//! - `ecdsa`: ES256, ES384 and ES512;
//! - `hmac`: HS256/384/512; `eddsa`: EdDSA (Ed25519);
//! - `host`: the proxy's own `verify_signature`, where it verifies an algorithm correctly (the
//!   key and signature encodings it takes are in `crate::der::write`).

pub mod ecdsa;
pub mod eddsa;
mod hmac;
pub mod host;
mod limbs;
pub mod rsa;

use self::hmac::HmacHash;
use self::rsa::Hash;
use crate::alg::Algorithm;
use crate::jwk::KeyMaterial;

/// Whether `signature` is `alg`'s signature of `signing_input` under `key`.
pub fn verify(key: &KeyMaterial, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
    match (key, alg) {
        (KeyMaterial::Hmac(secret), Algorithm::HS256) => {
            hmac::verify(HmacHash::Sha256, secret, signing_input, signature)
        }
        (KeyMaterial::Hmac(secret), Algorithm::HS384) => {
            hmac::verify(HmacHash::Sha384, secret, signing_input, signature)
        }
        (KeyMaterial::Hmac(secret), Algorithm::HS512) => {
            hmac::verify(HmacHash::Sha512, secret, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::RS256) => {
            key.verify_pkcs1v15(Hash::Sha256, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::RS384) => {
            key.verify_pkcs1v15(Hash::Sha384, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::RS512) => {
            key.verify_pkcs1v15(Hash::Sha512, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::PS256) => {
            key.verify_pss(Hash::Sha256, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::PS384) => {
            key.verify_pss(Hash::Sha384, signing_input, signature)
        }
        (KeyMaterial::Rsa(key), Algorithm::PS512) => {
            key.verify_pss(Hash::Sha512, signing_input, signature)
        }
        // The ECDSA keys refuse r or s outside [1, n − 1] (CVE-2022-21449).
        (KeyMaterial::P256(key), Algorithm::ES256) => key.verify(signing_input, signature),
        (KeyMaterial::P384(key), Algorithm::ES384) => key.verify(signing_input, signature),
        (KeyMaterial::P521(key), Algorithm::ES512) => key.verify(signing_input, signature),
        (KeyMaterial::Ed25519(key), Algorithm::EdDSA) => {
            eddsa::verify(key, signing_input, signature)
        }
        _ => false,
    }
}
