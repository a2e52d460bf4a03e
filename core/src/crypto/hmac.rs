//! HMAC verification (RFC 2104) for JWS HS256/384/512 (RFC 7518 §3.2).

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

/// The SHA-2 variant of an HS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HmacHash {
    Sha256,
    Sha384,
    Sha512,
}

pub(crate) fn verify(hash: HmacHash, secret: &[u8], input: &[u8], tag: &[u8]) -> bool {
    match hash {
        HmacHash::Sha256 => verify_with::<Hmac<Sha256>>(secret, input, tag),
        HmacHash::Sha384 => verify_with::<Hmac<Sha384>>(secret, input, tag),
        HmacHash::Sha512 => verify_with::<Hmac<Sha512>>(secret, input, tag),
    }
}

fn verify_with<M: Mac + KeyInit>(secret: &[u8], input: &[u8], tag: &[u8]) -> bool {
    match <M as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(input);
            // Constant-time comparison of the full tag: the key is a secret, so is the tag.
            mac.verify_slice(tag).is_ok()
        }
        Err(_) => false,
    }
}
