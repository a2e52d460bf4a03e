//! Signature checks for the native module: core's `HostCrypto` seam (`verify_signature`)
//! answered in-process by `ring` instead of by Envoy's foreign function, for the algorithms where
//! `ring` beats core's own verifiers.
//!
//! Core stays in charge exactly as in the wasm build: it parses the token, allows the `alg`,
//! matches the key's kind, range-checks an ECDSA r ‖ s and hands over the key's DER
//! SubjectPublicKeyInfo (`Jwk::spki`, built by `der::write` when the key set loaded), and
//! [`SignatureBackends::detect`] keeps this backend only for the algorithms whose built-in probe
//! it accepts and whose two bad probes it refuses. Every other algorithm keeps core's own
//! verifier (compiled natively here).
//!
//! What is verified here is what the arguments say, read as Envoy's `verify_signature` reads
//! them (`EVP_DigestVerify` with the named digest), and only where `ring` is measurably faster
//! than core's own verifier compiled natively (bench/results/native-crypto.md):
//! - an RSA key (rsaEncryption) with `sha256`/`sha384`/`sha512`: RSASSA-PKCS1-v1_5 (about 4.5×
//!   faster than core). The arguments carry no padding, so PSS is never tried: a PS* signature
//!   fails here as on Envoy, the PS* probes fail and PS256/384/512 stay with core (accepting
//!   either padding would let a PKCS#1 v1.5 signature pass for a token whose header says PS256,
//!   which core refuses);
//! - a P-256 key with `sha256`: ECDSA over the DER signature (about 2× faster);
//! - anything else gets no answer (`None`), which core counts as a failed signature; the probes
//!   then fail too, so core never hands such an algorithm over: P-384 (`ring`'s is about 2×
//!   slower than core's), P-521 (`ring` has none), Ed25519 (`ring`'s is slower than core's
//!   `ed25519-dalek`, and laxer: it accepts a small-order R, which `verify_strict` refuses).
//!
//! Identical decisions to the wasm build are the rule, and `ring` is narrower than core's keys in
//! one place: core accepts RSA public exponents up to 64 bits, `ring` only up to 2³³ − 1.
//! Detection is per algorithm, not per key, and no answer would mean "signature failed", so
//! refusing such a key here would reject tokens the wasm build accepts. Such a key is verified by
//! core's own RSA instead (`warden_core::crypto::rsa`), the very code the wasm build runs. The
//! modulus bounds agree (core: 2048–8192 bits at load; `ring`: 2048–8192), so that is the only
//! case; ECDSA P-256 keys core loads (on the curve, coordinates < p) are keys `ring` takes.
//!
//! The answers are the same `VerifySignatureResult` bytes Envoy would give (`encode_result`).

use ring::signature::{
    RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
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

/// Core's signature backends with [`NativeCrypto`] probed as the host: `ring` for RS256/384/512
/// and ES256; core's own verifiers for the rest. Not `Send`: one per thread.
pub fn signature_backends() -> SignatureBackends {
    SignatureBackends::detect(Box::new(NativeCrypto))
}

/// A SubjectPublicKeyInfo's key, as `der::write` builds them.
enum PublicKey<'a> {
    /// RSAPublicKey's modulus and exponent, big-endian without sign bytes.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// The curve's OID and the uncompressed point.
    Ec { curve: &'a [u8], point: &'a [u8] },
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

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
