//! Multi-precision arithmetic on little-endian 32-bit limbs, shared by RSA (a modulus of any
//! length, in a `Vec`) and ECDSA (fixed-size arrays, one size per curve).
//!
//! 32-bit limbs with 64-bit products map one to one onto wasm32 instructions (`i64.mul` of two
//! zero-extended 32-bit values); 64-bit limbs would need 128-bit products, which wasm lacks.
//! Every function takes slices of equal length; the fixed-size callers inline them
//! (`#[inline(always)]`), so the lengths become constants and the loops unroll.
//!
//! All inputs here are public (keys, messages, signatures), so the code is variable-time.
//! Indexing is into slices with loop counters bounded by those slices' lengths;
//! `#[allow(clippy::indexing_slicing)]` is limited to the functions that need it.

/// `a += b`; returns the carry out (0 or 1).
#[allow(clippy::indexing_slicing)] // i < a.len() and i < b.len()
#[inline(always)]
pub(crate) const fn add_assign(a: &mut [u32], b: &[u32]) -> u32 {
    let mut carry = 0u64;
    let mut i = 0;
    while i < a.len() && i < b.len() {
        let s = a[i] as u64 + b[i] as u64 + carry;
        a[i] = s as u32;
        carry = s >> 32;
        i += 1;
    }
    carry as u32
}

/// `a −= b`; returns the borrow out (1 when a < b before the subtraction).
#[allow(clippy::indexing_slicing)] // i < a.len() and i < b.len()
#[inline(always)]
pub(crate) const fn sub_assign(a: &mut [u32], b: &[u32]) -> u32 {
    let mut borrow = 0u64;
    let mut i = 0;
    while i < a.len() && i < b.len() {
        // a[i] − b[i] − borrow ≥ −2³², so a negative result has its top bit set.
        let d = (a[i] as u64).wrapping_sub(b[i] as u64).wrapping_sub(borrow);
        a[i] = d as u32;
        borrow = d >> 63;
        i += 1;
    }
    borrow as u32
}

/// `a < b` (equal lengths), comparing from the most significant limb.
#[allow(clippy::indexing_slicing)] // i < a.len() == b.len()
#[inline(always)]
pub(crate) const fn less_than(a: &[u32], b: &[u32]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = a.len();
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

pub(crate) fn is_zero(a: &[u32]) -> bool {
    a.iter().all(|l| *l == 0)
}

/// `a = (a + b) mod m` for a, b < m.
#[inline(always)]
pub(crate) const fn add_mod_assign(a: &mut [u32], b: &[u32], m: &[u32]) {
    // a + b < 2m: subtract m once when the sum carried out or is ≥ m.
    let carry = add_assign(a, b);
    if carry != 0 || !less_than(a, m) {
        sub_assign(a, m);
    }
}

/// `a = (a − b) mod m` for a, b < m.
#[inline(always)]
pub(crate) fn sub_mod_assign(a: &mut [u32], b: &[u32], m: &[u32]) {
    if sub_assign(a, b) != 0 {
        add_assign(a, m);
    }
}

/// `a = 2a mod m` for a < m.
#[allow(clippy::indexing_slicing)] // i < a.len()
const fn double_mod_assign(a: &mut [u32], m: &[u32]) {
    let mut carry = 0u32;
    let mut i = 0;
    while i < a.len() {
        let next = a[i] >> 31;
        a[i] = (a[i] << 1) | carry;
        carry = next;
        i += 1;
    }
    if carry != 0 || !less_than(a, m) {
        sub_assign(a, m);
    }
}

/// −x⁻¹ mod 2³² for odd x, the Montgomery constant of a modulus whose lowest limb is x.
/// Newton's iteration y ← y·(2 − x·y) doubles the number of correct low bits; y = 1 is
/// correct to one bit, so five steps give 32.
pub(crate) const fn neg_inv_mod_2_32(x: u32) -> u32 {
    let mut inv: u32 = 1;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

/// `out = R mod m` with R = 2^(32·len), the Montgomery form of 1: 1 doubled 32·len times
/// modulo m. m is odd and > 1, with the same length as `out`.
#[allow(clippy::indexing_slicing)] // i < out.len()
pub(crate) const fn r_mod(out: &mut [u32], m: &[u32]) {
    let mut i = 0;
    while i < out.len() {
        out[i] = if i == 0 { 1 } else { 0 };
        i += 1;
    }
    let mut i = 0;
    while i < 32 * out.len() {
        double_mod_assign(out, m);
        i += 1;
    }
}

/// `out = R² mod m` with R = 2^(32·len), the factor that enters Montgomery form
/// (`mont_mul(a, R²) = a·R mod m`): 1 doubled 64·len times modulo m. m is odd and > 1, with
/// the same length as `out`.
#[allow(clippy::indexing_slicing)] // i < out.len()
pub(crate) const fn r_squared(out: &mut [u32], m: &[u32]) {
    let mut i = 0;
    while i < out.len() {
        out[i] = if i == 0 { 1 } else { 0 };
        i += 1;
    }
    let mut i = 0;
    while i < 64 * out.len() {
        double_mod_assign(out, m);
        i += 1;
    }
}

/// Montgomery product `t = a·b·R⁻¹ mod m` with R = 2^(32·len), for a, b < m and m odd; the
/// result is < m. `m_inv` is −m⁻¹ mod 2³² (`neg_inv_mod_2_32`).
///
/// The CIOS method (Coarsely Integrated Operand Scanning) of Koç, Acar and Kaliski,
/// "Analyzing and Comparing Montgomery Multiplication Algorithms", IEEE Micro 16(3), 1996:
/// per limb of `a`, add `aᵢ·b`, then add the multiple `q·m` that clears the lowest limb and
/// shift down one limb. The running sum stays below 2m, so one conditional subtraction ends it.
/// On slices of unequal length `t` is left zero, which fails any verification using it.
#[allow(clippy::indexing_slicing)] // j < len == t.len() == b.len() == m.len(), checked on entry
#[inline(always)]
pub(crate) fn mont_mul(t: &mut [u32], a: &[u32], b: &[u32], m: &[u32], m_inv: u32) {
    let len = m.len();
    t.fill(0);
    if len == 0 || t.len() != len || a.len() != len || b.len() != len {
        return;
    }
    // Re-sliced to exactly `len`, so the loops below need no bounds checks.
    let (t, a, b, m) = (&mut t[..len], &a[..len], &b[..len], &m[..len]);
    // Limb `len` of the running sum (it stays below 2m < 2^(32·len + 1)).
    let mut t_top = 0u32;
    for &ai in a {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for j in 0..len {
            let s = u64::from(t[j]) + ai * u64::from(b[j]) + c;
            t[j] = s as u32;
            c = s >> 32;
        }
        let s = u64::from(t_top) + c;
        let lo_top = s as u32;
        let t_carry = (s >> 32) as u32;

        let q = u64::from(t[0].wrapping_mul(m_inv));
        let mut c = (u64::from(t[0]) + q * u64::from(m[0])) >> 32;
        for j in 1..len {
            let s = u64::from(t[j]) + q * u64::from(m[j]) + c;
            t[j - 1] = s as u32;
            c = s >> 32;
        }
        let s = u64::from(lo_top) + c;
        t[len - 1] = s as u32;
        t_top = t_carry + (s >> 32) as u32;
    }
    if t_top != 0 || !less_than(t, m) {
        sub_assign(t, m);
    }
}

/// Big-endian bytes into `out` (least significant limb first). Returns `false`, leaving `out`
/// unspecified, when the value does not fit; leading zero bytes are allowed.
pub(crate) fn from_be_bytes(out: &mut [u32], bytes: &[u8]) -> bool {
    out.fill(0);
    let mut chunks = bytes.rchunks(4);
    for limb in out.iter_mut() {
        let Some(chunk) = chunks.next() else {
            return true;
        };
        *limb = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    }
    chunks.all(|chunk| chunk.iter().all(|b| *b == 0))
}

/// `limbs` as exactly `len` big-endian bytes (high limbs beyond `len` bytes are dropped).
pub(crate) fn to_be_bytes(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for (i, byte) in out.iter_mut().rev().enumerate() {
        let limb = limbs.get(i / 4).copied().unwrap_or(0);
        *byte = (limb >> (8 * (i % 4))) as u8;
    }
    out
}

/// Number of significant bits.
pub(crate) fn bit_len(limbs: &[u32]) -> usize {
    match limbs.iter().rposition(|l| *l != 0) {
        Some(i) => 32 * i + 32 - limbs.get(i).map_or(0, |l| l.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn montgomery_constant_is_the_negated_inverse() {
        for x in [1u32, 3, 0xffff_ffff, 0x1234_5677, 65537, 0xfc63_2551] {
            assert_eq!(x.wrapping_mul(neg_inv_mod_2_32(x)), u32::MAX, "{x:#x}");
            // −1
        }
    }

    #[test]
    fn carries_and_borrows() {
        let mut a = [u32::MAX, u32::MAX];
        assert_eq!(add_assign(&mut a, &[1, 0]), 1);
        assert_eq!(a, [0, 0]);
        assert_eq!(sub_assign(&mut a, &[1, 0]), 1);
        assert_eq!(a, [u32::MAX, u32::MAX]);
        assert!(less_than(&[5, 1], &[0, 2]));
        assert!(!less_than(&[0, 2], &[5, 1]));
        assert!(!less_than(&[7, 7], &[7, 7]));
        assert!(!less_than(&[1], &[1, 2]), "unequal lengths are not ordered");
    }

    #[test]
    fn modular_add_and_sub_wrap() {
        let m = [13u32, 0];
        let mut a = [9u32, 0];
        add_mod_assign(&mut a, &[7, 0], &m);
        assert_eq!(a, [3, 0]);
        sub_mod_assign(&mut a, &[5, 0], &m);
        assert_eq!(a, [11, 0]);
        // A sum that carries out of the top limb.
        let m = [1u32, 0x8000_0000];
        let mut a = [0u32, 0x8000_0000];
        add_mod_assign(&mut a, &[0, 0x8000_0000], &m);
        assert_eq!(a, [u32::MAX, 0x7fff_ffff]);
    }

    #[test]
    fn montgomery_product_of_small_values() {
        // m = 2⁶⁴ − 59 (prime), R = 2⁶⁴: mont_mul(a·R, b·R) = a·b·R.
        let m = [(-59i64) as u32, u32::MAX];
        let m_inv = neg_inv_mod_2_32(m[0]);
        let mut rr = [0u32; 2];
        r_squared(&mut rr, &m);
        assert_eq!(rr, [59 * 59, 0]); // R ≡ 59, so R² ≡ 3481
        let (mut a_m, mut b_m, mut p_m, mut p) = ([0u32; 2], [0u32; 2], [0u32; 2], [0u32; 2]);
        mont_mul(&mut a_m, &[6, 0], &rr, &m, m_inv);
        mont_mul(&mut b_m, &[7, 0], &rr, &m, m_inv);
        mont_mul(&mut p_m, &a_m, &b_m, &m, m_inv);
        mont_mul(&mut p, &p_m, &[1, 0], &m, m_inv);
        assert_eq!(p, [42, 0]);
        // m − 1 squared is 1.
        let minus_one = [m[0] - 1, m[1]];
        mont_mul(&mut a_m, &minus_one, &rr, &m, m_inv);
        mont_mul(&mut p_m, &a_m, &a_m, &m, m_inv);
        mont_mul(&mut p, &p_m, &[1, 0], &m, m_inv);
        assert_eq!(p, [1, 0]);
        // Mismatched lengths give zero, never a partial product.
        let mut short = [9u32; 1];
        mont_mul(&mut short, &[6, 0], &rr, &m, m_inv);
        assert_eq!(short, [0]);
    }

    #[test]
    fn bytes_round_trip() {
        let mut limbs = [0u32; 3];
        assert!(from_be_bytes(&mut limbs, &[0, 0, 1, 2, 3, 4, 5]));
        assert_eq!(limbs, [0x0203_0405, 0x01, 0]);
        assert_eq!(to_be_bytes(&limbs, 6), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(bit_len(&limbs), 33);
        assert!(!from_be_bytes(&mut limbs, &[1; 13]));
        assert!(from_be_bytes(
            &mut limbs,
            &[[0u8; 4].as_slice(), &[1; 12]].concat()
        ));
        assert_eq!(bit_len(&[0, 0]), 0);
    }
}
