//! RSA signature verification (RFC 8017): RSASSA-PKCS1-v1_5 (§8.2.2 with EMSA-PKCS1-v1_5,
//! §9.2) for JWS RS256/384/512 and RSASSA-PSS (§8.1.2 with EMSA-PSS, §9.1.2) for PS256/384/512
//! (RFC 7518 §3.3, §3.5).
//!
//! Verification needs only `s^e mod n` (RSAVP1, §5.2.2) with a small public exponent: 17
//! Montgomery multiplications for e = 65537, on the shared 32-bit-limb arithmetic. The decoded
//! message is compared with the encoding we expect (PKCS#1 v1.5) or checked field by field
//! (PSS); a wrong computation can only make a signature fail, never pass.

use crate::crypto::limbs;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

/// Why a modulus and exponent are not a usable public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaKeyError {
    /// The modulus is larger than the caller allows (it bounds the work an input can cause).
    ModulusTooLarge { bits: usize, max_bits: usize },
    /// The modulus is even or shorter than 512 bits.
    BadModulus,
    /// The exponent does not fit in 64 bits.
    ExponentTooLarge,
    /// The exponent is even or below 3.
    BadExponent,
}

impl fmt::Display for RsaKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RsaKeyError::ModulusTooLarge { bits, max_bits } => {
                write!(
                    f,
                    "RSA modulus is {bits} bits; at most {max_bits} supported"
                )
            }
            RsaKeyError::BadModulus => f.write_str("RSA modulus must be odd and at least 512 bits"),
            RsaKeyError::ExponentTooLarge => f.write_str("RSA exponent too large"),
            RsaKeyError::BadExponent => f.write_str("RSA exponent must be odd and at least 3"),
        }
    }
}

impl std::error::Error for RsaKeyError {}

#[derive(Clone)]
pub struct RsaPublicKey {
    /// Modulus, little-endian 32-bit limbs, top limb non-zero.
    n: Vec<u32>,
    /// −n⁻¹ mod 2³².
    n_inv: u32,
    /// R² mod n with R = 2^(32·len), to enter Montgomery form.
    rr: Vec<u32>,
    e: u64,
    bits: usize,
}

/// The hash of a JWS RSA algorithm, also used by MGF1 for PSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }

    /// DER DigestInfo prefix (RFC 8017 §9.2 note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

impl RsaPublicKey {
    /// From big-endian modulus and exponent bytes. `max_bits` bounds the work an input can cause.
    pub fn new(n_be: &[u8], e_be: &[u8], max_bits: usize) -> Result<Self, RsaKeyError> {
        let n = limbs_from_be(n_be);
        let bits = limbs::bit_len(&n);
        if bits > max_bits {
            return Err(RsaKeyError::ModulusTooLarge { bits, max_bits });
        }
        if n.first().is_none_or(|l| l & 1 == 0) || bits < 512 {
            return Err(RsaKeyError::BadModulus);
        }
        let e_bytes: Vec<u8> = e_be.iter().copied().skip_while(|b| *b == 0).collect();
        if e_bytes.len() > 8 {
            return Err(RsaKeyError::ExponentTooLarge);
        }
        let e = e_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if e < 3 || e & 1 == 0 {
            return Err(RsaKeyError::BadExponent);
        }
        let n_inv = limbs::neg_inv_mod_2_32(n.first().copied().unwrap_or(1));
        let mut rr = vec![0u32; n.len()];
        limbs::r_squared(&mut rr, &n);
        Ok(RsaPublicKey {
            n,
            n_inv,
            rr,
            e,
            bits,
        })
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    fn byte_len(&self) -> usize {
        self.bits.div_ceil(8)
    }

    /// `t = a·b·R⁻¹ mod n`.
    fn mont_mul(&self, t: &mut [u32], a: &[u32], b: &[u32]) {
        limbs::mont_mul(t, a, b, &self.n, self.n_inv);
    }

    /// RSAVP1 (RFC 8017 §5.2.2): s^e mod n as big-endian bytes of the modulus length; `None`
    /// if the signature is not k bytes or not in [0, n). Left-to-right binary exponentiation
    /// in Montgomery form.
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.byte_len() {
            return None;
        }
        let len = self.n.len();
        let mut s = vec![0u32; len];
        if !limbs::from_be_bytes(&mut s, signature) || !limbs::less_than(&s, &self.n) {
            return None;
        }
        let mut base = vec![0u32; len];
        self.mont_mul(&mut base, &s, &self.rr);
        let mut acc = base.clone();
        let mut tmp = vec![0u32; len];
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            self.mont_mul(&mut tmp, &acc, &acc);
            std::mem::swap(&mut acc, &mut tmp);
            if (self.e >> bit) & 1 == 1 {
                self.mont_mul(&mut tmp, &acc, &base);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        // Out of Montgomery form: multiply by the plain 1.
        let mut one = vec![0u32; len];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        self.mont_mul(&mut tmp, &acc, &one);
        Some(limbs::to_be_bytes(&tmp, self.byte_len()))
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2): EMSA-PKCS1-v1_5 (§9.2) of the message,
    /// compared byte for byte with the decoded signature.
    pub fn verify_pkcs1v15(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        let prefix = hash.digest_info_prefix();
        let digest = hash.digest(&[message]);
        let t_len = prefix.len() + digest.len();
        let k = self.byte_len();
        if k < t_len + 11 {
            return false;
        }
        let mut expected = Vec::with_capacity(k);
        expected.extend_from_slice(&[0x00, 0x01]);
        expected.resize(k - t_len - 1, 0xff);
        expected.push(0x00);
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(&digest);
        em == expected
    }

    /// RSASSA-PSS verification (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2) with MGF1 of the same
    /// hash and salt length = hash length, as JWS PS256/384/512 require (RFC 7518 §3.5).
    pub fn verify_pss(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(full) = self.public_op(signature) else {
            return false;
        };
        let em_bits = self.bits - 1;
        let em_len = em_bits.div_ceil(8);
        // The public op yields k bytes; EM is its last em_len bytes and any extra byte must be 0.
        let extra = full.len() - em_len;
        if full.iter().take(extra).any(|b| *b != 0) {
            return false;
        }
        let Some(em) = full.get(extra..) else {
            return false;
        };
        let h_len = hash.len();
        let s_len = h_len;
        if em_len < h_len + s_len + 2 || em.last() != Some(&0xbc) {
            return false;
        }
        let db_len = em_len - h_len - 1;
        let (Some(masked_db), Some(h)) = (em.get(..db_len), em.get(db_len..db_len + h_len)) else {
            return false;
        };
        let unused_bits = 8 * em_len - em_bits;
        let top_mask = 0xffu8 >> unused_bits;
        if masked_db.first().is_some_and(|b| b & !top_mask != 0) {
            return false;
        }
        let mask = mgf1(hash, h, db_len);
        let mut db: Vec<u8> = masked_db
            .iter()
            .zip(mask.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        if let Some(first) = db.first_mut() {
            *first &= top_mask;
        }
        let ps_len = db_len - s_len - 1;
        if db.iter().take(ps_len).any(|b| *b != 0) || db.get(ps_len) != Some(&0x01) {
            return false;
        }
        let Some(salt) = db.get(ps_len + 1..) else {
            return false;
        };
        let m_hash = hash.digest(&[message]);
        let h2 = hash.digest(&[&[0u8; 8], &m_hash, salt]);
        h2 == h
    }
}

/// MGF1 (RFC 8017 §B.2.1).
fn mgf1(hash: Hash, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.len());
    let mut counter = 0u32;
    while out.len() < len {
        out.extend_from_slice(&hash.digest(&[seed, &counter.to_be_bytes()]));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// Big-endian bytes to as many limbs as their significant bytes need (at least one).
fn limbs_from_be(bytes: &[u8]) -> Vec<u32> {
    let significant = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let mut limbs = vec![0u32; (bytes.len() - significant).div_ceil(4).max(1)];
    limbs::from_be_bytes(&mut limbs, bytes);
    limbs
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_keys_are_refused_with_their_reason() {
        let mut n = vec![0xc5u8; 64]; // 512 bits, odd
        let e = [1u8, 0, 1];
        assert!(RsaPublicKey::new(&n, &e, 8192).is_ok());
        assert_eq!(
            RsaPublicKey::new(&n, &e, 511).err(),
            Some(RsaKeyError::ModulusTooLarge {
                bits: 512,
                max_bits: 511
            })
        );
        assert_eq!(
            RsaPublicKey::new(&n[1..], &e, 8192).err(),
            Some(RsaKeyError::BadModulus)
        );
        assert_eq!(
            RsaPublicKey::new(&n, &[1u8; 9], 8192).err(),
            Some(RsaKeyError::ExponentTooLarge)
        );
        assert_eq!(
            RsaPublicKey::new(&n, &[0, 0, 1], 8192).err(),
            Some(RsaKeyError::BadExponent)
        );
        assert_eq!(
            RsaPublicKey::new(&n, &[4], 8192).err(),
            Some(RsaKeyError::BadExponent)
        );
        n[63] = 0xc4;
        assert_eq!(
            RsaPublicKey::new(&n, &e, 8192).err(),
            Some(RsaKeyError::BadModulus)
        );
    }

    /// s^e mod n against an independent big-integer implementation, on moduli with carry-heavy
    /// shapes (all-ones limbs, a top limb of 1) and signatures at the edges of [0, n).
    #[test]
    fn public_op_matches_reference_big_integers() {
        use rsa::BigUint;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut moduli: Vec<Vec<u8>> = vec![
            vec![0xff; 256],                                    // 2^2048 - 1
            [vec![0x01], vec![0x00; 255], vec![0x01]].concat(), // 2^2048 + 1
            [vec![0x80], vec![0x00; 254], vec![0x01]].concat(), // 2^2047 + 1
        ];
        for len in [64usize, 255, 256, 257, 384] {
            let mut n: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            n[0] |= 0x80;
            n[len - 1] |= 1;
            moduli.push(n);
        }
        for n_be in &moduli {
            for e in [3u64, 65537, 0xffff_ffff_ffff_ffff] {
                let key = RsaPublicKey::new(n_be, &e.to_be_bytes(), 8192).unwrap();
                let n = BigUint::from_bytes_be(n_be);
                let k = key.byte_len();
                let mut samples: Vec<BigUint> = vec![
                    BigUint::from(0u8),
                    BigUint::from(1u8),
                    BigUint::from(2u8),
                    &n - 1u8,
                    &n - 2u8,
                ];
                for _ in 0..4 {
                    let raw: Vec<u8> = (0..k).map(|_| next() as u8).collect();
                    samples.push(BigUint::from_bytes_be(&raw) % &n);
                }
                for s in samples {
                    let mut s_be = s.to_bytes_be();
                    while s_be.len() < k {
                        s_be.insert(0, 0);
                    }
                    let expected = s.modpow(&BigUint::from(e), &n);
                    let got = key.public_op(&s_be).unwrap();
                    assert_eq!(
                        BigUint::from_bytes_be(&got),
                        expected,
                        "e={e} n={n:x} s={s:x}"
                    );
                    assert_eq!(got.len(), k);
                }
                let mut n_padded = n_be.clone();
                while n_padded.len() < k {
                    n_padded.insert(0, 0);
                }
                assert!(key.public_op(&n_padded).is_none(), "s = n");
            }
        }
    }

    #[test]
    fn small_modulus_arithmetic() {
        // n = 2^521 - 1 is not prime-product but odd: check s^e mod n against repeated multiplication.
        let n_be = {
            let mut v = vec![0x01u8];
            v.extend(std::iter::repeat_n(0xffu8, 65));
            v
        };
        let key = RsaPublicKey::new(&n_be, &[3], 8192).unwrap();
        let s = limbs::to_be_bytes(&[2], key.byte_len());
        // 2^3 = 8
        let m = key.public_op(&s).unwrap();
        assert_eq!(m.last(), Some(&8));
        assert!(m.iter().rev().skip(1).all(|b| *b == 0));
        // s >= n is refused.
        assert!(key.public_op(&n_be).is_none());
    }
}
