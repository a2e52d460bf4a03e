//! Signature checks over the JWS signing input. Each key kind only ever runs its own algorithms
//! (the caller checks `Jwk::fits`; this is checked again here).

use crate::alg::Algorithm;
use crate::jwk::KeyMaterial;
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
        (KeyMaterial::Rsa(key), Algorithm::RS256) => rsa_verify(
            rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::Rsa(key), Algorithm::RS384) => rsa_verify(
            rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::Rsa(key), Algorithm::RS512) => rsa_verify(
            rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::Rsa(key), Algorithm::PS256) => pss_verify(
            rsa::pss::VerifyingKey::<Sha256>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::Rsa(key), Algorithm::PS384) => pss_verify(
            rsa::pss::VerifyingKey::<Sha384>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::Rsa(key), Algorithm::PS512) => pss_verify(
            rsa::pss::VerifyingKey::<Sha512>::new(key.as_ref().clone()),
            signing_input,
            signature,
        ),
        (KeyMaterial::P256(key), Algorithm::ES256) => {
            use p256::ecdsa::signature::Verifier;
            // `from_slice` refuses r = 0 or s = 0 (the "psychic signature", CVE-2022-21449).
            match p256::ecdsa::Signature::from_slice(signature) {
                Ok(sig) => key.verify(signing_input, &sig).is_ok(),
                Err(_) => false,
            }
        }
        (KeyMaterial::P384(key), Algorithm::ES384) => {
            use p384::ecdsa::signature::Verifier;
            match p384::ecdsa::Signature::from_slice(signature) {
                Ok(sig) => key.verify(signing_input, &sig).is_ok(),
                Err(_) => false,
            }
        }
        (KeyMaterial::Ed25519(key), Algorithm::EdDSA) => {
            use ed25519_dalek::Verifier;
            match ed25519_dalek::Signature::from_slice(signature) {
                Ok(sig) => key.verify(signing_input, &sig).is_ok(),
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

fn rsa_verify<D>(key: rsa::pkcs1v15::VerifyingKey<D>, input: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + rsa::pkcs8::AssociatedOid,
{
    use rsa::signature::Verifier;
    match rsa::pkcs1v15::Signature::try_from(signature) {
        Ok(sig) => key.verify(input, &sig).is_ok(),
        Err(_) => false,
    }
}

fn pss_verify<D>(key: rsa::pss::VerifyingKey<D>, input: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    use rsa::signature::Verifier;
    match rsa::pss::Signature::try_from(signature) {
        Ok(sig) => key.verify(input, &sig).is_ok(),
        Err(_) => false,
    }
}
