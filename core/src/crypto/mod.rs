//! Signature checks over the JWS signing input (RFC 7515 §5.2), one algorithm family per
//! module, over raw key material. Which algorithm runs on which key is decided a layer up, by
//! the key type that holds the material (`jwk`).
//!
//! - `limbs`: 32-bit-limb multi-precision and Montgomery arithmetic shared by RSA and ECDSA;
//! - `rsa`: RS256/384/512 and PS256/384/512;
//! - `ecdsa`: ES256, ES384 and ES512;
//! - `hmac`: HS256/384/512; `eddsa`: EdDSA (Ed25519).
//!
//! The proxy's own `verify_signature`, used where it verifies an algorithm correctly, is
//! `host_crypto`, above `jwk` since it takes parsed keys.

pub mod ecdsa;
pub mod eddsa;
pub(crate) mod hmac;
mod limbs;
pub mod rsa;
