//! A key ready to verify: the parsed material of one JWK, and the signature check of each
//! algorithm on the kind of key it belongs to.

use crate::alg::{Algorithm, KeyKind};
use crate::crypto::ecdsa::{P256PublicKey, P384PublicKey, P521PublicKey};
use crate::crypto::eddsa;
use crate::crypto::hmac::{self, HmacHash};
use crate::crypto::rsa::{Hash, RsaPublicKey};

pub enum KeyMaterial {
    Hmac(Vec<u8>),
    Rsa(Box<RsaPublicKey>),
    P256(Box<P256PublicKey>),
    P384(Box<P384PublicKey>),
    P521(Box<P521PublicKey>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl KeyMaterial {
    pub fn kind(&self) -> KeyKind {
        match self {
            KeyMaterial::Hmac(_) => KeyKind::Hmac,
            KeyMaterial::Rsa(_) => KeyKind::Rsa,
            KeyMaterial::P256(_) => KeyKind::EcP256,
            KeyMaterial::P384(_) => KeyKind::EcP384,
            KeyMaterial::P521(_) => KeyKind::EcP521,
            KeyMaterial::Ed25519(_) => KeyKind::Ed25519,
        }
    }

    /// Whether `signature` is `alg`'s signature of `signing_input` (RFC 7515 §5.2) under this
    /// key. Each kind of key only ever runs its own algorithms: any other pairing is `false`
    /// (the caller has matched them already, `Jwk::fits`; this checks again).
    pub fn verify(&self, alg: Algorithm, signing_input: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
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
}

impl std::fmt::Debug for KeyMaterial {
    // Never print key material (an HMAC key is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind())
    }
}
