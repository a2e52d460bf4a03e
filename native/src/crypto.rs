//! Signature checks for the native module: core's `HostCrypto` seam (`verify_signature`)
//! answered in-process by `ring` instead of by Envoy's foreign function, so the checks core hands
//! to a host run as machine code from a constant-time, assembly-backed library.
//!
//! Core stays in charge exactly as in the wasm build: it parses the token, allows the `alg`,
//! matches the key's kind, range-checks an ECDSA r ‖ s and hands over the key's DER
//! SubjectPublicKeyInfo (`Jwk::spki`, built by `der::write` when the key set loaded), and
//! [`SignatureBackends::detect`] keeps this backend only for the algorithms whose built-in probe
//! it accepts and whose two bad probes it refuses. Every other algorithm keeps core's own
//! verifier (compiled natively here).
//!
//! What is verified here is what the arguments say, read as Envoy's `verify_signature` reads
//! them (`EVP_DigestVerify` with the named digest), no more:
//! - an RSA key (rsaEncryption) with `sha256`/`sha384`/`sha512`: RSASSA-PKCS1-v1_5. The arguments
//!   carry no padding, so PSS is never tried: a PS* signature fails here as on Envoy, the PS*
//!   probes fail and PS256/384/512 stay with core (accepting either padding would let a PKCS#1
//!   v1.5 signature pass for a token whose header says PS256, which core refuses);
//! - a P-256 key with `sha256`, a P-384 key with `sha384`: ECDSA over the DER signature;
//! - an Ed25519 key with `sha512`, the hash core names for EdDSA (Ed25519 hashes with SHA-512
//!   itself; Envoy cannot do it, a digest being set): Ed25519, with core's strictness (below);
//! - anything else (P-521, which `ring` lacks; another curve or hash; a key that does not parse):
//!   no answer (`None`), which core counts as a failed signature — and since the probes then fail
//!   too, core never hands such an algorithm over: ES512 stays with core.
//!
//! Identical decisions to the wasm build are the rule, where `ring` is narrower than core's keys:
//! - RSA: core accepts public exponents up to 64 bits, `ring` only up to 2³³ − 1. Detection is
//!   per algorithm, not per key, and no answer would mean "signature failed", so refusing such a
//!   key here would reject tokens the wasm build accepts. Such a key is verified by core's own
//!   RSA instead (`warden_core::crypto::rsa`), the very code the wasm build runs. The modulus
//!   bounds agree (core: 2048–8192 bits at load; `ring`: 2048–8192), so that is the only case.
//! - Ed25519: core uses `ed25519-dalek`'s `verify_strict`, which also refuses a signature whose R
//!   is a small-order point; `ring` does not (an issuer can make such a signature, r = 0). Those R
//!   are refused here before `ring` runs. Everything else agrees: both refuse s ≥ L, compare R
//!   with the encoding of [s]B − [h]A byte for byte (so a non-canonical R fails both) and hash
//!   the key's bytes as given; weak keys never load in core.
//!
//! The answers are the same `VerifySignatureResult` bytes Envoy would give (`encode_result`).

use ring::signature::{
    RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P384_SHA384_ASN1, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512,
};
use warden_core::crypto::rsa::{Hash, RsaPublicKey};
use warden_core::der::{oid, Reader};
use warden_core::host_crypto::{
    decode_arguments, encode_result, HostCrypto, SignatureArguments, SignatureBackends,
};
use warden_core::jwk::MAX_RSA_BITS;

/// `verify_signature` done in-process with `ring`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeCrypto;

impl HostCrypto for NativeCrypto {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        decode_arguments(arguments)
            .and_then(|arguments| verify(&arguments))
            .map(encode_result)
    }
}

/// Core's signature backends with [`NativeCrypto`] probed as the host: `ring` for RS*, ES256,
/// ES384 and EdDSA; core's own verifiers for the rest (PS*, ES512, HS*).
pub fn signature_backends() -> SignatureBackends {
    SignatureBackends::detect(Box::new(NativeCrypto))
}

/// A SubjectPublicKeyInfo's key, as `der::write` builds them.
enum PublicKey<'a> {
    /// RSAPublicKey's modulus and exponent, big-endian without sign bytes.
    Rsa {
        n: &'a [u8],
        e: &'a [u8],
    },
    /// The curve's OID and the uncompressed point.
    Ec {
        curve: &'a [u8],
        point: &'a [u8],
    },
    Ed25519(&'a [u8]),
}

fn public_key(spki: &[u8]) -> Option<PublicKey<'_>> {
    let mut outer = Reader::new(spki);
    let mut info = outer.sequence().ok()?;
    outer.finish().ok()?;
    let mut algorithm = info.sequence().ok()?;
    let algorithm_oid = algorithm.oid().ok()?;
    let key = info.bit_string_bytes().ok()?;
    info.finish().ok()?;
    match algorithm_oid {
        oid::RSA_ENCRYPTION => {
            algorithm.null().ok()?;
            algorithm.finish().ok()?;
            let mut outer = Reader::new(key);
            let mut rsa = outer.sequence().ok()?;
            outer.finish().ok()?;
            let n = rsa.unsigned_integer().ok()?;
            let e = rsa.unsigned_integer().ok()?;
            rsa.finish().ok()?;
            Some(PublicKey::Rsa { n, e })
        }
        oid::EC_PUBLIC_KEY => {
            let curve = algorithm.oid().ok()?;
            algorithm.finish().ok()?;
            Some(PublicKey::Ec { curve, point: key })
        }
        oid::ED25519 => {
            algorithm.finish().ok()?;
            Some(PublicKey::Ed25519(key))
        }
        _ => None,
    }
}

/// The check the arguments ask for: `Some(verified)`, or `None` for a combination this backend
/// does not do (core then counts a failure, and detection keeps such an algorithm off it).
fn verify(arguments: &SignatureArguments<'_>) -> Option<bool> {
    let SignatureArguments {
        hash_function,
        public_key: spki,
        signature,
        text,
    } = *arguments;
    let ok = match (public_key(spki)?, hash_function) {
        (PublicKey::Rsa { n, e }, "sha256") => rsa_pkcs1(
            n,
            e,
            &RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha256,
            text,
            signature,
        ),
        (PublicKey::Rsa { n, e }, "sha384") => rsa_pkcs1(
            n,
            e,
            &RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha384,
            text,
            signature,
        ),
        (PublicKey::Rsa { n, e }, "sha512") => rsa_pkcs1(
            n,
            e,
            &RSA_PKCS1_2048_8192_SHA512,
            Hash::Sha512,
            text,
            signature,
        ),
        (PublicKey::Ec { curve, point }, "sha256") if curve == oid::P256 => {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
                .verify(text, signature)
                .is_ok()
        }
        (PublicKey::Ec { curve, point }, "sha384") if curve == oid::P384 => {
            UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, point)
                .verify(text, signature)
                .is_ok()
        }
        (PublicKey::Ed25519(key), "sha512") => {
            !small_order_r(signature)
                && UnparsedPublicKey::new(&ED25519, key)
                    .verify(text, signature)
                    .is_ok()
        }
        _ => return None,
    };
    Some(ok)
}

/// `ring`'s largest RSA public exponent (its `PublicExponent::MAX`).
const RING_MAX_EXPONENT: u64 = (1 << 33) - 1;

fn rsa_pkcs1(
    n: &[u8],
    e: &[u8],
    params: &'static RsaParameters,
    hash: Hash,
    text: &[u8],
    signature: &[u8],
) -> bool {
    // `e` is minimal big-endian (the DER reader refuses leading zeros), so ≤ 5 bytes is its bound.
    let exponent = (e.len() <= 5).then(|| e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)));
    if exponent.is_some_and(|e| e <= RING_MAX_EXPONENT) {
        RsaPublicKeyComponents { n, e }
            .verify(params, text, signature)
            .is_ok()
    } else {
        // A key core accepts and `ring` would refuse: core's own RSA decides, as in the wasm
        // build (see the module documentation).
        RsaPublicKey::new(n, e, MAX_RSA_BITS)
            .is_ok_and(|key| key.verify_pkcs1v15(hash, text, signature))
    }
}

/// The y coordinates of the eight points of small order (the 8-torsion) of edwards25519, little
/// endian: 1 (the identity), −1 (order 2), 0 (order 4, both signs of x) and the two y of order 8
/// (each with both signs of x).
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [0x00; 32],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Whether an Ed25519 signature's R encodes a point of small order, whatever the sign bit
/// (`verify_strict` refuses those). A non-canonical encoding of such a point (y ≥ p) is not caught
/// here; it needs none: R is compared byte for byte with a canonical encoding, so it fails anyway.
fn small_order_r(signature: &[u8]) -> bool {
    let Some(r) = signature.get(..32) else {
        return false;
    };
    let mut y = [0u8; 32];
    y.copy_from_slice(r);
    if let Some(last) = y.last_mut() {
        *last &= 0x7f;
    }
    SMALL_ORDER_Y.contains(&y)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::edwards::CompressedEdwardsY;

    #[test]
    fn small_order_y_are_the_eight_torsion() {
        // Every point of the 8-torsion is caught…
        for point in EIGHT_TORSION {
            let mut signature = point.compress().to_bytes().to_vec();
            signature.extend_from_slice(&[0; 32]);
            assert!(small_order_r(&signature), "{point:?}");
        }
        // …and every listed y, with either sign, that decodes at all is a point of small order.
        for y in SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut bytes = y;
                bytes[31] |= sign;
                if let Some(point) = CompressedEdwardsY(bytes).decompress() {
                    assert!(point.is_small_order(), "{bytes:02x?}");
                }
            }
        }
        // The base point is not.
        let base = curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED.to_bytes();
        assert!(!small_order_r(&[base, [0; 32]].concat()));
        assert!(!small_order_r(&[1; 31]));
    }

    #[test]
    fn exponents_beyond_ring_go_to_core() {
        // e = 2^33 + 1: ring refuses the key; core's RSA still answers (here: a bad signature).
        let n = [0xc5u8; 256];
        let e = [0x02, 0x00, 0x00, 0x00, 0x01];
        assert!(!rsa_pkcs1(
            &n,
            &e,
            &RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha256,
            b"text",
            &[1; 256]
        ));
    }
}
