//! ECDSA P-384 verification (FIPS 186-5 §6.4.2) for JWS ES384 on 32-bit limbs.
//!
//! A sibling of `p256_verify` with the same structure and the same reasoning (see there); only
//! the sizes and constants differ. Why not the `p384` crate: its complete projective formulas on
//! 64-bit limbs are slow on wasm32 (about 9 ms per check in wasmtime). Here field elements are
//! 12 × 32-bit limbs with 64-bit products (which wasm has natively), in Montgomery form; points
//! use Jacobian coordinates with the a = −3 doubling and mixed (Jacobian + affine) addition.
//!
//! `u1·G + u2·Q` is computed as one sum: each scalar is cut into six 64-bit parts, and for each
//! base B ∈ {G, Q} the affine multiples `j·2^(64k)·B` (j = 1..15, k = 0..5) are precomputed
//! (8.4 KiB per base; G's table once per process, Q's when the JWK is parsed). The loop then
//! needs 60 doublings and at most 192 mixed additions, shared by both scalars.
//!
//! Every input here is public (key, message, signature), so the code is variable-time.
//! Edge cases handled explicitly: r, s ∈ [1, n−1] (CVE-2022-21449), an addition of a point to
//! itself (falls back to doubling) or to its negation (gives infinity), a sum at infinity
//! (rejected), u1 = 0 (no G terms). The final check is done in Jacobian form without an
//! inversion: x(R) mod n = r ⇔ X = r·Z² or (when r + n < p) X = (r + n)·Z², since x(R) < p < 2n.
//! A wrong computation can only make a signature fail, never pass: the result is compared
//! with r, which the signer cannot choose after the fact.

use sha2::{Digest, Sha384};
use std::sync::OnceLock;

/// Limbs per 384-bit integer.
const L: usize = 12;
/// Bytes per big-endian field element or scalar.
const BYTES: usize = 48;

/// 384-bit integer, little-endian 32-bit limbs.
type Limbs = [u32; L];

#[cfg(test)]
const ONE_RAW: Limbs = small(1);
const TWO_RAW: Limbs = small(2);

const fn small(v: u32) -> Limbs {
    let mut out = [0u32; L];
    out[0] = v;
    out
}

/// An odd modulus m with 2³⁸³ < m < 2³⁸⁴ and its Montgomery constants (R = 2³⁸⁴).
struct Modulus {
    m: Limbs,
    /// −m⁻¹ mod 2³².
    m0_inv: u32,
    /// R mod m (1 in Montgomery form).
    one: Limbs,
    /// R² mod m, to enter Montgomery form.
    rr: Limbs,
}

impl Modulus {
    const fn new(m_be: &str) -> Modulus {
        let m = limbs_from_hex(m_be);
        // R mod m = 2³⁸⁴ − m because m > 2³⁸³.
        let one = sub_raw(&[0; L], &m).0;
        // R² mod m = R · 2³⁸⁴ mod m: 384 modular doublings of R mod m.
        let mut rr = one;
        let mut i = 0;
        while i < 384 {
            rr = add_mod(&rr, &rr, &m);
            i += 1;
        }
        Modulus {
            m,
            m0_inv: neg_inv_u32(m[0]),
            one,
            rr,
        }
    }
}

/// p = 2³⁸⁴ − 2¹²⁸ − 2⁹⁶ + 2³² − 1, the field prime.
const P: Modulus = Modulus::new(
    "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
);

/// n, the order of the base point (the curve's order: cofactor 1).
const N: Modulus = Modulus::new(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);

/// The curve's b (y² = x³ − 3x + b).
const B: Limbs = limbs_from_hex(
    "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
);
/// The base point G.
const GX: Limbs = limbs_from_hex(
    "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
);
const GY: Limbs = limbs_from_hex(
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
);

/// 96 big-endian hex digits to limbs (only called on the literal constants above).
const fn limbs_from_hex(s: &str) -> Limbs {
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
    // Bound: digit i (from the right) goes to limb i / 8 < L while i < 8·L and i < s.len().
    #[allow(clippy::indexing_slicing)]
    while i < s.len() && i < 8 * L {
        out[i / 8] |= nibble(s[s.len() - 1 - i]) << (4 * (i % 8));
        i += 1;
    }
    out
}

/// −x⁻¹ mod 2³² for odd x (Newton's iteration doubles the correct low bits each step).
const fn neg_inv_u32(x: u32) -> u32 {
    let mut inv: u32 = 1;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
}

// ---------------------------------------------------------------------------------------------
// 384-bit arithmetic. Indexing below is into `[u32; L]` with loop counters i < L, in bounds by
// the type; `#[allow(clippy::indexing_slicing)]` is limited to these functions.

/// a + b and the carry out.
#[allow(clippy::indexing_slicing)] // i < L on [u32; L]
const fn add_raw(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut r = [0u32; L];
    let mut carry = 0u64;
    let mut i = 0;
    while i < L {
        let s = a[i] as u64 + b[i] as u64 + carry;
        r[i] = s as u32;
        carry = s >> 32;
        i += 1;
    }
    (r, carry as u32)
}

/// a − b and the borrow out (1 when a < b).
#[allow(clippy::indexing_slicing)] // i < L on [u32; L]
const fn sub_raw(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut r = [0u32; L];
    let mut borrow = 0u64;
    let mut i = 0;
    while i < L {
        // a[i] − b[i] − borrow ≥ −2³², so a negative result has its top bit set.
        let d = (a[i] as u64).wrapping_sub(b[i] as u64).wrapping_sub(borrow);
        r[i] = d as u32;
        borrow = d >> 63;
        i += 1;
    }
    (r, borrow as u32)
}

/// (a + b) mod m for a, b < m.
const fn add_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (s, carry) = add_raw(a, b);
    let (d, borrow) = sub_raw(&s, m);
    // s < 2m: subtract m when the sum carried out of 384 bits or is ≥ m.
    if carry != 0 || borrow == 0 {
        d
    } else {
        s
    }
}

/// (a − b) mod m for a, b < m.
fn sub_mod(a: &Limbs, b: &Limbs, m: &Limbs) -> Limbs {
    let (d, borrow) = sub_raw(a, b);
    if borrow != 0 {
        add_raw(&d, m).0
    } else {
        d
    }
}

fn less_than(a: &Limbs, b: &Limbs) -> bool {
    sub_raw(a, b).1 != 0
}

fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|l| *l == 0)
}

/// Montgomery product a·b·R⁻¹ mod m (CIOS), for a, b < m; the result is < m.
#[allow(clippy::indexing_slicing)] // i, j < L on [u32; L]; j − 1 ≥ 0 since j starts at 1
#[inline(always)]
fn mont_mul(a: &Limbs, b: &Limbs, md: &Modulus) -> Limbs {
    let m = &md.m;
    let mut t = [0u32; L];
    let mut t_top = 0u32; // limb L of the running sum (it stays below 2m < 2³⁸⁵)
    for &ai in a.iter() {
        let ai = u64::from(ai);
        let mut c = 0u64;
        for j in 0..L {
            let s = u64::from(t[j]) + ai * u64::from(b[j]) + c;
            t[j] = s as u32;
            c = s >> 32;
        }
        let s = u64::from(t_top) + c;
        let lo_top = s as u32;
        let t_carry = (s >> 32) as u32;

        let q = u64::from(t[0].wrapping_mul(md.m0_inv));
        let mut c = (u64::from(t[0]) + q * u64::from(m[0])) >> 32;
        for j in 1..L {
            let s = u64::from(t[j]) + q * u64::from(m[j]) + c;
            t[j - 1] = s as u32;
            c = s >> 32;
        }
        let s = u64::from(lo_top) + c;
        t[L - 1] = s as u32;
        t_top = t_carry + (s >> 32) as u32;
    }
    let (d, borrow) = sub_raw(&t, m);
    if t_top != 0 || borrow == 0 {
        d
    } else {
        t
    }
}

fn to_mont(a: &Limbs, md: &Modulus) -> Limbs {
    mont_mul(a, &md.rr, md)
}

#[cfg(test)]
fn from_mont(a: &Limbs, md: &Modulus) -> Limbs {
    mont_mul(a, &ONE_RAW, md)
}

/// a^(m−2) = a⁻¹ mod m (m prime), a in Montgomery form and ≠ 0; result in Montgomery form.
/// Fixed 4-bit windows over the public exponent.
fn invert(a: &Limbs, md: &Modulus) -> Limbs {
    let exp = sub_raw(&md.m, &TWO_RAW).0;
    let mut powers = [md.one; 16];
    let mut prev = md.one;
    for slot in powers.iter_mut().skip(1) {
        prev = mont_mul(&prev, a, md);
        *slot = prev;
    }
    let mut acc = md.one;
    for limb in exp.iter().rev() {
        for shift in (0..8).rev() {
            for _ in 0..4 {
                acc = mont_mul(&acc, &acc, md);
            }
            let digit = ((limb >> (4 * shift)) & 15) as usize;
            if let Some(p) = powers.get(digit) {
                acc = mont_mul(&acc, p, md);
            }
        }
    }
    acc
}

/// Big-endian bytes (exactly 48) to limbs.
fn limbs_from_be(bytes: &[u8; BYTES]) -> Limbs {
    let mut out = [0u32; L];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks_exact(4)) {
        *limb = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    }
    out
}

fn fe(a: &Limbs) -> Limbs {
    to_mont(a, &P)
}
fn fmul(a: &Limbs, b: &Limbs) -> Limbs {
    mont_mul(a, b, &P)
}
fn fsqr(a: &Limbs) -> Limbs {
    mont_mul(a, a, &P)
}
fn fadd(a: &Limbs, b: &Limbs) -> Limbs {
    add_mod(a, b, &P.m)
}
fn fsub(a: &Limbs, b: &Limbs) -> Limbs {
    sub_mod(a, b, &P.m)
}

// ---------------------------------------------------------------------------------------------
// Points. Coordinates are field elements in Montgomery form.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    x: Limbs,
    y: Limbs,
}

/// (X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

const INFINITY: Jacobian = Jacobian {
    x: [0; L],
    y: [0; L],
    z: [0; L],
};

impl Jacobian {
    fn from_affine(a: &Affine) -> Jacobian {
        Jacobian {
            x: a.x,
            y: a.y,
            z: P.one,
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// 2·self with a = −3 ("dbl-2001-b", 3M + 5S). Infinity doubles to infinity (Z3 = 0);
    /// Y = 0 cannot occur (the group has odd order, so no point of order 2).
    fn double(&self) -> Jacobian {
        let delta = fsqr(&self.z);
        let gamma = fsqr(&self.y);
        let beta = fmul(&self.x, &gamma);
        let t = fmul(&fsub(&self.x, &delta), &fadd(&self.x, &delta));
        let alpha = fadd(&fadd(&t, &t), &t);
        let beta2 = fadd(&beta, &beta);
        let beta4 = fadd(&beta2, &beta2);
        let beta8 = fadd(&beta4, &beta4);
        let x3 = fsub(&fsqr(&alpha), &beta8);
        let yz = fadd(&self.y, &self.z);
        let z3 = fsub(&fsub(&fsqr(&yz), &gamma), &delta);
        let gamma_sq = fsqr(&gamma);
        let g2 = fadd(&gamma_sq, &gamma_sq);
        let g4 = fadd(&g2, &g2);
        let g8 = fadd(&g4, &g4);
        let y3 = fsub(&fmul(&alpha, &fsub(&beta4, &x3)), &g8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q with q affine (8M + 3S). Handles self = infinity, self = q (doubling) and
    /// self = −q (infinity).
    fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from_affine(q);
        }
        let z1z1 = fsqr(&self.z);
        let u2 = fmul(&q.x, &z1z1);
        let s2 = fmul(&q.y, &fmul(&self.z, &z1z1));
        let h = fsub(&u2, &self.x);
        let r = fsub(&s2, &self.y);
        if is_zero(&h) {
            // Same affine x: either the same point or its negation.
            return if is_zero(&r) { self.double() } else { INFINITY };
        }
        let hh = fsqr(&h);
        let hhh = fmul(&h, &hh);
        let v = fmul(&self.x, &hh);
        let x3 = fsub(&fsub(&fsqr(&r), &hhh), &fadd(&v, &v));
        let y3 = fsub(&fmul(&r, &fsub(&v, &x3)), &fmul(&self.y, &hhh));
        let z3 = fmul(&self.z, &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// Affine forms of `points` with one inversion (Montgomery's trick); `None` if any is infinity.
fn batch_to_affine(points: &[Jacobian]) -> Option<Vec<Affine>> {
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // prefix[i] = z₀·…·zᵢ
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = P.one;
    for p in points {
        acc = fmul(&acc, &p.z);
        prefix.push(acc);
    }
    let mut inv = invert(&acc, &P); // (z₀·…·z_last)⁻¹
    let mut out = vec![
        Affine {
            x: [0; L],
            y: [0; L]
        };
        points.len()
    ];
    for i in (0..points.len()).rev() {
        let point = points.get(i)?;
        let before = if i == 0 { P.one } else { *prefix.get(i - 1)? };
        let z_inv = fmul(&inv, &before);
        inv = fmul(&inv, &point.z);
        let z_inv2 = fsqr(&z_inv);
        let z_inv3 = fmul(&z_inv2, &z_inv);
        *out.get_mut(i)? = Affine {
            x: fmul(&point.x, &z_inv2),
            y: fmul(&point.y, &z_inv3),
        };
    }
    Some(out)
}

/// Scalars are split into `PARTS` parts of `PART_BITS` bits, read `WINDOW` bits at a time.
const PARTS: usize = 6;
const PART_BITS: usize = 64;
const WINDOW: usize = 4;
const MULTIPLES: usize = (1 << WINDOW) - 1;

/// `parts[k][j − 1]` = j · 2^(64k) · B for j = 1..15, k = 0..5, affine.
struct Table {
    parts: [[Affine; MULTIPLES]; PARTS],
}

impl Table {
    fn new(base: &Affine) -> Option<Box<Table>> {
        let mut points = Vec::with_capacity(PARTS * MULTIPLES);
        let mut part_base = *base;
        for k in 0..PARTS {
            let first = Jacobian::from_affine(&part_base);
            points.push(first);
            let mut current = first.double();
            points.push(current);
            for _ in 3..=MULTIPLES {
                current = current.add_affine(&part_base);
                points.push(current);
            }
            if k + 1 < PARTS {
                let mut next = first;
                for _ in 0..PART_BITS {
                    next = next.double();
                }
                part_base = *batch_to_affine(&[next])?.first()?;
            }
        }
        let affine = batch_to_affine(&points)?;
        let mut parts = [[Affine {
            x: [0; L],
            y: [0; L],
        }; MULTIPLES]; PARTS];
        for (dst, src) in parts.iter_mut().flatten().zip(affine.iter()) {
            *dst = *src;
        }
        Some(Box::new(Table { parts }))
    }

    fn get(&self, part: usize, digit: u32) -> Option<&Affine> {
        self.parts.get(part)?.get((digit as usize).checked_sub(1)?)
    }
}

/// Window `window` (0 = least significant) of part `part` of a scalar.
fn digit(scalar: &Limbs, part: usize, window: usize) -> u32 {
    let bit = part * PART_BITS + window * WINDOW;
    scalar
        .get(bit / 32)
        .map_or(0, |limb| (limb >> (bit % 32)) & ((1 << WINDOW) - 1))
}

fn generator() -> Affine {
    Affine {
        x: fe(&GX),
        y: fe(&GY),
    }
}

/// G's table, built on first use (about 410 point operations and six inversions).
fn generator_table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Box<Table>>> = OnceLock::new();
    TABLE.get_or_init(|| Table::new(&generator())).as_deref()
}

/// u1·G + u2·Q, with the tables of G and Q.
fn double_mul(u1: &Limbs, g: &Table, u2: &Limbs, q: &Table) -> Option<Jacobian> {
    let mut acc = INFINITY;
    for window in (0..PART_BITS / WINDOW).rev() {
        if window + 1 != PART_BITS / WINDOW {
            for _ in 0..WINDOW {
                acc = acc.double();
            }
        }
        for part in 0..PARTS {
            for (scalar, table) in [(u1, g), (u2, q)] {
                let d = digit(scalar, part, window);
                if d != 0 {
                    acc = acc.add_affine(table.get(part, d)?);
                }
            }
        }
    }
    Some(acc)
}

/// A validated P-384 public key with its precomputed multiples.
pub struct P384PublicKey {
    table: Box<Table>,
}

impl P384PublicKey {
    /// From the big-endian affine coordinates (JWK `x`, `y`): each must be 48 bytes and < p,
    /// and the point must be on the curve (which also excludes the point at infinity, which has
    /// no affine coordinates; the curve has cofactor 1, so every such point has order n).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, &'static str> {
        let x: &[u8; BYTES] = x.try_into().map_err(|_| "P-384 \"x\" must be 48 bytes")?;
        let y: &[u8; BYTES] = y.try_into().map_err(|_| "P-384 \"y\" must be 48 bytes")?;
        let (x, y) = (limbs_from_be(x), limbs_from_be(y));
        if !less_than(&x, &P.m) || !less_than(&y, &P.m) {
            return Err("P-384 coordinate not below the field prime");
        }
        let point = Affine {
            x: fe(&x),
            y: fe(&y),
        };
        if !on_curve(&point) {
            return Err("point is not on P-384");
        }
        let table = Table::new(&point).ok_or("invalid P-384 point")?;
        Ok(P384PublicKey { table })
    }

    /// ES384: `signature` is r ‖ s (48 bytes each, big-endian) over SHA-384(`message`).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify_inner(message, signature).unwrap_or(false)
    }

    fn verify_inner(&self, message: &[u8], signature: &[u8]) -> Option<bool> {
        let (r_bytes, s_bytes) = signature.split_first_chunk::<BYTES>()?;
        let s_bytes: &[u8; BYTES] = s_bytes.try_into().ok()?;
        let r = limbs_from_be(r_bytes);
        let s = limbs_from_be(s_bytes);
        // r, s ∈ [1, n − 1] (r = s = 0 is CVE-2022-21449).
        if is_zero(&r) || is_zero(&s) || !less_than(&r, &N.m) || !less_than(&s, &N.m) {
            return Some(false);
        }
        let digest: [u8; BYTES] = Sha384::digest(message).into();
        // e = digest mod n; the digest is < 2³⁸⁴ < 2n, so one subtraction suffices.
        let mut e = limbs_from_be(&digest);
        if !less_than(&e, &N.m) {
            e = sub_raw(&e, &N.m).0;
        }
        // w = s⁻¹ in Montgomery form; a plain × a Montgomery operand gives a plain product.
        let w = invert(&to_mont(&s, &N), &N);
        let u1 = mont_mul(&e, &w, &N);
        let u2 = mont_mul(&r, &w, &N);
        let sum = double_mul(&u1, generator_table()?, &u2, &self.table)?;
        if sum.is_infinity() {
            return Some(false);
        }
        // x(R) = X/Z² < p < 2n, so x(R) mod n = r ⇔ x(R) ∈ {r, r + n} (the latter only if < p).
        let z2 = fsqr(&sum.z);
        if fmul(&fe(&r), &z2) == sum.x {
            return Some(true);
        }
        let (r_plus_n, carry) = add_raw(&r, &N.m);
        if carry == 0 && less_than(&r_plus_n, &P.m) && fmul(&fe(&r_plus_n), &z2) == sum.x {
            return Some(true);
        }
        Some(false)
    }
}

/// y² = x³ − 3x + b.
fn on_curve(p: &Affine) -> bool {
    let b = fe(&B);
    let x3 = fmul(&fsqr(&p.x), &p.x);
    let three_x = fadd(&fadd(&p.x, &p.x), &p.x);
    let rhs = fadd(&fsub(&x3, &three_x), &b);
    fsqr(&p.y) == rhs
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use p384::elliptic_curve::ff::PrimeField;
    use p384::elliptic_curve::sec1::ToEncodedPoint;
    use rand_core::{OsRng, RngCore};

    fn to_be(a: &Limbs) -> [u8; BYTES] {
        let mut out = [0u8; BYTES];
        for (chunk, limb) in out.rchunks_exact_mut(4).zip(a.iter()) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    fn random_below(m: &Limbs) -> Limbs {
        loop {
            let mut bytes = [0u8; BYTES];
            OsRng.fill_bytes(&mut bytes);
            // Mix in edge values now and then.
            match OsRng.next_u32() % 8 {
                0 => bytes = [0xff; BYTES],
                1 => bytes = [0; BYTES],
                _ => {}
            }
            let a = limbs_from_be(&bytes);
            if less_than(&a, m) {
                return a;
            }
            if OsRng.next_u32().is_multiple_of(2) {
                return sub_raw(m, &ONE_RAW).0; // m − 1
            }
        }
    }

    fn ref_fe(a: &Limbs) -> p384::FieldElement {
        p384::FieldElement::from_bytes(&to_be(a).into()).unwrap()
    }

    fn ref_scalar(a: &Limbs) -> p384::Scalar {
        p384::Scalar::from_repr(to_be(a).into()).unwrap()
    }

    #[test]
    fn constants() {
        assert_eq!(P.m0_inv, 1);
        assert_eq!(N.m0_inv.wrapping_mul(N.m[0]), u32::MAX); // −1 mod 2³²
                                                             // R² mod m in Montgomery form is R mod m.
        assert_eq!(to_mont(&ONE_RAW, &P), P.one);
        assert_eq!(to_mont(&ONE_RAW, &N), N.one);
        assert!(on_curve(&generator()));
        let n_bytes = to_be(&N.m);
        assert_eq!(
            hex::encode(n_bytes),
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"
        );
    }

    #[test]
    fn field_ops_match_reference() {
        for _ in 0..3000 {
            let a = random_below(&P.m);
            let b = random_below(&P.m);
            let (ra, rb) = (ref_fe(&a), ref_fe(&b));
            assert_eq!(to_be(&add_mod(&a, &b, &P.m)), to_be_ref(ra + rb));
            assert_eq!(to_be(&sub_mod(&a, &b, &P.m)), to_be_ref(ra - rb));
            let prod = from_mont(&fmul(&fe(&a), &fe(&b)), &P);
            assert_eq!(to_be(&prod), to_be_ref(ra * rb));
            assert_eq!(from_mont(&fe(&a), &P), a);
            if !is_zero(&a) {
                let inv = from_mont(&invert(&fe(&a), &P), &P);
                assert_eq!(to_be(&inv), to_be_ref(ra.invert().unwrap()));
            }
        }
    }

    fn to_be_ref(x: p384::FieldElement) -> [u8; BYTES] {
        x.to_bytes().into()
    }

    #[test]
    fn scalar_ops_match_reference() {
        for _ in 0..2000 {
            let a = random_below(&N.m);
            let b = random_below(&N.m);
            let (ra, rb) = (ref_scalar(&a), ref_scalar(&b));
            let sum: [u8; BYTES] = (ra + rb).to_repr().into();
            assert_eq!(to_be(&add_mod(&a, &b, &N.m)), sum);
            let diff: [u8; BYTES] = (ra - rb).to_repr().into();
            assert_eq!(to_be(&sub_mod(&a, &b, &N.m)), diff);
            let prod: [u8; BYTES] = (ra * rb).to_repr().into();
            assert_eq!(to_be(&mont_mul(&a, &to_mont(&b, &N), &N)), prod);
            if !is_zero(&a) {
                let inv: [u8; BYTES] = ra.invert().unwrap().to_repr().into();
                let ours = mont_mul(&invert(&to_mont(&a, &N), &N), &ONE_RAW, &N);
                assert_eq!(to_be(&ours), inv);
            }
        }
    }

    fn affine_of(j: &Jacobian) -> Option<Affine> {
        batch_to_affine(&[*j]).map(|v| v[0])
    }

    fn reference_point(scalar: &Limbs) -> Option<Affine> {
        let k = ref_scalar(scalar);
        let p = (p384::ProjectivePoint::GENERATOR * k).to_affine();
        let enc = p.to_encoded_point(false);
        let (x, y) = (enc.x()?, enc.y()?);
        Some(Affine {
            x: fe(&limbs_from_be(&(*x).into())),
            y: fe(&limbs_from_be(&(*y).into())),
        })
    }

    #[test]
    fn group_law_edge_cases() {
        let g = generator();
        let gj = Jacobian::from_affine(&g);
        // G + G through the addition falls back to doubling.
        let two_g = affine_of(&gj.add_affine(&g)).unwrap();
        assert_eq!(two_g, affine_of(&gj.double()).unwrap());
        assert_eq!(Some(two_g), reference_point(&TWO_RAW));
        // G + (−G) = infinity.
        let neg_g = Affine {
            x: g.x,
            y: fsub(&[0; L], &g.y),
        };
        assert!(gj.add_affine(&neg_g).is_infinity());
        // Infinity + G = G; 2·infinity = infinity.
        assert_eq!(affine_of(&INFINITY.add_affine(&g)).unwrap(), g);
        assert!(INFINITY.double().is_infinity());
        // The same point in a non-trivial Jacobian form (Z ≠ 1) plus itself.
        let three_g = gj.double().add_affine(&g);
        let three_aff = affine_of(&three_g).unwrap();
        assert_eq!(Some(three_aff), reference_point(&small(3)));
        assert_eq!(
            affine_of(&three_g.add_affine(&three_aff)),
            reference_point(&small(6))
        );
    }

    #[test]
    fn double_mul_matches_reference() {
        let table = generator_table().unwrap();
        let zero = [0u32; L];
        for i in 0..200 {
            let (u1, u2) = (random_below(&N.m), random_below(&N.m));
            let u2 = if i == 0 { zero } else { u2 };
            // u1·G + u2·G = (u1 + u2)·G
            let sum = double_mul(&u1, table, &u2, table).unwrap();
            let k = add_mod(&u1, &u2, &N.m);
            if is_zero(&k) {
                assert!(sum.is_infinity());
            } else {
                assert_eq!(affine_of(&sum), reference_point(&k));
            }
        }
        // u1 = n − u2 gives infinity.
        let u2 = random_below(&N.m);
        let u1 = sub_mod(&[0; L], &u2, &N.m);
        assert!(double_mul(&u1, table, &u2, table).unwrap().is_infinity());
        assert!(double_mul(&zero, table, &zero, table)
            .unwrap()
            .is_infinity());
    }

    #[test]
    fn rejects_bad_keys() {
        let g = (
            to_be(&from_mont(&generator().x, &P)),
            to_be(&from_mont(&generator().y, &P)),
        );
        assert!(P384PublicKey::from_coordinates(&g.0, &g.1).is_ok());
        let mut bad_y = g.1;
        bad_y[BYTES - 1] ^= 1;
        assert!(P384PublicKey::from_coordinates(&g.0, &bad_y).is_err());
        assert!(P384PublicKey::from_coordinates(&[0; BYTES], &[0; BYTES]).is_err());
        assert!(P384PublicKey::from_coordinates(&g.0[1..], &g.1).is_err());
        // x + p (not reduced) is refused even though it is the same field element... if < 2³⁸⁴.
        assert!(P384PublicKey::from_coordinates(&[0xff; BYTES], &g.1).is_err());
    }

    #[test]
    fn verifies_and_rejects() {
        use p384::ecdsa::signature::Signer;
        let sk = p384::ecdsa::SigningKey::random(&mut OsRng);
        let enc = sk.verifying_key().to_encoded_point(false);
        let key = P384PublicKey::from_coordinates(enc.x().unwrap(), enc.y().unwrap()).unwrap();
        let sig: p384::ecdsa::Signature = sk.sign(b"hello");
        let bytes = sig.to_bytes();
        assert!(key.verify(b"hello", &bytes));
        assert!(!key.verify(b"hellp", &bytes));
        assert!(!key.verify(b"hello", &bytes[..2 * BYTES - 1]));
        assert!(!key.verify(b"hello", &[0u8; 2 * BYTES]));
        // r or s replaced by n, or r + n: out of range.
        let n = to_be(&N.m);
        let mut with_n = bytes;
        with_n[BYTES..].copy_from_slice(&n);
        assert!(!key.verify(b"hello", &with_n));
        let mut with_n = bytes;
        with_n[..BYTES].copy_from_slice(&n);
        assert!(!key.verify(b"hello", &with_n));
    }
}
