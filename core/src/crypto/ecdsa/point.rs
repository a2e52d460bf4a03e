//! Curve points: affine and Jacobian coordinates, the a = −3 doubling and the mixed
//! (Jacobian + affine) addition. Coordinates are field elements in Montgomery form.
//!
//! These formulas are not complete: the addition handles its exceptional cases (either input
//! at infinity, P + P, P + (−P)) by explicit branches, which is sound here because every input
//! is public and every branch is covered by tests.

use super::curve::Curve;
use super::field::Limbs;
use crate::crypto::limbs::is_zero;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine<const L: usize> {
    pub(crate) x: Limbs<L>,
    pub(crate) y: Limbs<L>,
}

impl<const L: usize> Affine<L> {
    pub(crate) const ZERO: Affine<L> = Affine {
        x: [0; L],
        y: [0; L],
    };
}

/// The field operations for the code that runs when a key is parsed or G's table is built (the
/// curve check, the affine forms of the tables) and for the few products of a signature check
/// outside its loops: the same values as `C::fe` and `C::fmul`, but called rather than inlined
/// (`Curve::fe_outlined`, `Curve::fmul_outlined`; for a Montgomery curve, the one copy of
/// `Modulus::mul_outlined` per limb count, which p and n share). Each inlined product is the
/// whole unrolled limb loop (1–2 KiB of code), and those functions would carry dozens of them;
/// the loops of a signature check (`Jacobian::double`, `add_affine`, `Modulus::invert`), where
/// the products are, still inline them.
pub(crate) fn fe_outlined<C: Curve<L>, const L: usize>(a: &Limbs<L>) -> Limbs<L> {
    C::fe_outlined(a)
}

pub(crate) fn fmul_outlined<C: Curve<L>, const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
    C::fmul_outlined(a, b)
}

/// The base point G.
pub(crate) fn generator<C: Curve<L>, const L: usize>() -> Affine<L> {
    Affine {
        x: fe_outlined::<C, L>(&C::GX),
        y: fe_outlined::<C, L>(&C::GY),
    }
}

#[inline(never)]
fn fadd_outlined<C: Curve<L>, const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
    C::fadd(a, b)
}

/// y² = x³ − 3x + b (at key parsing: out-of-line field operations).
pub(crate) fn on_curve<C: Curve<L>, const L: usize>(p: &Affine<L>) -> bool {
    let b = fe_outlined::<C, L>(&C::B);
    let x3 = fmul_outlined::<C, L>(&fmul_outlined::<C, L>(&p.x, &p.x), &p.x);
    let three_x = fadd_outlined::<C, L>(&fadd_outlined::<C, L>(&p.x, &p.x), &p.x);
    let rhs = fadd_outlined::<C, L>(&C::fsub(&x3, &three_x), &b);
    fmul_outlined::<C, L>(&p.y, &p.y) == rhs
}

/// (X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jacobian<const L: usize> {
    pub(crate) x: Limbs<L>,
    pub(crate) y: Limbs<L>,
    pub(crate) z: Limbs<L>,
}

impl<const L: usize> Jacobian<L> {
    pub(crate) const INFINITY: Jacobian<L> = Jacobian {
        x: [0; L],
        y: [0; L],
        z: [0; L],
    };

    pub(crate) fn from_affine<C: Curve<L>>(a: &Affine<L>) -> Jacobian<L> {
        Jacobian {
            x: a.x,
            y: a.y,
            z: C::fone(),
        }
    }

    pub(crate) fn is_infinity(&self) -> bool {
        is_zero(&self.z)
    }

    /// 2·self with a = −3: "dbl-2001-b" of the Explicit-Formulas Database
    /// (hyperelliptic.org/EFD/g1p/auto-shortw-jacobian-3.html), 3M + 5S. Infinity doubles to
    /// infinity (Z3 = 0); Y = 0 cannot occur (the group has odd order, so no point of order 2).
    pub(crate) fn double<C: Curve<L>>(&self) -> Jacobian<L> {
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

    /// self + q with q affine (mixed addition, 8M + 3S). Handles self = infinity, self = q
    /// (falls back to doubling) and self = −q (gives infinity).
    pub(crate) fn add_affine<C: Curve<L>>(&self, q: &Affine<L>) -> Jacobian<L> {
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

/// Affine forms of `points` with one inversion (Montgomery's trick: invert the product of
/// all Z, then peel off one factor per point); `None` if any is infinity. Only when tables are built:
/// out-of-line field products.
pub(crate) fn batch_to_affine<C: Curve<L>, const L: usize>(
    points: &[Jacobian<L>],
) -> Option<Vec<Affine<L>>> {
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // prefix[i] = z₀·…·zᵢ
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = C::fone();
    for p in points {
        acc = fmul_outlined::<C, L>(&acc, &p.z);
        prefix.push(acc);
    }
    let mut inv = C::finv(&acc); // (z₀·…·z_last)⁻¹
    let mut out = vec![Affine::ZERO; points.len()];
    for i in (0..points.len()).rev() {
        let point = points.get(i)?;
        let before = if i == 0 {
            C::fone()
        } else {
            *prefix.get(i - 1)?
        };
        let z_inv = fmul_outlined::<C, L>(&inv, &before);
        inv = fmul_outlined::<C, L>(&inv, &point.z);
        let z_inv2 = fmul_outlined::<C, L>(&z_inv, &z_inv);
        let z_inv3 = fmul_outlined::<C, L>(&z_inv2, &z_inv);
        *out.get_mut(i)? = Affine {
            x: fmul_outlined::<C, L>(&point.x, &z_inv2),
            y: fmul_outlined::<C, L>(&point.y, &z_inv3),
        };
    }
    Some(out)
}
