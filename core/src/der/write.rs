//! The DER a host's signature check takes (X.690): a public key as SubjectPublicKeyInfo
//! (RFC 5280 §4.1.2.7; RSA per RFC 8017 A.1.1, EC per RFC 5480, Ed25519 per RFC 8410) and an
//! ECDSA signature as `SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3). Only ever built from
//! values Warden has already validated, so nothing here parses or judges.

use super::oid;
use super::{BIT_STRING, INTEGER, NULL, OID, SEQUENCE};

fn push_len(out: &mut Vec<u8>, len: usize) {
    // Lengths here stay far below 2^24 (an 8192-bit modulus is 1025 bytes).
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xffff => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
}

fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 5);
    out.push(tag);
    push_len(&mut out, len);
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// A non-negative INTEGER from big-endian bytes, in minimal form.
fn unsigned_integer(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let digits = be.get(start..).unwrap_or_default();
    match digits.first() {
        None => tlv(INTEGER, &[&[0]]),
        Some(&high) if high & 0x80 != 0 => tlv(INTEGER, &[&[0], digits]),
        Some(_) => tlv(INTEGER, &[digits]),
    }
}

fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let algorithm = tlv(SEQUENCE, &[algorithm]);
    // No unused bits in the last byte of the BIT STRING.
    let key = tlv(BIT_STRING, &[&[0], key]);
    tlv(SEQUENCE, &[&algorithm, &key])
}

/// An RSA public key (modulus, exponent as big-endian bytes).
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let key = tlv(SEQUENCE, &[&unsigned_integer(n), &unsigned_integer(e)]);
    // rsaEncryption takes NULL parameters (RFC 3279 §2.3.1).
    let algorithm = [tlv(OID, &[oid::RSA_ENCRYPTION]), tlv(NULL, &[])].concat();
    spki(&algorithm, &key)
}

/// An EC public key on `curve` (one of the curve OIDs of `der::oid`) as an uncompressed point.
pub fn ec_spki(curve: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let algorithm = [tlv(OID, &[oid::EC_PUBLIC_KEY]), tlv(OID, &[curve])].concat();
    spki(&algorithm, &point)
}

/// An Ed25519 public key (its 32 bytes).
pub fn ed25519_spki(x: &[u8]) -> Vec<u8> {
    // Ed25519 has no parameters (RFC 8410 §3).
    spki(&tlv(OID, &[oid::ED25519]), x)
}

/// A JWS ECDSA signature r ‖ s (each `order.len()` bytes, RFC 7518 §3.4) as DER, only when
/// r and s are both in [1, n − 1] for the curve order `order` (big-endian): a host never sees
/// r = 0 or s = 0 (CVE-2022-21449) or an out-of-range value from us.
pub fn ecdsa_signature(signature: &[u8], order: &[u8]) -> Option<Vec<u8>> {
    if order.is_empty() || signature.len() != 2 * order.len() {
        return None;
    }
    let (r, s) = signature.split_at(order.len());
    let in_range = |v: &[u8]| v.iter().any(|&b| b != 0) && v < order;
    if !in_range(r) || !in_range(s) {
        return None;
    }
    Some(tlv(SEQUENCE, &[&unsigned_integer(r), &unsigned_integer(s)]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0, 0, 1]), [2, 1, 1]);
        assert_eq!(unsigned_integer(&[0x80]), [2, 2, 0, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), [2, 1, 0]);
        assert_eq!(unsigned_integer(&[1, 0, 1]), [2, 3, 1, 0, 1]);
    }

    #[test]
    fn algorithm_identifiers_are_encoded_as_x690_says() {
        let rsa = rsa_spki(&[0xc5; 256], &[1, 0, 1]);
        assert_eq!(
            rsa[4..19],
            [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00
            ]
        );
        let ec = ec_spki(oid::P384, &[1; 48], &[2; 48]);
        assert_eq!(
            ec[2..20],
            [
                0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                0x81, 0x04, 0x00, 0x22
            ]
        );
        assert_eq!(
            ed25519_spki(&[9; 32])[2..9],
            [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70]
        );
    }

    #[test]
    fn long_lengths() {
        let mut out = Vec::new();
        push_len(&mut out, 0x80);
        push_len(&mut out, 0x1234);
        assert_eq!(out, [0x81, 0x80, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn ecdsa_signature_range_checks() {
        let order = [0x10, 0x00];
        assert!(ecdsa_signature(&[0, 1, 0, 1], &order).is_some());
        // r = 0, s = 0, r = n, r > n, wrong length: never reach a host.
        assert!(ecdsa_signature(&[0, 0, 0, 1], &order).is_none());
        assert!(ecdsa_signature(&[0, 1, 0, 0], &order).is_none());
        assert!(ecdsa_signature(&[0x10, 0, 0, 1], &order).is_none());
        assert!(ecdsa_signature(&[0xff, 0xff, 0, 1], &order).is_none());
        assert!(ecdsa_signature(&[0, 1, 0, 1, 0], &order).is_none());
        assert!(ecdsa_signature(&[], &[]).is_none());
        assert_eq!(
            ecdsa_signature(&[0x0f, 0xff, 0x00, 0x80], &order).unwrap(),
            [0x30, 8, 2, 2, 0x0f, 0xff, 2, 2, 0, 0x80]
        );
    }
}
