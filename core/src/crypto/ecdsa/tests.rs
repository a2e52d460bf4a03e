//! The ECDSA internals against the RustCrypto crate of each curve: field and scalar
//! arithmetic, the group law's exceptional cases, the double-scalar multiplication, keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::curve::{Curve, P256, P384, P521};
use super::field::{limbs_from_be, small, Limbs};
use super::key::{EcKeyError, EcdsaPublicKey};
use super::point::{batch_to_affine, generator, on_curve, Affine, Jacobian};
use super::table::{double_mul, FixedBase};
use crate::crypto::limbs::{self, is_zero, less_than};
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
            let mut m_minus_1 = *m;
            limbs::sub_assign(&mut m_minus_1, &small::<L>(1));
            return m_minus_1;
        }
    }
}

fn affine_of<C: Curve<L>, const L: usize>(j: &Jacobian<L>) -> Option<Affine<L>> {
    batch_to_affine::<C, L>(&[*j]).map(|v| v[0])
}

#[test]
fn p256_constants_have_the_expected_limbs() {
    // The hex constants become little-endian 32-bit limbs (p and n as in FIPS 186-5 D.1.2.3).
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
    let t256 = P256::generator_table().unwrap();
    let t384 = P384::generator_table().unwrap();
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
                assert_eq!(p.m_inv, 1);
                assert_eq!(n.m_inv.wrapping_mul(n.m[0]), u32::MAX); // −1 mod 2³²
                                                                    // R² mod m in Montgomery form is R mod m.
                assert_eq!(p.to_mont(&small(1)), p.one);
                assert_eq!(n.to_mont(&small(1)), n.one);
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
                    assert_eq!(to_be(&p.add(&a, &b)), to_be_ref(ra + rb));
                    assert_eq!(to_be(&p.sub(&a, &b)), to_be_ref(ra - rb));
                    let prod = p.to_plain(&C::fmul(&fe(&a), &fe(&b)));
                    assert_eq!(to_be(&prod), to_be_ref(ra * rb));
                    assert_eq!(p.to_plain(&fe(&a)), a);
                    if !is_zero(&a) {
                        let inv = p.to_plain(&p.invert(&fe(&a)));
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
                    assert_eq!(to_be(&n.add(&a, &b)), (ra + rb).to_repr().to_vec());
                    assert_eq!(to_be(&n.sub(&a, &b)), (ra - rb).to_repr().to_vec());
                    assert_eq!(
                        to_be(&n.mul(&a, &n.to_mont(&b))),
                        (ra * rb).to_repr().to_vec()
                    );
                    if !is_zero(&a) {
                        let inv = ra.invert().unwrap().to_repr().to_vec();
                        let ours = n.to_plain(&n.invert(&n.to_mont(&a)));
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
                let table = C::generator_table().unwrap();
                let zero = [0u32; L];
                for i in 0..200 {
                    let (u1, u2) = (random_below(&n.m), random_below(&n.m));
                    let u2 = if i == 0 { zero } else { u2 };
                    // u1·G + u2·G = (u1 + u2)·G
                    let sum = double_mul::<C, L>(&u1, table, &u2, table).unwrap();
                    let k = n.add(&u1, &u2);
                    if is_zero(&k) {
                        assert!(sum.is_infinity());
                    } else {
                        assert_eq!(affine_of::<C, L>(&sum), reference_point(&k));
                    }
                }
                // u1 = n − u2 gives infinity.
                let u2 = random_below(&n.m);
                let u1 = n.sub(&[0; L], &u2);
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
                let g = (to_be(&C::P.to_plain(&g.x)), to_be(&C::P.to_plain(&g.y)));
                let curve = C::NAME;
                assert!(Key::from_coordinates(&g.0, &g.1).is_ok());
                let mut bad_y = g.1.clone();
                bad_y[BYTES - 1] ^= 1;
                let err = |x: &[u8], y: &[u8]| Key::from_coordinates(x, y).err();
                assert_eq!(err(&g.0, &bad_y), Some(EcKeyError::NotOnCurve { curve }));
                assert_eq!(
                    err(&[0; BYTES], &[0; BYTES]),
                    Some(EcKeyError::NotOnCurve { curve })
                );
                assert_eq!(
                    err(&g.0[1..], &g.1),
                    Some(EcKeyError::CoordinateLength {
                        curve,
                        coordinate: "x",
                        bytes: BYTES
                    })
                );
                assert_eq!(
                    err(&g.0, &g.1[1..]),
                    Some(EcKeyError::CoordinateLength {
                        curve,
                        coordinate: "y",
                        bytes: BYTES
                    })
                );
                // x + p (not reduced) is refused even though it is the same field element,
                // if < 2^(32L).
                assert_eq!(
                    err(&[0xff; BYTES], &g.1),
                    Some(EcKeyError::NotReduced { curve })
                );
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

/// P-521 (17 limbs, 521-bit moduli: the top limb is not full, so R mod m is no longer R − m).
/// Field and verification results against the `p521` crate are in `tests/ecdsa_differential.rs`
/// and `tests/wycheproof.rs`; here the constants and the group law.
mod on_p521 {
    use super::*;

    type C = P521;
    const L: usize = 17;

    #[test]
    fn constants_and_montgomery_one() {
        let (p, n) = (C::P, C::N);
        let p_hex = format!("0000{}", "01".to_owned() + &"ff".repeat(65));
        assert_eq!(hex::encode(to_be(&p.m)), p_hex);
        assert_eq!(
            hex::encode(to_be(&n.m)),
            format!(
                "000001{}fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
                "ff".repeat(32)
            )
        );
        // R = 2^544 ≡ 2^23 (mod 2^521 − 1).
        assert_eq!(p.one, small::<L>(1 << 23));
        assert_eq!(p.to_mont(&small(1)), p.one);
        // The field works in plain form (Mersenne reduction).
        assert_eq!(C::fone(), small(1));
        assert_eq!(n.to_mont(&small(1)), n.one);
        assert_eq!(n.to_plain(&n.one), small(1));
        assert!(on_curve::<C, L>(&generator::<C, L>()));
        assert_eq!(C::BYTES, 66);
    }

    #[test]
    fn inverses_and_the_group_order() {
        let p = C::P;
        for _ in 0..50 {
            let a = random_below(&p.m);
            if is_zero(&a) {
                continue;
            }
            let am = C::fe(&a);
            assert_eq!(C::fmul(&am, &C::finv(&am)), C::fone());
            // The Mersenne product agrees with the Montgomery one.
            let b = random_below(&p.m);
            let montgomery = p.to_plain(&p.mul(&p.to_mont(&a), &p.to_mont(&b)));
            assert_eq!(C::fmul(&a, &b), montgomery);
        }
        // p − 1 squared is 1; the largest product reduces fully.
        let mut p_minus_1 = p.m;
        limbs::sub_assign(&mut p_minus_1, &small::<L>(1));
        assert_eq!(C::fsqr(&p_minus_1), small(1));
        assert_eq!(C::fmul(&p_minus_1, &small(1)), p_minus_1);
        assert_eq!(C::fmul(&[0; L], &p_minus_1), [0; L]);
        let n = C::N;
        let table = C::generator_table().unwrap();
        let one = small::<L>(1);
        let mut n_minus_1 = n.m;
        limbs::sub_assign(&mut n_minus_1, &one);
        // (n − 1)·G + 1·G = n·G = infinity; 1·G + 1·G = 2G.
        assert!(double_mul::<C, L>(&n_minus_1, table, &one, table)
            .unwrap()
            .is_infinity());
        let g = generator::<C, L>();
        let gj = Jacobian::from_affine::<C>(&g);
        let two_g = affine_of::<C, L>(&gj.double::<C>()).unwrap();
        let sum = double_mul::<C, L>(&one, table, &one, table).unwrap();
        assert_eq!(affine_of::<C, L>(&sum), Some(two_g));
        // A scalar using the top part (bit 520) agrees with the sum of its halves.
        let mut high = [0u32; L];
        high[16] = 0x100;
        let low = random_below(&n.m);
        let both = n.add(&high, &low);
        let direct = double_mul::<C, L>(&both, table, &[0; L], table).unwrap();
        let split = double_mul::<C, L>(&high, table, &low, table).unwrap();
        assert_eq!(affine_of::<C, L>(&direct), affine_of::<C, L>(&split));
    }
}
