//! Signature checks for the native module: core's `HostCrypto` seam (`verify_signature`)
//! answered in-process by aws-lc-rs (AWS-LC, a BoringSSL descendant: the library family Envoy's
//! `jwt_authn` verifies with) instead of by Envoy's foreign function.
//!
//! Core stays in charge exactly as in the wasm build: it parses the token, allows the `alg`,
//! matches the key's kind, range-checks an ECDSA r ‖ s and hands over the key's DER
//! SubjectPublicKeyInfo (`Jwk::spki`, built by `der::write` when the key set loaded), and
//! [`SignatureBackends::detect`] keeps this backend only for the algorithms whose built-in probe
//! it accepts and whose two bad probes it refuses. Every other algorithm keeps core's own
//! verifier (compiled natively here).
//!
//! Measured per algorithm against core's verifiers compiled natively and against `ring`
//! (bench/results/native-crypto.md), aws-lc-rs was the fastest for every algorithm but Ed25519:
//! - an RSA key (rsaEncryption) with `sha256`/`sha384`/`sha512`: RSASSA-PKCS1-v1_5; with
//!   `sha256-pss`/`sha384-pss`/`sha512-pss`: RSASSA-PSS, MGF1 with the same hash, salt length =
//!   hash length (RFC 7518 §3.5, what core's `verify_pss` accepts). Each name means one padding
//!   only, so a PKCS#1 v1.5 signature never passes for a PS* token;
//! - P-256 with `sha256`, P-384 with `sha384`, P-521 with `sha512`: ECDSA over the DER
//!   signature;
//! - anything else gets no answer (`None`), which core counts as a failed signature; the probes
//!   then fail too, so core never hands such an algorithm over. That is Ed25519: AWS-LC's is no
//!   faster than core's `ed25519-dalek`, and laxer (it accepts a small-order R, which core's
//!   `verify_strict` refuses), and the two builds must decide alike.
//!
//! Identical decisions to the wasm build are the rule, and AWS-LC is narrower than core's keys in
//! one place: core accepts RSA public exponents up to 64 bits, AWS-LC only up to 2³³ − 1.
//! Detection is per algorithm, not per key, and no answer would mean "signature failed", so
//! refusing such a key here would reject tokens the wasm build accepts. Such a key is verified by
//! core's own RSA instead (`warden_core::crypto::rsa`), the very code the wasm build runs. The
//! modulus bounds agree (core: 2048–8192 bits at load; here: 2048–8192), so that is the only
//! case; the EC keys core loads (on the curve, coordinates < p) are keys AWS-LC takes.
//!
//! The answers are the same `VerifySignatureResult` bytes Envoy would give (`encode_result`).

use aws_lc_rs::signature::{
    RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ECDSA_P521_SHA512_ASN1,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512,
    RSA_PSS_2048_8192_SHA256, RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512,
};
use warden_core::crypto::rsa::{Hash, RsaPublicKey};
use warden_core::der::{oid, Reader};
use warden_core::host_crypto::{
    decode_arguments, encode_result, HostCrypto, SignatureArguments, SignatureBackends,
};
use warden_core::jwk::MAX_RSA_BITS;

/// `verify_signature` done in-process with aws-lc-rs.
#[derive(Debug, Clone, Copy, Default)]
pub struct NativeCrypto;

impl HostCrypto for NativeCrypto {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        decode_arguments(arguments)
            .and_then(|arguments| verify(&arguments))
            .map(encode_result)
    }
}

/// Core's signature backends with [`NativeCrypto`] probed as the host: aws-lc-rs for RS*, PS*
/// and ES*; core's own verifier for EdDSA. Not `Send`: one per thread.
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
    let ok = match public_key(spki)? {
        PublicKey::Rsa { n, e } => {
            let (params, hash, pss): (&'static RsaParameters, Hash, bool) = match hash_function {
                "sha256" => (&RSA_PKCS1_2048_8192_SHA256, Hash::Sha256, false),
                "sha384" => (&RSA_PKCS1_2048_8192_SHA384, Hash::Sha384, false),
                "sha512" => (&RSA_PKCS1_2048_8192_SHA512, Hash::Sha512, false),
                "sha256-pss" => (&RSA_PSS_2048_8192_SHA256, Hash::Sha256, true),
                "sha384-pss" => (&RSA_PSS_2048_8192_SHA384, Hash::Sha384, true),
                "sha512-pss" => (&RSA_PSS_2048_8192_SHA512, Hash::Sha512, true),
                _ => return None,
            };
            rsa(n, e, params, hash, pss, text, signature)
        }
        PublicKey::Ec { curve, point } => {
            let algorithm: &'static dyn VerificationAlgorithm = match (curve, hash_function) {
                (oid::P256, "sha256") => &ECDSA_P256_SHA256_ASN1,
                (oid::P384, "sha384") => &ECDSA_P384_SHA384_ASN1,
                (oid::P521, "sha512") => &ECDSA_P521_SHA512_ASN1,
                _ => return None,
            };
            UnparsedPublicKey::new(algorithm, point)
                .verify(text, signature)
                .is_ok()
        }
    };
    Some(ok)
}

/// AWS-LC's largest RSA public exponent (as `ring`'s `PublicExponent::MAX`).
const MAX_EXPONENT: u64 = (1 << 33) - 1;

fn rsa(
    n: &[u8],
    e: &[u8],
    params: &'static RsaParameters,
    hash: Hash,
    pss: bool,
    text: &[u8],
    signature: &[u8],
) -> bool {
    // `e` is minimal big-endian (the DER reader refuses leading zeros), so ≤ 5 bytes is its bound.
    let exponent = (e.len() <= 5).then(|| e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)));
    if exponent.is_some_and(|e| e <= MAX_EXPONENT) {
        RsaPublicKeyComponents { n, e }
            .verify(params, text, signature)
            .is_ok()
    } else {
        // A key core accepts and AWS-LC would refuse: core's own RSA decides, as in the wasm
        // build (see the module documentation).
        RsaPublicKey::new(n, e, MAX_RSA_BITS).is_ok_and(|key| {
            if pss {
                key.verify_pss(hash, text, signature)
            } else {
                key.verify_pkcs1v15(hash, text, signature)
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn exponents_beyond_aws_lc_go_to_core() {
        // e = 2^33 + 1: AWS-LC refuses the key; core's RSA still answers (here: a bad
        // signature).
        let n = [0xc5u8; 256];
        let e = [0x02, 0x00, 0x00, 0x00, 0x01];
        for (params, pss) in [
            (&RSA_PKCS1_2048_8192_SHA256, false),
            (&RSA_PSS_2048_8192_SHA256, true),
        ] {
            assert!(!rsa(&n, &e, params, Hash::Sha256, pss, b"text", &[1; 256]));
        }
    }
}
