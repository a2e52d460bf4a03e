//! The curves: short Weierstrass y² = x³ − 3x + b over F_p with a base point G of prime order
//! n and cofactor 1 (FIPS 186-5 / SP 800-186 §3.2.1; SEC 2 §2.4), with their field operations.

use super::field::{limbs_from_hex, Limbs, Modulus};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A curve whose p and n fit in L 32-bit limbs, both of `BYTES` bytes, and whose JWS hash
/// output has at most as many bits as n (so a digest is below 2n: one subtraction reduces it).
pub trait Curve<const L: usize>: 'static {
    /// The name JWK `crv` uses (RFC 7518 §6.2.1.1).
    const NAME: &'static str;
    /// Bytes of a coordinate, and of r and s in a JWS signature (RFC 7518 §3.4, §6.2.1.2):
    /// 32 for P-256, 48 for P-384, 66 for P-521.
    const BYTES: usize = 4 * L;
    /// The field prime p.
    const P: &'static Modulus<L>;
    /// n, the order of the base point (the curve's order: cofactor 1).
    const N: &'static Modulus<L>;
    /// The curve's b (y² = x³ − 3x + b).
    const B: Limbs<L>;
    /// The base point G.
    const GX: Limbs<L>;
    const GY: Limbs<L>;
    /// The JWS hash of the curve (SHA-256 for ES256, SHA-384 for ES384, SHA-512 for ES512;
    /// RFC 7518 §3.4).
    type Hash: Digest;

    /// Field element a (< p) into the curve's working form (Montgomery form unless the curve
    /// has a faster reduction of its own, as P-521 does).
    #[inline(always)]
    fn fe(a: &Limbs<L>) -> Limbs<L> {
        Self::P.to_mont(a)
    }
    /// `fe` and `fmul`, called rather than inlined (see `point::fmul_outlined`); for a
    /// Montgomery curve, the one copy of the product per limb count that p and n share.
    fn fe_outlined(a: &Limbs<L>) -> Limbs<L> {
        Self::P.to_mont_outlined(a)
    }
    fn fmul_outlined(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        Self::P.mul_outlined(a, b)
    }
    /// 1 in the working form.
    #[inline(always)]
    fn fone() -> Limbs<L> {
        Self::P.one
    }
    /// a⁻¹ for a ≠ 0, in the working form.
    #[inline(always)]
    fn finv(a: &Limbs<L>) -> Limbs<L> {
        Self::P.invert(a)
    }
    #[inline(always)]
    fn fmul(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        Self::P.mul(a, b)
    }
    #[inline(always)]
    fn fsqr(a: &Limbs<L>) -> Limbs<L> {
        Self::P.mul(a, a)
    }
    #[inline(always)]
    fn fadd(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        Self::P.add(a, b)
    }
    #[inline(always)]
    fn fsub(a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        Self::P.sub(a, b)
    }
}

/// NIST P-256 (secp256r1), for ES256.
pub struct P256;

impl Curve<8> for P256 {
    const NAME: &'static str = "P-256";
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
    type Hash = Sha256;
}

/// NIST P-384 (secp384r1), for ES384.
pub struct P384;

impl Curve<12> for P384 {
    const NAME: &'static str = "P-384";
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
    type Hash = Sha384;
}

/// NIST P-521 (secp521r1), for ES512: 521-bit p and n in 17 limbs (the top limb holds 9 bits).
/// p = 2⁵²¹ − 1 is a Mersenne prime, so field elements stay in plain form and a product is
/// reduced by one addition of its high half to its low half (2⁵²¹ ≡ 1), about half the work of
/// a Montgomery product; scalars (mod n) use the generic Montgomery arithmetic.
pub struct P521;

impl Curve<17> for P521 {
    const NAME: &'static str = "P-521";
    const BYTES: usize = 66;
    const P: &'static Modulus<17> = &Modulus::new(
        "1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    );
    const N: &'static Modulus<17> = &Modulus::new(
        "1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    );
    const B: Limbs<17> = limbs_from_hex(
        "051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
    );
    const GX: Limbs<17> = limbs_from_hex(
        "0c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66",
    );
    const GY: Limbs<17> = limbs_from_hex(
        "11839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650",
    );
    type Hash = Sha512;

    #[inline(always)]
    fn fe(a: &Limbs<17>) -> Limbs<17> {
        *a
    }
    #[inline(always)]
    fn fone() -> Limbs<17> {
        let mut one = [0; 17];
        one[0] = 1;
        one
    }
    #[inline(always)]
    fn fmul(a: &Limbs<17>, b: &Limbs<17>) -> Limbs<17> {
        mersenne521::mul(a, b)
    }
    fn fe_outlined(a: &Limbs<17>) -> Limbs<17> {
        *a
    }
    #[inline(never)]
    fn fmul_outlined(a: &Limbs<17>, b: &Limbs<17>) -> Limbs<17> {
        mersenne521::mul(a, b)
    }
    /// A call to the one copy of the product (`fmul_outlined`), not an inlined one: 8 inlined
    /// P-521 squarings (in `double` and `add_affine`) were ~12 KiB of the wasm filter, which
    /// must stay under 1 MiB. The cost, a call per squaring, falls on ES512 checks only
    /// (~1,100 of their ~4,300 products: an estimated ~0.5% of a check, not measured).
    #[inline(always)]
    fn fsqr(a: &Limbs<17>) -> Limbs<17> {
        Self::fmul_outlined(a, a)
    }
    fn finv(a: &Limbs<17>) -> Limbs<17> {
        // a^(p − 2), p − 2 = 2⁵²¹ − 3: every bit set except bit 1, squares and multiplies.
        // Only when a table is built (a signature check inverts mod n): called products.
        let mut acc = a.to_owned();
        for bit in (0..520).rev() {
            acc = Self::fmul_outlined(&acc, &acc);
            if bit != 1 {
                acc = Self::fmul_outlined(&acc, a);
            }
        }
        acc
    }
}

/// Arithmetic modulo 2⁵²¹ − 1 on 17 little-endian 32-bit limbs, inputs and results < p.
mod mersenne521 {
    use crate::crypto::limbs;

    const P: [u32; 17] = {
        let mut p = [u32::MAX; 17];
        p[16] = 0x1ff;
        p
    };

    /// a·b mod p: the 1042-bit schoolbook product t, then (t mod 2⁵²¹) + (t >> 521) < 2p, then
    /// one conditional subtraction.
    #[allow(clippy::indexing_slicing)] // i, j < 17, i + j + 1 < 34
    #[inline(always)]
    pub(super) fn mul(a: &[u32; 17], b: &[u32; 17]) -> [u32; 17] {
        let mut t = [0u32; 34];
        for i in 0..17 {
            let ai = u64::from(a[i]);
            let mut carry = 0u64;
            for j in 0..17 {
                let s = u64::from(t[i + j]) + ai * u64::from(b[j]) + carry;
                t[i + j] = s as u32;
                carry = s >> 32;
            }
            t[i + 17] = carry as u32;
        }
        let mut low = [0u32; 17];
        low.copy_from_slice(&t[..17]);
        low[16] &= 0x1ff;
        let mut high = [0u32; 17];
        for k in 0..17 {
            high[k] = (t[16 + k] >> 9) | (t[17 + k] << 23);
        }
        limbs::add_assign(&mut low, &high);
        if !limbs::less_than(&low, &P) {
            limbs::sub_assign(&mut low, &P);
        }
        low
    }
}
