//! Signature checks over the JWS signing input. Each key kind only ever runs its own algorithms
//! (the caller checks `Jwk::fits`; this is checked again here).

use crate::alg::Algorithm;
use crate::jwk::KeyMaterial;
use crate::rsa_verify::Hash;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

pub fn verify(key: &KeyMaterial, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
    match (key, alg) {
        (KeyMaterial::Hmac(secret), Algorithm::HS256) => {
            hmac_verify::<Hmac<Sha256>>(secret, signing_input, signature)
        }
        (KeyMaterial::Hmac(secret), Algorithm::HS384) => {
            hmac_verify::<Hmac<Sha384>>(secret, signing_input, signature)
        }
        (KeyMaterial::Hmac(secret), Algorithm::HS512) => {
            hmac_verify::<Hmac<Sha512>>(secret, signing_input, signature)
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
        (KeyMaterial::P256(key), Algorithm::ES256) => {
            // `ecdsa_verify` refuses r or s outside [1, n − 1] (CVE-2022-21449 and friends).
            key.verify(signing_input, signature)
        }
        (KeyMaterial::P384(key), Algorithm::ES384) => {
            // `ecdsa_verify` refuses r or s outside [1, n − 1], as for P-256.
            key.verify(signing_input, signature)
        }
        (KeyMaterial::Ed25519(key), Algorithm::EdDSA) => {
            // Strict: refuses small-order R and non-canonical encodings as well.
            match ed25519_dalek::Signature::from_slice(signature) {
                Ok(sig) => key.verify_strict(signing_input, &sig).is_ok(),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

fn hmac_verify<M: Mac + hmac::digest::KeyInit>(
    secret: &[u8],
    input: &[u8],
    signature: &[u8],
) -> bool {
    match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(input);
            // Constant-time comparison of the full tag.
            mac.verify_slice(signature).is_ok()
        }
        Err(_) => false,
    }
}
