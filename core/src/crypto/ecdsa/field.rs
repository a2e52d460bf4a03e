//! Arithmetic modulo the curve's field prime p or its group order n, in Montgomery form
//! (values a·R mod m with R = 2^(32·L)), on the shared limb arithmetic.

use crate::crypto::limbs;

/// An integer of 32·L bits, little-endian 32-bit limbs.
pub(crate) type Limbs<const L: usize> = [u32; L];

/// An odd modulus m < 2^(32L) and its Montgomery constants (P-521's p and n have 521 bits in
/// 17 limbs of 32, so the top limb need not be full).
pub struct Modulus<const L: usize> {
    pub(crate) m: Limbs<L>,
    /// −m⁻¹ mod 2³².
    pub(crate) m_inv: u32,
    /// R mod m (1 in Montgomery form).
    pub(crate) one: Limbs<L>,
    /// R² mod m, to enter Montgomery form.
    rr: Limbs<L>,
}

impl<const L: usize> Modulus<L> {
    /// From 8·L big-endian hex digits (only called on literal curve constants).
    pub(crate) const fn new(m_be: &str) -> Modulus<L> {
        let m = limbs_from_hex(m_be);
        let mut one = [0; L];
        limbs::r_mod(&mut one, &m);
        let mut rr = [0; L];
        limbs::r_squared(&mut rr, &m);
        Modulus {
            m,
            m_inv: limbs::neg_inv_mod_2_32(m[0]),
            one,
            rr,
        }
    }

    /// a·b·R⁻¹ mod m; for a, b in Montgomery form, their product in Montgomery form. A plain
    /// operand times a Montgomery one gives a plain product.
    #[inline(always)]
    pub(crate) fn mul(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        let mut t = [0; L];
        limbs::mont_mul(&mut t, a, b, &self.m, self.m_inv);
        t
    }

    #[inline(always)]
    pub(crate) fn add(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        let mut r = *a;
        limbs::add_mod_assign(&mut r, b, &self.m);
        r
    }

    #[inline(always)]
    pub(crate) fn sub(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        let mut r = *a;
        limbs::sub_mod_assign(&mut r, b, &self.m);
        r
    }

    /// a·R mod m (into Montgomery form).
    #[inline(always)]
    pub(crate) fn to_mont(&self, a: &Limbs<L>) -> Limbs<L> {
        self.mul(a, &self.rr)
    }

    /// `mul`, called rather than inlined (one copy per limb count, shared by p and n): for the
    /// few products a signature check makes outside its loops, and for key parsing (through
    /// `Curve::fmul_outlined` and `Curve::fe_outlined`). The inlined product is the whole
    /// unrolled limb loop, 1–2 KiB of code per use; a call costs a few instructions against the
    /// hundreds of the product itself.
    #[inline(never)]
    pub(crate) fn mul_outlined(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        self.mul(a, b)
    }

    /// `to_mont` through [`Modulus::mul_outlined`].
    pub(crate) fn to_mont_outlined(&self, a: &Limbs<L>) -> Limbs<L> {
        self.mul_outlined(a, &self.rr)
    }

    /// a·R⁻¹ mod m (out of Montgomery form).
    #[cfg(test)]
    pub(crate) fn to_plain(&self, a: &Limbs<L>) -> Limbs<L> {
        self.mul(a, &small(1))
    }

    /// a^(m−2) = a⁻¹ mod m (Fermat; m prime), a in Montgomery form and ≠ 0; the result is in
    /// Montgomery form. Fixed 4-bit windows over the public exponent.
    pub(crate) fn invert(&self, a: &Limbs<L>) -> Limbs<L> {
        let mut exp = self.m;
        limbs::sub_assign(&mut exp, &small::<L>(2));
        let mut powers = [self.one; 16];
        let mut prev = self.one;
        for slot in powers.iter_mut().skip(1) {
            prev = self.mul(&prev, a);
            *slot = prev;
        }
        let mut acc = self.one;
        for limb in exp.iter().rev() {
            for shift in (0..8).rev() {
                for _ in 0..4 {
                    acc = self.mul(&acc, &acc);
                }
                let digit = ((limb >> (4 * shift)) & 15) as usize;
                if let Some(p) = powers.get(digit) {
                    acc = self.mul(&acc, p);
                }
            }
        }
        acc
    }
}

/// The integer `v` < 2³².
pub(crate) const fn small<const L: usize>(v: u32) -> Limbs<L> {
    let mut out = [0u32; L];
    if L > 0 {
        out[0] = v;
    }
    out
}

/// Big-endian bytes, exactly 4·L of them, to limbs; `None` for any other length.
#[cfg(test)]
pub(crate) fn limbs_from_be<const L: usize>(bytes: &[u8]) -> Option<Limbs<L>> {
    let mut out = [0u32; L];
    (bytes.len() == 4 * L && limbs::from_be_bytes(&mut out, bytes)).then_some(out)
}

/// Big-endian bytes, exactly `len` ≤ 4·L of them, to limbs; `None` for any other length.
pub(crate) fn limbs_from_be_exact<const L: usize>(bytes: &[u8], len: usize) -> Option<Limbs<L>> {
    let mut out = [0u32; L];
    (bytes.len() == len && limbs::from_be_bytes(&mut out, bytes)).then_some(out)
}

/// Big-endian hex digits to limbs (only called on literal curve constants; 8·L digits).
pub(crate) const fn limbs_from_hex<const L: usize>(s: &str) -> Limbs<L> {
    const fn nibble(c: u8) -> u32 {
        match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'a'..=b'f' => (c - b'a' + 10) as u32,
            _ => 0,
        }
    }
    let s = s.as_bytes();
    let mut out = [0u32; L];
    let mut i = 0;
    // Digit i (from the right) goes to limb i / 8 < L while i < 8·L and i < s.len().
    #[allow(clippy::indexing_slicing)]
    while i < s.len() && i < 8 * L {
        out[i / 8] |= nibble(s[s.len() - 1 - i]) << (4 * (i % 8));
        i += 1;
    }
    out
}
