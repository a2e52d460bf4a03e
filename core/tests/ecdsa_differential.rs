#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Differential test of Warden's ES256, ES384 and ES512 paths (`KeySet::parse` →
//! `KeyMaterial::verify`, i.e. `crypto::ecdsa`) against the `p256` / `p384` / `p521` crates' verifiers: random keys, messages
//! and signatures (signed by the reference crate), valid ones and single-bit flips of message,
//! r, s or the key. Both must agree every time; valid signatures must verify and flipped ones
//! must not. `WARDEN_P256_DIFF_KEYS` sets the number of P-256 keys (default 200, 8 messages
//! each), `WARDEN_P384_DIFF_KEYS` the number of P-384 keys (default 30; the `p384` crate is
//! slow in debug builds), `WARDEN_P521_DIFF_KEYS` the number of P-521 keys (default 12).

use rand_core::{OsRng, RngCore};
use warden_core::jwk::{KeyMaterial, KeySet};
use warden_core::{b64, Algorithm};

fn parse(crv: &str, x: &[u8], y: &[u8]) -> Option<KeyMaterial> {
    let jwk =
        serde_json::json!({"kty": "EC", "crv": crv, "x": b64::encode(x), "y": b64::encode(y)});
    let set = KeySet::parse(&serde_json::json!({"keys": [jwk]}).to_string()).ok()?;
    set.keys.into_iter().next().map(|k| k.material)
}

fn flip(bytes: &mut [u8]) {
    let bit = (OsRng.next_u32() as usize) % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
}

fn random_message() -> Vec<u8> {
    let mut msg = vec![0u8; (OsRng.next_u32() % 300) as usize];
    OsRng.fill_bytes(&mut msg);
    msg
}

fn keys_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The same tests for each curve: `$krate` is the reference crate, `$bytes` the size of r and s.
macro_rules! differential_tests {
    ($module:ident, $krate:ident, $crv:literal, $alg:expr, $bytes:literal, $keys_var:literal,
     $default_keys:literal, $n_hex:literal, $bad_lengths:expr) => {
        mod $module {
            use super::*;
            use $krate::ecdsa::signature::{Signer, Verifier};
            use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};

            const B: usize = $bytes;

            fn reference(x: &[u8], y: &[u8]) -> Option<VerifyingKey> {
                let mut sec1 = vec![4u8];
                sec1.extend_from_slice(x);
                sec1.extend_from_slice(y);
                VerifyingKey::from_sec1_bytes(&sec1).ok()
            }

            fn reference_verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) -> bool {
                Signature::from_slice(sig).is_ok_and(|s| key.verify(msg, &s).is_ok())
            }

            #[test]
            fn agrees_with_reference_crate() {
                let keys = keys_from_env($keys_var, $default_keys);
                let (mut valid, mut flipped, mut bad_keys) = (0, 0, 0);
                for _ in 0..keys {
                    let sk = SigningKey::random(&mut OsRng);
                    let point = VerifyingKey::from(&sk).to_encoded_point(false);
                    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
                    let ours = parse($crv, &x, &y).expect("a valid key parses");
                    let theirs = reference(&x, &y).unwrap();
                    for _ in 0..8 {
                        let msg = random_message();
                        let sig: Signature = sk.sign(&msg);
                        let mut sig_bytes = sig.to_bytes().to_vec();
                        assert!(ours.verify($alg, &msg, &sig_bytes));
                        assert!(reference_verify(&theirs, &msg, &sig_bytes));
                        // The high-s twin (n − s) is also a valid ECDSA signature; both must
                        // agree on it.
                        let high_s = Signature::from_scalars(sig.r(), -*sig.s())
                            .unwrap()
                            .to_bytes();
                        assert_eq!(
                            ours.verify($alg, &msg, &high_s),
                            reference_verify(&theirs, &msg, &high_s)
                        );
                        valid += 1;

                        // One bit flipped in the message, r or s.
                        let mut msg_flipped = msg.clone();
                        match OsRng.next_u32() % 3 {
                            0 if !msg_flipped.is_empty() => flip(&mut msg_flipped),
                            1 => flip(&mut sig_bytes[..B]),
                            _ => flip(&mut sig_bytes[B..]),
                        }
                        let ours_ok = ours.verify($alg, &msg_flipped, &sig_bytes);
                        let theirs_ok = reference_verify(&theirs, &msg_flipped, &sig_bytes);
                        assert_eq!(ours_ok, theirs_ok, "disagreement on a flipped signature");
                        if msg_flipped != msg || sig_bytes != sig.to_bytes().to_vec() {
                            assert!(!ours_ok, "a flipped signature verified");
                        }
                        flipped += 1;

                        // Random r ‖ s.
                        let mut random_sig = [0u8; 2 * B];
                        OsRng.fill_bytes(&mut random_sig);
                        assert!(!ours.verify($alg, &msg, &random_sig));
                        assert!(!reference_verify(&theirs, &msg, &random_sig));
                    }

                    // One bit flipped in the key: both refuse it (off the curve), or both agree
                    // on a signature made with the original key.
                    let (mut x2, mut y2) = (x.clone(), y.clone());
                    if OsRng.next_u32().is_multiple_of(2) {
                        flip(&mut x2);
                    } else {
                        flip(&mut y2);
                    }
                    let msg = random_message();
                    let sig = Signer::<Signature>::sign(&sk, &msg).to_bytes();
                    match (parse($crv, &x2, &y2), reference(&x2, &y2)) {
                        (None, None) => bad_keys += 1,
                        (Some(o), Some(t)) => {
                            let ok = o.verify($alg, &msg, &sig);
                            assert_eq!(ok, reference_verify(&t, &msg, &sig));
                            assert!(!ok, "a flipped key verified");
                        }
                        (o, t) => panic!(
                            "key acceptance differs: ours {}, {} {}",
                            o.is_some(),
                            stringify!($krate),
                            t.is_some()
                        ),
                    }
                }
                eprintln!("{valid} valid, {flipped} flipped, {bad_keys} flipped keys refused");
                assert_eq!(valid, keys * 8);
            }

            /// Signature values at and around the range limits are refused, as the reference
            /// crate does.
            #[test]
            fn range_limits() {
                let n = hex::decode($n_hex).unwrap();
                let sk = SigningKey::random(&mut OsRng);
                let point = VerifyingKey::from(&sk).to_encoded_point(false);
                let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
                let ours = parse($crv, &x, &y).unwrap();
                let theirs = reference(&x, &y).unwrap();
                let msg = b"limits";
                let good = Signer::<Signature>::sign(&sk, msg).to_bytes().to_vec();
                let zero = [0u8; B];
                let ff = [0xffu8; B];
                let pairs: [(&[u8], &[u8]); 7] = [
                    (&zero, &good[B..]),
                    (&good[..B], &zero),
                    (&zero, &zero),
                    (&n, &good[B..]),
                    (&good[..B], &n),
                    (&ff, &good[B..]),
                    (&good[..B], &ff),
                ];
                for (r, s) in pairs {
                    let sig = [r, s].concat();
                    assert!(!ours.verify($alg, msg, &sig));
                    assert!(!reference_verify(&theirs, msg, &sig));
                }
                for len in $bad_lengths {
                    assert!(!ours.verify($alg, msg, &vec![1u8; len]));
                }
            }
        }
    };
}

differential_tests!(
    es256,
    p256,
    "P-256",
    Algorithm::ES256,
    32,
    "WARDEN_P256_DIFF_KEYS",
    200,
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    [0, 63, 65, 128]
);

differential_tests!(
    es384,
    p384,
    "P-384",
    Algorithm::ES384,
    48,
    "WARDEN_P384_DIFF_KEYS",
    30,
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    [0, 64, 95, 97, 192]
);

differential_tests!(
    es512,
    p521,
    "P-521",
    Algorithm::ES512,
    66,
    "WARDEN_P521_DIFF_KEYS",
    12,
    "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    [0, 64, 96, 131, 133, 264]
);
