//! RSA signature verification (RSASSA-PKCS1-v1_5 and RSASSA-PSS, RFC 8017) on 32-bit limbs.
//!
//! Verification needs only `s^e mod n` with a small public exponent (17 Montgomery
//! multiplications for e = 65537). 32-bit limbs with 64-bit products map directly onto wasm
//! instructions, where 64-bit limbs would need emulated 128-bit products. The decoded message is
//! compared with the encoding we expect (PKCS#1 v1.5) or checked field by field (PSS); a wrong
//! computation can only make a signature fail, never pass.

use sha2::{Digest, Sha256, Sha384, Sha512};

#[derive(Clone)]
pub struct RsaPublicKey {
    /// Modulus, little-endian 32-bit limbs, top limb non-zero.
    n: Vec<u32>,
    /// -n⁻¹ mod 2³².
    n0_inv: u32,
    /// R² mod n with R = 2^(32·len), to enter Montgomery form.
    rr: Vec<u32>,
    e: u64,
    bits: usize,
}

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
    pub fn new(n_be: &[u8], e_be: &[u8], max_bits: usize) -> Result<Self, String> {
        let n = limbs_from_be(n_be);
        let bits = bit_len(&n);
        if bits > max_bits {
            return Err(format!(
                "RSA modulus is {bits} bits; at most {max_bits} supported"
            ));
        }
        if n.first().is_none_or(|l| l & 1 == 0) || bits < 512 {
            return Err("RSA modulus must be odd and at least 512 bits".into());
        }
        let e_bytes: Vec<u8> = e_be.iter().copied().skip_while(|b| *b == 0).collect();
        if e_bytes.len() > 8 {
            return Err("RSA exponent too large".into());
        }
        let e = e_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if e < 3 || e & 1 == 0 {
            return Err("RSA exponent must be odd and at least 3".into());
        }
        let n0_inv = inv_mod_2_32(n.first().copied().unwrap_or(1)).wrapping_neg();
        let rr = r_squared(&n);
        Ok(RsaPublicKey {
            n,
            n0_inv,
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

    /// s^e mod n as big-endian bytes of the modulus length; `None` if the signature is not in [0, n).
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.byte_len() {
            return None;
        }
        let s = limbs_from_be(signature);
        let mut s_padded = vec![0u32; self.n.len()];
        for (dst, src) in s_padded.iter_mut().zip(s.iter()) {
            *dst = *src;
        }
        if s.len() > self.n.len() || !less_than(&s_padded, &self.n) {
            return None;
        }
        let base = self.mont_mul(&s_padded, &self.rr);
        let mut acc = base.clone();
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            acc = self.mont_mul(&acc, &acc);
            if (self.e >> bit) & 1 == 1 {
                acc = self.mont_mul(&acc, &base);
            }
        }
        let mut one = vec![0u32; self.n.len()];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        let m = self.mont_mul(&acc, &one);
        Some(limbs_to_be(&m, self.byte_len()))
    }

    /// Montgomery product a·b·R⁻¹ mod n (CIOS), inputs and output in [0, n).
    #[allow(clippy::indexing_slicing)] // every vector has len or len + 2 limbs, checked on entry
    fn mont_mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let n = &self.n;
        let len = n.len();
        if a.len() != len || b.len() != len || len == 0 {
            return vec![0; len]; // unreachable by construction; fails verification
        }
        let mut t = vec![0u32; len + 2];
        for &ai in a {
            let mut c = 0u64;
            for j in 0..len {
                let s = u64::from(t[j]) + u64::from(ai) * u64::from(b[j]) + c;
                t[j] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[len]) + c;
            t[len] = s as u32;
            t[len + 1] = (s >> 32) as u32;

            let m = t[0].wrapping_mul(self.n0_inv);
            let mut c = (u64::from(t[0]) + u64::from(m) * u64::from(n[0])) >> 32;
            for j in 1..len {
                let s = u64::from(t[j]) + u64::from(m) * u64::from(n[j]) + c;
                t[j - 1] = s as u32;
                c = s >> 32;
            }
            let s = u64::from(t[len]) + c;
            t[len - 1] = s as u32;
            t[len] = t[len + 1] + (s >> 32) as u32;
            t[len + 1] = 0;
        }
        let overflow = t[len] != 0;
        t.truncate(len);
        if overflow || !less_than(&t, n) {
            sub_in_place(&mut t, n);
        }
        t
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2).
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

    /// RSASSA-PSS verification with MGF1 of the same hash and salt length = hash length
    /// (RFC 8017 §9.1.2, as JWS PS256/384/512 require).
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

fn limbs_from_be(bytes: &[u8]) -> Vec<u32> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut limbs: Vec<u32> = trimmed
        .rchunks(4)
        .map(|chunk| chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        .collect();
    if limbs.is_empty() {
        limbs.push(0);
    }
    limbs
}

fn limbs_to_be(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().rev().enumerate() {
        let limb = limbs.get(i / 4).copied().unwrap_or(0);
        *byte = (limb >> (8 * (i % 4))) as u8;
    }
    out
}

fn bit_len(limbs: &[u32]) -> usize {
    match limbs.iter().rposition(|l| *l != 0) {
        Some(i) => 32 * i + 32 - limbs.get(i).map_or(0, |l| l.leading_zeros() as usize),
        None => 0,
    }
}

/// a < b for equal-length limb vectors.
fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0i64;
    for (x, y) in a.iter_mut().zip(b.iter()) {
        let d = i64::from(*x) - i64::from(*y) - borrow;
        *x = d as u32;
        borrow = i64::from(d < 0);
    }
}

/// x⁻¹ mod 2³² for odd x (Newton iteration).
fn inv_mod_2_32(x: u32) -> u32 {
    let mut inv = x; // correct to 3 bits for odd x
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv
}

/// R² mod n with R = 2^(32·len), by doubling 1 modulo n.
fn r_squared(n: &[u32]) -> Vec<u32> {
    let len = n.len();
    let mut x = vec![0u32; len];
    if let Some(first) = x.first_mut() {
        *first = 1;
    }
    for _ in 0..(64 * len) {
        let mut carry = 0u32;
        for limb in x.iter_mut() {
            let next = *limb >> 31;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry != 0 || !less_than(&x, n) {
            sub_in_place(&mut x, n);
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_mod_2_32() {
        for x in [1u32, 3, 0xffff_ffff, 0x1234_5677, 65537] {
            assert_eq!(x.wrapping_mul(inv_mod_2_32(x)), 1);
        }
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
        let s = limbs_to_be(&[2], key.byte_len());
        // 2^3 = 8
        let m = key.public_op(&s).unwrap();
        assert_eq!(m.last(), Some(&8));
        assert!(m.iter().rev().skip(1).all(|b| *b == 0));
        // s >= n is refused.
        assert!(key.public_op(&n_be).is_none());
    }
}
