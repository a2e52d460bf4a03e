//! The curves: short Weierstrass y² = x³ − 3x + b over F_p with a base point G of prime order
//! n and cofactor 1 (FIPS 186-5 / SP 800-186 §3.2.1; SEC 2 §2.4), with their field operations.

use super::field::{limbs_from_hex, Limbs, Modulus};
use sha2::{Digest, Sha256, Sha384};

/// A curve whose p and n both have exactly 32·L bits and whose JWS hash output is 4·L bytes
/// (the size of a field element and of a scalar).
pub trait Curve<const L: usize>: 'static {
    /// The name JWK `crv` uses (RFC 7518 §6.2.1.1).
    const NAME: &'static str;
    /// The field prime p.
    const P: &'static Modulus<L>;
    /// n, the order of the base point (the curve's order: cofactor 1).
    const N: &'static Modulus<L>;
    /// The curve's b (y² = x³ − 3x + b).
    const B: Limbs<L>;
    /// The base point G.
    const GX: Limbs<L>;
    const GY: Limbs<L>;
    /// The JWS hash of the curve (SHA-256 for ES256, SHA-384 for ES384; RFC 7518 §3.4).
    type Hash: Digest;

    /// Field element a (< p) into Montgomery form.
    #[inline(always)]
    fn fe(a: &Limbs<L>) -> Limbs<L> {
        Self::P.to_mont(a)
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
