//! ECDSA public keys: validation of the JWK coordinates (SEC 1 v2 §3.2.2) and signature
//! verification (FIPS 186-5 §6.4.2) of JWS r ‖ s signatures (RFC 7518 §3.4).

use super::field::{limbs_from_be_exact, Limbs};
use super::point::{fe_outlined, fmul_outlined, on_curve, Affine};
use super::table::{double_mul, FixedBase, Table};
use crate::crypto::limbs::{self, is_zero, less_than};
use sha2::Digest;
use std::fmt;
use std::marker::PhantomData;

/// Why a pair of coordinates is not a usable public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcKeyError {
    /// A coordinate is not exactly the field size in bytes (RFC 7518 §6.2.1.2).
    CoordinateLength {
        curve: &'static str,
        coordinate: &'static str,
        bytes: usize,
    },
    /// A coordinate is ≥ p.
    NotReduced { curve: &'static str },
    /// The point does not satisfy the curve equation.
    NotOnCurve { curve: &'static str },
    /// The point's multiples could not be precomputed (not a point of order n).
    Invalid { curve: &'static str },
}

impl fmt::Display for EcKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EcKeyError::CoordinateLength {
                curve,
                coordinate,
                bytes,
            } => write!(f, "{curve} \"{coordinate}\" must be {bytes} bytes"),
            EcKeyError::NotReduced { curve } => {
                write!(f, "{curve} coordinate not below the field prime")
            }
            EcKeyError::NotOnCurve { curve } => write!(f, "point is not on {curve}"),
            EcKeyError::Invalid { curve } => write!(f, "invalid {curve} point"),
        }
    }
}

impl std::error::Error for EcKeyError {}

/// A validated public key on curve `C` with its precomputed multiples.
pub struct EcdsaPublicKey<C, const L: usize> {
    table: Box<Table<L>>,
    curve: PhantomData<C>,
}

impl<C: FixedBase<L>, const L: usize> EcdsaPublicKey<C, L> {
    /// From the big-endian affine coordinates (JWK `x`, `y`): each must be `C::BYTES` bytes
    /// (32 for P-256, 48 for P-384, 66 for P-521) and < p, and the point must be on the curve. That also excludes
    /// the point at infinity, which has no affine coordinates; with cofactor 1 every other
    /// point has order n (SEC 1 §3.2.2.1 step 4 holds without a scalar multiplication).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, EcKeyError> {
        let length = |coordinate| EcKeyError::CoordinateLength {
            curve: C::NAME,
            coordinate,
            bytes: C::BYTES,
        };
        let x: Limbs<L> = limbs_from_be_exact(x, C::BYTES).ok_or(length("x"))?;
        let y: Limbs<L> = limbs_from_be_exact(y, C::BYTES).ok_or(length("y"))?;
        if !less_than(&x, &C::P.m) || !less_than(&y, &C::P.m) {
            return Err(EcKeyError::NotReduced { curve: C::NAME });
        }
        let point = Affine {
            x: fe_outlined::<C, L>(&x),
            y: fe_outlined::<C, L>(&y),
        };
        if !on_curve::<C, L>(&point) {
            return Err(EcKeyError::NotOnCurve { curve: C::NAME });
        }
        let table = Table::new::<C>(&point).ok_or(EcKeyError::Invalid { curve: C::NAME })?;
        Ok(EcdsaPublicKey {
            table,
            curve: PhantomData,
        })
    }

    /// ES256 / ES384 / ES512: `signature` is r ‖ s (`C::BYTES` each, big-endian) over the
    /// curve's hash (SHA-256 / SHA-384 / SHA-512) of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify_inner(message, signature).unwrap_or(false)
    }

    /// FIPS 186-5 §6.4.2, with the final comparison done without leaving Jacobian form.
    /// A wrong computation can only make a signature fail, never pass: the result is compared
    /// with r, which the signer cannot choose after the fact.
    fn verify_inner(&self, message: &[u8], signature: &[u8]) -> Option<bool> {
        let n = C::N;
        if signature.len() != 2 * C::BYTES {
            return None;
        }
        let (r_bytes, s_bytes) = signature.split_at_checked(C::BYTES)?;
        let r: Limbs<L> = limbs_from_be_exact(r_bytes, C::BYTES)?;
        let s: Limbs<L> = limbs_from_be_exact(s_bytes, C::BYTES)?;
        // Step 1: r, s ∈ [1, n − 1] (r = s = 0 is CVE-2022-21449).
        if is_zero(&r) || is_zero(&s) || !less_than(&r, &n.m) || !less_than(&s, &n.m) {
            return Some(false);
        }
        // Steps 2–3: e = digest mod n. The digest has no more bits than n (256/256, 384/384,
        // 512/521), so it is whole (no truncation) and < 2n: one subtraction suffices.
        let digest = C::Hash::digest(message);
        let mut e: Limbs<L> = [0; L];
        if !limbs::from_be_bytes(&mut e, &digest) {
            return None;
        }
        if !less_than(&e, &n.m) {
            limbs::sub_assign(&mut e, &n.m);
        }
        // Step 4: w = s⁻¹ in Montgomery form; a plain × a Montgomery operand gives a plain
        // product, so u1 and u2 come out plain. The products outside the loops of `invert` and
        // `double_mul` (8 of ~2,200 for P-256 to ~4,300 for P-521) call one shared copy.
        let w = n.invert(&n.to_mont_outlined(&s));
        let u1 = n.mul_outlined(&e, &w);
        let u2 = n.mul_outlined(&r, &w);
        // Step 5: R = u1·G + u2·Q; infinity is a rejection.
        let sum = double_mul::<C, L>(&u1, C::generator_table()?, &u2, &self.table)?;
        if sum.is_infinity() {
            return Some(false);
        }
        // Steps 6–7: x(R) = X/Z² < p < 2n, so x(R) mod n = r ⇔ x(R) ∈ {r, r + n} (the latter
        // only if < p), i.e. X = r·Z² or X = (r + n)·Z²: no inversion needed.
        let z2 = fmul_outlined::<C, L>(&sum.z, &sum.z);
        if fmul_outlined::<C, L>(&fe_outlined::<C, L>(&r), &z2) == sum.x {
            return Some(true);
        }
        let mut r_plus_n = r;
        let carry = limbs::add_assign(&mut r_plus_n, &n.m);
        if carry == 0
            && less_than(&r_plus_n, &C::P.m)
            && fmul_outlined::<C, L>(&fe_outlined::<C, L>(&r_plus_n), &z2) == sum.x
        {
            return Some(true);
        }
        Some(false)
    }
}
