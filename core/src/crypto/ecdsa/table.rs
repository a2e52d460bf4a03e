//! Precomputed multiples of a base point and the double-scalar multiplication u1·G + u2·Q that
//! ECDSA verification needs (FIPS 186-5 §6.4.2 step 5).
//!
//! Each scalar (32·L bits) is cut into ⌈L/2⌉ parts of 64 bits, and for each base B the affine
//! multiples j·2^(64k)·B (j = 1..15, k = 0..⌈L/2⌉−1) are precomputed: 3.75 KiB per base for
//! P-256, 8.4 KiB for P-384, 18 KiB for P-521. G's table is built once per process and curve, Q's when the key is
//! parsed. `u1·G + u2·Q` is then one loop of 60 doublings and at most 16·L mixed additions
//! (128 for P-256, 192 for P-384, 288 for P-521, whose
//! last part holds only 9 bits), the doublings shared by all parts of both scalars (a comb
//! over 4-bit windows, interleaved for the two bases).

use super::curve::{Curve, P256, P384, P521};
use super::field::Limbs;
use super::point::{batch_to_affine, generator, Affine, Jacobian};
use std::sync::OnceLock;

/// Bits per scalar part, and bits per window within a part.
const PART_BITS: usize = 64;
const WINDOW: usize = 4;
const MULTIPLES: usize = (1 << WINDOW) - 1;

/// Parts of a scalar of 32·L bits, the last one partial for P-521 (544 bits in 9 parts of 64).
const fn parts<const L: usize>() -> usize {
    (32 * L).div_ceil(PART_BITS)
}

/// `parts[k][j − 1]` = j · 2^(64k) · B for j = 1..15, k = 0..⌈L/2⌉−1, affine.
pub struct Table<const L: usize> {
    pub(crate) parts: Box<[[Affine<L>; MULTIPLES]]>,
}

impl<const L: usize> Table<L> {
    /// The table of `base`, a point on the curve other than infinity; `None` if a multiple
    /// reaches infinity, which cannot happen for a point of prime order n > 2^(32L−1).
    pub(crate) fn new<C: Curve<L>>(base: &Affine<L>) -> Option<Box<Table<L>>> {
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

    pub(crate) fn get(&self, part: usize, digit: u32) -> Option<&Affine<L>> {
        self.parts.get(part)?.get((digit as usize).checked_sub(1)?)
    }
}

/// A curve with a process-wide table of its generator.
pub trait FixedBase<const L: usize>: Curve<L> {
    /// G's table, built on first use (about 60 point operations and one inversion for P-256,
    /// about 410 point operations and six inversions for P-384).
    fn generator_table() -> Option<&'static Table<L>>;
}

/// One `static` per curve: a `static` inside a generic function would be a single cell shared
/// by every instantiation.
macro_rules! fixed_base {
    ($curve:ty, $limbs:literal) => {
        impl FixedBase<$limbs> for $curve {
            fn generator_table() -> Option<&'static Table<$limbs>> {
                static TABLE: OnceLock<Option<Box<Table<$limbs>>>> = OnceLock::new();
                TABLE
                    .get_or_init(|| Table::new::<$curve>(&generator::<$curve, $limbs>()))
                    .as_deref()
            }
        }
    };
}

fixed_base!(P256, 8);
fixed_base!(P384, 12);
fixed_base!(P521, 17);

/// Window `window` (0 = least significant) of part `part` of a scalar.
fn digit<const L: usize>(scalar: &Limbs<L>, part: usize, window: usize) -> u32 {
    let bit = part * PART_BITS + window * WINDOW;
    scalar
        .get(bit / 32)
        .map_or(0, |limb| (limb >> (bit % 32)) & ((1 << WINDOW) - 1))
}

/// u1·G + u2·Q from the tables of G and Q (Jacobian; infinity when the sum is).
pub(crate) fn double_mul<C: Curve<L>, const L: usize>(
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
