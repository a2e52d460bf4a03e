//! ECDSA verification (FIPS 186-5 §6.4.2) on 32-bit limbs for JWS ES256 (P-256) and ES384
//! (P-384): one implementation, generic over the curve (`Curve`) and its limb count `L`
//! (8 for P-256, 12 for P-384); only the sizes and constants differ between the curves.
//!
//! Why not the `p256` / `p384` crates: their complete projective formulas on 64-bit limbs are
//! slow on wasm32 (about 2 ms per ES256 check and 9 ms per ES384 check in wasmtime). Here field
//! elements are L × 32-bit limbs with 64-bit products (which wasm has natively), in Montgomery
//! form; points use Jacobian coordinates with the a = −3 doubling and mixed (Jacobian + affine)
//! addition.
//!
//! `u1·G + u2·Q` is computed as one sum: each scalar is cut into L/2 64-bit parts (four for
//! P-256, six for P-384), and for each base B ∈ {G, Q} the affine multiples `j·2^(64k)·B`
//! (j = 1..15, k = 0..L/2−1) are precomputed (3.75 KiB per base for P-256, 8.4 KiB for P-384;
//! G's table once per process and curve, Q's when the JWK is parsed). The loop then needs 60
//! doublings and at most 16·L mixed additions (128 for P-256, 192 for P-384), shared by both
//! scalars.
//!
//! Every input here is public (key, message, signature), so the code is variable-time.
//! Edge cases handled explicitly: r, s ∈ [1, n−1] (CVE-2022-21449), an addition of a point to
//! itself (falls back to doubling) or to its negation (gives infinity), a sum at infinity
//! (rejected), u1 = 0 (no G terms). The final check is done in Jacobian form without an
//! inversion: x(R) mod n = r ⇔ X = r·Z² or (when r + n < p) X = (r + n)·Z², since x(R) < p < 2n.
//! A wrong computation can only make a signature fail, never pass: the result is compared
//! with r, which the signer cannot choose after the fact.

use sha2::{Digest, Sha256, Sha384};
use std::marker::PhantomData;
use std::sync::OnceLock;

/// An integer of 32·L bits, little-endian 32-bit limbs.
type Limbs<const L: usize> = [u32; L];

/// A curve y² = x³ − 3x + b over F_p with a base point G of prime order n (cofactor 1), whose
/// p and n both have exactly 32·L bits, and whose hash output is 4·L bytes (the size of a
/// field element and of a scalar).
pub trait Curve<const L: usize>: 'static {
    /// The field prime p.
    const P: &'static Modulus<L>;
    /// n, the order of the base point (the curve's order: cofactor 1).
    const N: &'static Modulus<L>;
    /// The curve's b (y² = x³ − 3x + b).
    const B: Limbs<L>;
    /// The base point G.
    const GX: Limbs<L>;
    const GY: Limbs<L>;
    /// The messages of `from_coordinates`, which name the curve.
    const ERRORS: KeyErrors;
    /// The JWS hash of the curve (SHA-256 for ES256, SHA-384 for ES384).
    type Hash: Digest;
    /// This curve's own cell for G's table. Each curve has its own `static` (a `static` inside
    /// a generic function would be one cell shared by every instantiation).
    fn generator_table_cell() -> &'static OnceLock<Option<Box<Table<L>>>>;
}

/// The errors of `EcdsaPublicKey::from_coordinates` (`&'static str`, as the JWK parser expects).
pub struct KeyErrors {
    x_length: &'static str,
    y_length: &'static str,
    not_reduced: &'static str,
    not_on_curve: &'static str,
    invalid: &'static str,
}

/// NIST P-256 (secp256r1), for ES256.
pub struct P256;

impl Curve<8> for P256 {
    /// p = 2²⁵⁶ − 2²²⁴ + 2¹⁹² + 2⁹⁶ − 1.
    const P: &'static Modulus<8> =
        &Modulus::new("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    const N: &'static Modulus<8> =
        &Modulus::new("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    const B: Limbs<8> =
        limbs_from_hex("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");
    const GX: Limbs<8> =
        limbs_from_hex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
    const GY: Limbs<8> =
        limbs_from_hex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    const ERRORS: KeyErrors = KeyErrors {
        x_length: "P-256 \"x\" must be 32 bytes",
        y_length: "P-256 \"y\" must be 32 bytes",
        not_reduced: "P-256 coordinate not below the field prime",
        not_on_curve: "point is not on P-256",
        invalid: "invalid P-256 point",
    };
    type Hash = Sha256;
    fn generator_table_cell() -> &'static OnceLock<Option<Box<Table<8>>>> {
        static TABLE: OnceLock<Option<Box<Table<8>>>> = OnceLock::new();
        &TABLE
    }
}

/// NIST P-384 (secp384r1), for ES384.
pub struct P384;

impl Curve<12> for P384 {
    /// p = 2³⁸⁴ − 2¹²⁸ − 2⁹⁶ + 2³² − 1.
    const P: &'static Modulus<12> = &Modulus::new(
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    );
    const N: &'static Modulus<12> = &Modulus::new(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    );
    const B: Limbs<12> = limbs_from_hex(
        "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    );
    const GX: Limbs<12> = limbs_from_hex(
        "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
    );
    const GY: Limbs<12> = limbs_from_hex(
        "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
    );
    const ERRORS: KeyErrors = KeyErrors {
        x_length: "P-384 \"x\" must be 48 bytes",
        y_length: "P-384 \"y\" must be 48 bytes",
        not_reduced: "P-384 coordinate not below the field prime",
        not_on_curve: "point is not on P-384",
        invalid: "invalid P-384 point",
    };
    type Hash = Sha384;
    fn generator_table_cell() -> &'static OnceLock<Option<Box<Table<12>>>> {
        static TABLE: OnceLock<Option<Box<Table<12>>>> = OnceLock::new();
        &TABLE
    }
}

/// An ES256 public key.
pub type P256PublicKey = EcdsaPublicKey<P256, 8>;
/// An ES384 public key.
pub type P384PublicKey = EcdsaPublicKey<P384, 12>;

/// An odd modulus m with 2^(32L−1) < m < 2^(32L) and its Montgomery constants (R = 2^(32L)).
pub struct Modulus<const L: usize> {
    m: Limbs<L>,
    /// −m⁻¹ mod 2³².
    m0_inv: u32,
    /// R mod m (1 in Montgomery form).
    one: Limbs<L>,
    /// R² mod m, to enter Montgomery form.
    rr: Limbs<L>,
}

impl<const L: usize> Modulus<L> {
    /// From 8·L big-endian hex digits (only called on the literal constants above).
    const fn new(m_be: &str) -> Modulus<L> {
        let m = limbs_from_hex(m_be);
        // R mod m = R − m because m > R/2.
        let one = sub_raw(&[0; L], &m).0;
        // R² mod m = R · R mod m: 32·L modular doublings of R mod m.
        let mut rr = one;
        let mut i = 0;
        while i < 32 * L {
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

/// The integer `v` < 2³².
const fn small<const L: usize>(v: u32) -> Limbs<L> {
    let mut out = [0u32; L];
    if L > 0 {
        out[0] = v;
    }
    out
}

/// Big-endian hex digits to limbs (only called on the literal constants above; 8·L digits).
const fn limbs_from_hex<const L: usize>(s: &str) -> Limbs<L> {
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
// 32·L-bit arithmetic. Indexing below is into `[u32; L]` with loop counters i < L, in bounds by
// the type; `#[allow(clippy::indexing_slicing)]` is limited to these functions.

/// a + b and the carry out.
#[allow(clippy::indexing_slicing)] // i < L on [u32; L]
const fn add_raw<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> (Limbs<L>, u32) {
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
const fn sub_raw<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> (Limbs<L>, u32) {
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
const fn add_mod<const L: usize>(a: &Limbs<L>, b: &Limbs<L>, m: &Limbs<L>) -> Limbs<L> {
    let (s, carry) = add_raw(a, b);
    let (d, borrow) = sub_raw(&s, m);
    // s < 2m: subtract m when the sum carried out of 32·L bits or is ≥ m.
    if carry != 0 || borrow == 0 {
        d
    } else {
        s
    }
}

/// (a − b) mod m for a, b < m.
fn sub_mod<const L: usize>(a: &Limbs<L>, b: &Limbs<L>, m: &Limbs<L>) -> Limbs<L> {
    let (d, borrow) = sub_raw(a, b);
    if borrow != 0 {
        add_raw(&d, m).0
    } else {
        d
    }
}

fn less_than<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> bool {
    sub_raw(a, b).1 != 0
}

fn is_zero<const L: usize>(a: &Limbs<L>) -> bool {
    a.iter().all(|l| *l == 0)
}

/// Montgomery product a·b·R⁻¹ mod m (CIOS), for a, b < m; the result is < m.
#[allow(clippy::indexing_slicing)] // i, j < L on [u32; L]; j − 1 ≥ 0 since j starts at 1
#[inline(always)]
fn mont_mul<const L: usize>(a: &Limbs<L>, b: &Limbs<L>, md: &Modulus<L>) -> Limbs<L> {
    let m = &md.m;
    let mut t = [0u32; L];
    let mut t_top = 0u32; // limb L of the running sum (it stays below 2m < 2^(32L+1))
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

fn to_mont<const L: usize>(a: &Limbs<L>, md: &Modulus<L>) -> Limbs<L> {
    mont_mul(a, &md.rr, md)
}

#[cfg(test)]
fn from_mont<const L: usize>(a: &Limbs<L>, md: &Modulus<L>) -> Limbs<L> {
    mont_mul(a, &small(1), md)
}

/// a^(m−2) = a⁻¹ mod m (m prime), a in Montgomery form and ≠ 0; result in Montgomery form.
/// Fixed 4-bit windows over the public exponent.
fn invert<const L: usize>(a: &Limbs<L>, md: &Modulus<L>) -> Limbs<L> {
    let exp = sub_raw(&md.m, &small(2)).0;
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

/// Big-endian bytes (exactly 4·L) to limbs; `None` for any other length.
fn limbs_from_be<const L: usize>(bytes: &[u8]) -> Option<Limbs<L>> {
    if bytes.len() != 4 * L {
        return None;
    }
    let mut out = [0u32; L];
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks_exact(4)) {
        *limb = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    }
    Some(out)
}

/// Field operations of curve `C` (every curve has them), values in Montgomery form.
trait FieldOps<const L: usize>: Curve<L> {
    #[inline(always)]
    fn fe(a: &Limbs<L>) -> Limbs<L> {
        to_mont(a, Self::P)
    }
    #[inline(always)]
    fn fmul(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        mont_mul(a, b, Self::P)
    }
    #[inline(always)]
    fn fsqr(a: &Limbs<L>) -> Limbs<L> {
        mont_mul(a, a, Self::P)
    }
    #[inline(always)]
    fn fadd(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        add_mod(a, b, &Self::P.m)
    }
    #[inline(always)]
    fn fsub(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        sub_mod(a, b, &Self::P.m)
    }
}

impl<C: Curve<L>, const L: usize> FieldOps<L> for C {}

// ---------------------------------------------------------------------------------------------
// Points. Coordinates are field elements in Montgomery form.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine<const L: usize> {
    x: Limbs<L>,
    y: Limbs<L>,
}

impl<const L: usize> Affine<L> {
    const ZERO: Affine<L> = Affine {
        x: [0; L],
        y: [0; L],
    };
}

/// (X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
struct Jacobian<const L: usize> {
    x: Limbs<L>,
    y: Limbs<L>,
    z: Limbs<L>,
}

impl<const L: usize> Jacobian<L> {
    const INFINITY: Jacobian<L> = Jacobian {
        x: [0; L],
        y: [0; L],
        z: [0; L],
    };

    fn from_affine<C: Curve<L>>(a: &Affine<L>) -> Jacobian<L> {
        Jacobian {
            x: a.x,
            y: a.y,
            z: C::P.one,
        }
    }

    fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// 2·self with a = −3 ("dbl-2001-b", 3M + 5S). Infinity doubles to infinity (Z3 = 0);
    /// Y = 0 cannot occur (the group has odd order, so no point of order 2).
    fn double<C: Curve<L>>(&self) -> Jacobian<L> {
        let delta = C::fsqr(&self.z);
        let gamma = C::fsqr(&self.y);
        let beta = C::fmul(&self.x, &gamma);
        let t = C::fmul(&C::fsub(&self.x, &delta), &C::fadd(&self.x, &delta));
        let alpha = C::fadd(&C::fadd(&t, &t), &t);
        let beta2 = C::fadd(&beta, &beta);
        let beta4 = C::fadd(&beta2, &beta2);
        let beta8 = C::fadd(&beta4, &beta4);
        let x3 = C::fsub(&C::fsqr(&alpha), &beta8);
        let yz = C::fadd(&self.y, &self.z);
        let z3 = C::fsub(&C::fsub(&C::fsqr(&yz), &gamma), &delta);
        let gamma_sq = C::fsqr(&gamma);
        let g2 = C::fadd(&gamma_sq, &gamma_sq);
        let g4 = C::fadd(&g2, &g2);
        let g8 = C::fadd(&g4, &g4);
        let y3 = C::fsub(&C::fmul(&alpha, &C::fsub(&beta4, &x3)), &g8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q with q affine (8M + 3S). Handles self = infinity, self = q (doubling) and
    /// self = −q (infinity).
    fn add_affine<C: Curve<L>>(&self, q: &Affine<L>) -> Jacobian<L> {
        if self.is_infinity() {
            return Jacobian::from_affine::<C>(q);
        }
        let z1z1 = C::fsqr(&self.z);
        let u2 = C::fmul(&q.x, &z1z1);
        let s2 = C::fmul(&q.y, &C::fmul(&self.z, &z1z1));
        let h = C::fsub(&u2, &self.x);
        let r = C::fsub(&s2, &self.y);
        if is_zero(&h) {
            // Same affine x: either the same point or its negation.
            return if is_zero(&r) {
                self.double::<C>()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = C::fsqr(&h);
        let hhh = C::fmul(&h, &hh);
        let v = C::fmul(&self.x, &hh);
        let x3 = C::fsub(&C::fsub(&C::fsqr(&r), &hhh), &C::fadd(&v, &v));
        let y3 = C::fsub(&C::fmul(&r, &C::fsub(&v, &x3)), &C::fmul(&self.y, &hhh));
        let z3 = C::fmul(&self.z, &h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// Affine forms of `points` with one inversion (Montgomery's trick); `None` if any is infinity.
fn batch_to_affine<C: Curve<L>, const L: usize>(points: &[Jacobian<L>]) -> Option<Vec<Affine<L>>> {
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // prefix[i] = z₀·…·zᵢ
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = C::P.one;
    for p in points {
        acc = C::fmul(&acc, &p.z);
        prefix.push(acc);
    }
    let mut inv = invert(&acc, C::P); // (z₀·…·z_last)⁻¹
    let mut out = vec![Affine::ZERO; points.len()];
    for i in (0..points.len()).rev() {
        let point = points.get(i)?;
        let before = if i == 0 {
            C::P.one
        } else {
            *prefix.get(i - 1)?
        };
        let z_inv = C::fmul(&inv, &before);
        inv = C::fmul(&inv, &point.z);
        let z_inv2 = C::fsqr(&z_inv);
        let z_inv3 = C::fmul(&z_inv2, &z_inv);
        *out.get_mut(i)? = Affine {
            x: C::fmul(&point.x, &z_inv2),
            y: C::fmul(&point.y, &z_inv3),
        };
    }
    Some(out)
}

/// Scalars (32·L bits) are split into L/2 parts of `PART_BITS` bits, read `WINDOW` bits at a
/// time.
const PART_BITS: usize = 64;
const WINDOW: usize = 4;
const MULTIPLES: usize = (1 << WINDOW) - 1;

const fn parts<const L: usize>() -> usize {
    32 * L / PART_BITS
}

/// `parts[k][j − 1]` = j · 2^(64k) · B for j = 1..15, k = 0..L/2−1, affine.
pub struct Table<const L: usize> {
    parts: Box<[[Affine<L>; MULTIPLES]]>,
}

impl<const L: usize> Table<L> {
    fn new<C: Curve<L>>(base: &Affine<L>) -> Option<Box<Table<L>>> {
        let parts_count = parts::<L>();
        let mut points = Vec::with_capacity(parts_count * MULTIPLES);
        let mut part_base = *base;
        for k in 0..parts_count {
            let first = Jacobian::from_affine::<C>(&part_base);
            points.push(first);
            let mut current = first.double::<C>();
            points.push(current);
            for _ in 3..=MULTIPLES {
                current = current.add_affine::<C>(&part_base);
                points.push(current);
            }
            if k + 1 < parts_count {
                let mut next = first;
                for _ in 0..PART_BITS {
                    next = next.double::<C>();
                }
                part_base = *batch_to_affine::<C, L>(&[next])?.first()?;
            }
        }
        let affine = batch_to_affine::<C, L>(&points)?;
        let mut parts = vec![[Affine::ZERO; MULTIPLES]; parts_count].into_boxed_slice();
        for (dst, src) in parts.iter_mut().flatten().zip(affine.iter()) {
            *dst = *src;
        }
        Some(Box::new(Table { parts }))
    }

    fn get(&self, part: usize, digit: u32) -> Option<&Affine<L>> {
        self.parts.get(part)?.get((digit as usize).checked_sub(1)?)
    }
}

/// Window `window` (0 = least significant) of part `part` of a scalar.
fn digit<const L: usize>(scalar: &Limbs<L>, part: usize, window: usize) -> u32 {
    let bit = part * PART_BITS + window * WINDOW;
    scalar
        .get(bit / 32)
        .map_or(0, |limb| (limb >> (bit % 32)) & ((1 << WINDOW) - 1))
}

fn generator<C: Curve<L>, const L: usize>() -> Affine<L> {
    Affine {
        x: C::fe(&C::GX),
        y: C::fe(&C::GY),
    }
}

/// G's table, built on first use per curve (about 60 point operations and one inversion for
/// P-256, about 410 point operations and six inversions for P-384).
fn generator_table<C: Curve<L>, const L: usize>() -> Option<&'static Table<L>> {
    C::generator_table_cell()
        .get_or_init(|| Table::new::<C>(&generator::<C, L>()))
        .as_deref()
}

/// u1·G + u2·Q, with the tables of G and Q.
fn double_mul<C: Curve<L>, const L: usize>(
    u1: &Limbs<L>,
    g: &Table<L>,
    u2: &Limbs<L>,
    q: &Table<L>,
) -> Option<Jacobian<L>> {
    let mut acc = Jacobian::INFINITY;
    for window in (0..PART_BITS / WINDOW).rev() {
        if window + 1 != PART_BITS / WINDOW {
            for _ in 0..WINDOW {
                acc = acc.double::<C>();
            }
        }
        for part in 0..parts::<L>() {
            for (scalar, table) in [(u1, g), (u2, q)] {
                let d = digit(scalar, part, window);
                if d != 0 {
                    acc = acc.add_affine::<C>(table.get(part, d)?);
                }
            }
        }
    }
    Some(acc)
}

/// A validated public key on curve `C` with its precomputed multiples.
pub struct EcdsaPublicKey<C, const L: usize> {
    table: Box<Table<L>>,
    curve: PhantomData<C>,
}

impl<C: Curve<L>, const L: usize> EcdsaPublicKey<C, L> {
    /// From the big-endian affine coordinates (JWK `x`, `y`): each must be 4·L bytes (32 for
    /// P-256, 48 for P-384) and < p, and the point must be on the curve (which also excludes
    /// the point at infinity, which has no affine coordinates; the curve has cofactor 1, so
    /// every such point has order n).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, &'static str> {
        let x: Limbs<L> = limbs_from_be(x).ok_or(C::ERRORS.x_length)?;
        let y: Limbs<L> = limbs_from_be(y).ok_or(C::ERRORS.y_length)?;
        if !less_than(&x, &C::P.m) || !less_than(&y, &C::P.m) {
            return Err(C::ERRORS.not_reduced);
        }
        let point = Affine {
            x: C::fe(&x),
            y: C::fe(&y),
        };
        if !on_curve::<C, L>(&point) {
            return Err(C::ERRORS.not_on_curve);
        }
        let table = Table::new::<C>(&point).ok_or(C::ERRORS.invalid)?;
        Ok(EcdsaPublicKey {
            table,
            curve: PhantomData,
        })
    }

    /// ES256 / ES384: `signature` is r ‖ s (4·L bytes each, big-endian) over the curve's hash
    /// (SHA-256 / SHA-384) of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify_inner(message, signature).unwrap_or(false)
    }

    fn verify_inner(&self, message: &[u8], signature: &[u8]) -> Option<bool> {
        let n = C::N;
        if signature.len() != 8 * L {
            return None;
        }
        let (r_bytes, s_bytes) = signature.split_at_checked(4 * L)?;
        let r: Limbs<L> = limbs_from_be(r_bytes)?;
        let s: Limbs<L> = limbs_from_be(s_bytes)?;
        // r, s ∈ [1, n − 1] (r = s = 0 is CVE-2022-21449).
        if is_zero(&r) || is_zero(&s) || !less_than(&r, &n.m) || !less_than(&s, &n.m) {
            return Some(false);
        }
        let digest = C::Hash::digest(message);
        // e = digest mod n; the digest is < 2^(32L) < 2n, so one subtraction suffices.
        let mut e: Limbs<L> = limbs_from_be(&digest)?;
        if !less_than(&e, &n.m) {
            e = sub_raw(&e, &n.m).0;
        }
        // w = s⁻¹ in Montgomery form; a plain × a Montgomery operand gives a plain product.
        let w = invert(&to_mont(&s, n), n);
        let u1 = mont_mul(&e, &w, n);
        let u2 = mont_mul(&r, &w, n);
        let sum = double_mul::<C, L>(&u1, generator_table::<C, L>()?, &u2, &self.table)?;
        if sum.is_infinity() {
            return Some(false);
        }
        // x(R) = X/Z² < p < 2n, so x(R) mod n = r ⇔ x(R) ∈ {r, r + n} (the latter only if < p).
        let z2 = C::fsqr(&sum.z);
        if C::fmul(&C::fe(&r), &z2) == sum.x {
            return Some(true);
        }
        let (r_plus_n, carry) = add_raw(&r, &n.m);
        if carry == 0 && less_than(&r_plus_n, &C::P.m) && C::fmul(&C::fe(&r_plus_n), &z2) == sum.x {
            return Some(true);
        }
        Some(false)
    }
}

/// y² = x³ − 3x + b.
fn on_curve<C: Curve<L>, const L: usize>(p: &Affine<L>) -> bool {
    let b = C::fe(&C::B);
    let x3 = C::fmul(&C::fsqr(&p.x), &p.x);
    let three_x = C::fadd(&C::fadd(&p.x, &p.x), &p.x);
    let rhs = C::fadd(&C::fsub(&x3, &three_x), &b);
    C::fsqr(&p.y) == rhs
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
    use rand_core::{OsRng, RngCore};

    fn to_be<const L: usize>(a: &Limbs<L>) -> Vec<u8> {
        let mut out = vec![0u8; 4 * L];
        for (chunk, limb) in out.rchunks_exact_mut(4).zip(a.iter()) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    fn random_below<const L: usize>(m: &Limbs<L>) -> Limbs<L> {
        loop {
            let mut bytes = vec![0u8; 4 * L];
            OsRng.fill_bytes(&mut bytes);
            // Mix in edge values now and then.
            match OsRng.next_u32() % 8 {
                0 => bytes.fill(0xff),
                1 => bytes.fill(0),
                _ => {}
            }
            let a = limbs_from_be(&bytes).unwrap();
            if less_than(&a, m) {
                return a;
            }
            if OsRng.next_u32().is_multiple_of(2) {
                return sub_raw(m, &small(1)).0; // m − 1
            }
        }
    }

    fn affine_of<C: Curve<L>, const L: usize>(j: &Jacobian<L>) -> Option<Affine<L>> {
        batch_to_affine::<C, L>(&[*j]).map(|v| v[0])
    }

    #[test]
    fn limb_constants_match_the_previous_p256_literals() {
        // The P-256 constants used to be written as limb arrays; the hex form is the same value.
        assert_eq!(
            P256::P.m,
            [
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0,
                0,
                0,
                1,
                0xFFFF_FFFF
            ]
        );
        assert_eq!(
            P256::N.m,
            [
                0xFC63_2551,
                0xF3B9_CAC2,
                0xA717_9E84,
                0xBCE6_FAAD,
                0xFFFF_FFFF,
                0xFFFF_FFFF,
                0,
                0xFFFF_FFFF
            ]
        );
    }

    #[test]
    fn each_curve_has_its_own_generator_table() {
        let t256 = generator_table::<P256, 8>().unwrap();
        let t384 = generator_table::<P384, 12>().unwrap();
        assert_eq!(t256.parts.len(), 4);
        assert_eq!(t384.parts.len(), 6);
        assert_eq!(t256.get(0, 1), Some(&generator::<P256, 8>()));
        assert_eq!(t384.get(0, 1), Some(&generator::<P384, 12>()));
    }

    /// The same tests for each curve, against the RustCrypto crate of that curve.
    macro_rules! curve_tests {
        ($module:ident, $curve:ty, $limbs:literal, $krate:ident, $p_hex:literal, $n_hex:literal) => {
            mod $module {
                use super::*;
                use $krate::elliptic_curve::ff::PrimeField;
                use $krate::elliptic_curve::sec1::ToEncodedPoint;

                type C = $curve;
                const L: usize = $limbs;
                const BYTES: usize = 4 * L;
                type Key = EcdsaPublicKey<C, L>;

                fn fe(a: &Limbs<L>) -> Limbs<L> {
                    C::fe(a)
                }

                fn ref_fe(a: &Limbs<L>) -> $krate::FieldElement {
                    let bytes: [u8; BYTES] = to_be(a).try_into().unwrap();
                    $krate::FieldElement::from_bytes(&bytes.into()).unwrap()
                }

                fn ref_scalar(a: &Limbs<L>) -> $krate::Scalar {
                    let bytes: [u8; BYTES] = to_be(a).try_into().unwrap();
                    $krate::Scalar::from_repr(bytes.into()).unwrap()
                }

                fn to_be_ref(x: $krate::FieldElement) -> Vec<u8> {
                    x.to_bytes().to_vec()
                }

                fn reference_point(scalar: &Limbs<L>) -> Option<Affine<L>> {
                    let k = ref_scalar(scalar);
                    let p = ($krate::ProjectivePoint::GENERATOR * k).to_affine();
                    let enc = p.to_encoded_point(false);
                    let (x, y) = (enc.x()?, enc.y()?);
                    Some(Affine {
                        x: fe(&limbs_from_be(x)?),
                        y: fe(&limbs_from_be(y)?),
                    })
                }

                #[test]
                fn constants() {
                    let (p, n) = (C::P, C::N);
                    assert_eq!(p.m0_inv, 1);
                    assert_eq!(n.m0_inv.wrapping_mul(n.m[0]), u32::MAX); // −1 mod 2³²
                                                                         // R² mod m in Montgomery form is R mod m.
                    assert_eq!(to_mont(&small(1), p), p.one);
                    assert_eq!(to_mont(&small(1), n), n.one);
                    assert!(on_curve::<C, L>(&generator::<C, L>()));
                    assert_eq!(hex::encode(to_be(&p.m)), $p_hex);
                    assert_eq!(hex::encode(to_be(&n.m)), $n_hex);
                }

                #[test]
                fn field_ops_match_reference() {
                    let p = C::P;
                    for _ in 0..3000 {
                        let a = random_below(&p.m);
                        let b = random_below(&p.m);
                        let (ra, rb) = (ref_fe(&a), ref_fe(&b));
                        assert_eq!(to_be(&add_mod(&a, &b, &p.m)), to_be_ref(ra + rb));
                        assert_eq!(to_be(&sub_mod(&a, &b, &p.m)), to_be_ref(ra - rb));
                        let prod = from_mont(&C::fmul(&fe(&a), &fe(&b)), p);
                        assert_eq!(to_be(&prod), to_be_ref(ra * rb));
                        assert_eq!(from_mont(&fe(&a), p), a);
                        if !is_zero(&a) {
                            let inv = from_mont(&invert(&fe(&a), p), p);
                            assert_eq!(to_be(&inv), to_be_ref(ra.invert().unwrap()));
                        }
                    }
                }

                #[test]
                fn scalar_ops_match_reference() {
                    let n = C::N;
                    for _ in 0..2000 {
                        let a = random_below(&n.m);
                        let b = random_below(&n.m);
                        let (ra, rb) = (ref_scalar(&a), ref_scalar(&b));
                        assert_eq!(to_be(&add_mod(&a, &b, &n.m)), (ra + rb).to_repr().to_vec());
                        assert_eq!(to_be(&sub_mod(&a, &b, &n.m)), (ra - rb).to_repr().to_vec());
                        assert_eq!(
                            to_be(&mont_mul(&a, &to_mont(&b, n), n)),
                            (ra * rb).to_repr().to_vec()
                        );
                        if !is_zero(&a) {
                            let inv = ra.invert().unwrap().to_repr().to_vec();
                            let ours = mont_mul(&invert(&to_mont(&a, n), n), &small(1), n);
                            assert_eq!(to_be(&ours), inv);
                        }
                    }
                }

                #[test]
                fn group_law_edge_cases() {
                    let g = generator::<C, L>();
                    let gj = Jacobian::from_affine::<C>(&g);
                    // G + G through the addition falls back to doubling.
                    let two_g = affine_of::<C, L>(&gj.add_affine::<C>(&g)).unwrap();
                    assert_eq!(two_g, affine_of::<C, L>(&gj.double::<C>()).unwrap());
                    assert_eq!(Some(two_g), reference_point(&small(2)));
                    // G + (−G) = infinity.
                    let neg_g = Affine {
                        x: g.x,
                        y: C::fsub(&[0; L], &g.y),
                    };
                    assert!(gj.add_affine::<C>(&neg_g).is_infinity());
                    // Infinity + G = G; 2·infinity = infinity.
                    let infinity = Jacobian::<L>::INFINITY;
                    assert_eq!(affine_of::<C, L>(&infinity.add_affine::<C>(&g)).unwrap(), g);
                    assert!(infinity.double::<C>().is_infinity());
                    // The same point in a non-trivial Jacobian form (Z ≠ 1) plus itself.
                    let three_g = gj.double::<C>().add_affine::<C>(&g);
                    let three_aff = affine_of::<C, L>(&three_g).unwrap();
                    assert_eq!(Some(three_aff), reference_point(&small(3)));
                    assert_eq!(
                        affine_of::<C, L>(&three_g.add_affine::<C>(&three_aff)),
                        reference_point(&small(6))
                    );
                }

                #[test]
                fn double_mul_matches_reference() {
                    let n = C::N;
                    let table = generator_table::<C, L>().unwrap();
                    let zero = [0u32; L];
                    for i in 0..200 {
                        let (u1, u2) = (random_below(&n.m), random_below(&n.m));
                        let u2 = if i == 0 { zero } else { u2 };
                        // u1·G + u2·G = (u1 + u2)·G
                        let sum = double_mul::<C, L>(&u1, table, &u2, table).unwrap();
                        let k = add_mod(&u1, &u2, &n.m);
                        if is_zero(&k) {
                            assert!(sum.is_infinity());
                        } else {
                            assert_eq!(affine_of::<C, L>(&sum), reference_point(&k));
                        }
                    }
                    // u1 = n − u2 gives infinity.
                    let u2 = random_below(&n.m);
                    let u1 = sub_mod(&[0; L], &u2, &n.m);
                    assert!(double_mul::<C, L>(&u1, table, &u2, table)
                        .unwrap()
                        .is_infinity());
                    assert!(double_mul::<C, L>(&zero, table, &zero, table)
                        .unwrap()
                        .is_infinity());
                }

                #[test]
                fn rejects_bad_keys() {
                    let g = generator::<C, L>();
                    let g = (to_be(&from_mont(&g.x, C::P)), to_be(&from_mont(&g.y, C::P)));
                    assert!(Key::from_coordinates(&g.0, &g.1).is_ok());
                    let mut bad_y = g.1.clone();
                    bad_y[BYTES - 1] ^= 1;
                    assert!(Key::from_coordinates(&g.0, &bad_y).is_err());
                    assert!(Key::from_coordinates(&[0; BYTES], &[0; BYTES]).is_err());
                    assert!(Key::from_coordinates(&g.0[1..], &g.1).is_err());
                    assert!(Key::from_coordinates(&g.0, &g.1[1..]).is_err());
                    // x + p (not reduced) is refused even though it is the same field element,
                    // if < 2^(32L).
                    assert!(Key::from_coordinates(&[0xff; BYTES], &g.1).is_err());
                }

                #[test]
                fn verifies_and_rejects() {
                    use $krate::ecdsa::signature::Signer;
                    let sk = $krate::ecdsa::SigningKey::random(&mut OsRng);
                    let enc = sk.verifying_key().to_encoded_point(false);
                    let key = Key::from_coordinates(enc.x().unwrap(), enc.y().unwrap()).unwrap();
                    let sig: $krate::ecdsa::Signature = sk.sign(b"hello");
                    let bytes = sig.to_bytes();
                    assert!(key.verify(b"hello", &bytes));
                    assert!(!key.verify(b"hellp", &bytes));
                    assert!(!key.verify(b"hello", &bytes[..2 * BYTES - 1]));
                    assert!(!key.verify(b"hello", &[0u8; 2 * BYTES]));
                    // r or s replaced by n, or r + n: out of range.
                    let n = to_be(&C::N.m);
                    let mut with_n = bytes;
                    with_n[BYTES..].copy_from_slice(&n);
                    assert!(!key.verify(b"hello", &with_n));
                    let mut with_n = bytes;
                    with_n[..BYTES].copy_from_slice(&n);
                    assert!(!key.verify(b"hello", &with_n));
                }
            }
        };
    }

    curve_tests!(
        on_p256,
        P256,
        8,
        p256,
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
    );
    curve_tests!(
        on_p384,
        P384,
        12,
        p384,
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"
    );
}
