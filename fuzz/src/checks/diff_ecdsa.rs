//! Target `diff_ecdsa`: Warden's ES256 and ES384 verification against the `p256` / `p384`
//! crates, on arbitrary keys, messages and signatures, valid ones included by construction.
//! Warden is driven through its public path only: the key as a JWK → `KeySet::parse`, the
//! signature in a compact JWS → `token::decode` + `verify_signature`.
//!
//! Byte 0: bit 0 the curve; bits 1–2 the key (0 fixed, 1 private scalar from the input,
//! 2 a compressed point from the input, 3 raw `x ‖ y`); bits 3–5 the signature (0–1 valid,
//! 2 valid with one byte changed, 3 the high-s twin, 4 r and s from boundary values, 5 valid
//! with its length changed, 6–7 raw bytes). The rest of the input is the message.
//!
//! Oracles: both accept the same keys; both give the same verdict on every signature; a valid
//! signature verifies.

use super::bytes::{add_small, fit, from_hex};
use super::input::Input;
use super::keys;
use warden_core::jwk::KeySet;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    if flags & 1 == 0 {
        p256_case(flags, &mut input);
    } else {
        p384_case(flags, &mut input);
    }
}

macro_rules! curve_case {
    ($name:ident, $krate:ident, $crv:literal, $alg:literal, $len:literal, $n_hex:literal,
     $p_hex:literal, $fixed:ident) => {
        fn $name(flags: u8, input: &mut Input) {
            use $krate::ecdsa::signature::{Signer, Verifier};
            use $krate::ecdsa::{Signature, SigningKey, VerifyingKey};
            const B: usize = $len;

            let key_mode = (flags >> 1) & 3;
            let sig_mode = (flags >> 3) & 7;
            let signer: Option<SigningKey> = match key_mode {
                0 => Some(keys::keys().$fixed.clone()),
                1 => SigningKey::from_slice(&fit(input.take(B), B)).ok(),
                _ => None,
            };
            let (x, y) = match (&signer, key_mode) {
                (Some(sk), _) => {
                    let p = sk.verifying_key().to_encoded_point(false);
                    (p.x().expect("x").to_vec(), p.y().expect("y").to_vec())
                }
                (None, 2) => {
                    let mut sec1 = vec![2 | (input.byte() & 1)];
                    sec1.extend_from_slice(&fit(input.take(B), B));
                    match VerifyingKey::from_sec1_bytes(&sec1) {
                        Ok(vk) => {
                            let p = vk.to_encoded_point(false);
                            (p.x().expect("x").to_vec(), p.y().expect("y").to_vec())
                        }
                        Err(_) => return,
                    }
                }
                (None, _) => (input.chunk().to_vec(), input.chunk().to_vec()),
            };
            let jwk = keys::ec_jwk($crv, &x, &y);
            let ours = KeySet::parse(&serde_json::json!({ "keys": [jwk] }).to_string());
            let mut sec1 = vec![4u8];
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            let theirs = VerifyingKey::from_sec1_bytes(&sec1);
            assert_eq!(
                ours.is_ok(),
                theirs.is_ok(),
                "key acceptance differs for x={x:02x?} y={y:02x?}: ours {:?}",
                ours.as_ref().err()
            );
            let (Ok(set), Ok(vk)) = (ours, theirs) else {
                return;
            };

            let selector = input.take(4).to_vec();
            let pick = |i: usize| selector.get(i).copied().unwrap_or(0);
            let raw_sig = input.chunk().to_vec();
            let message = input.rest();
            let signing_input =
                keys::signing_input(concat!(r#"{"alg":""#, $alg, r#""}"#).as_bytes(), &keys::payload_for(message));
            let valid: Option<Signature> =
                signer.as_ref().map(|sk| sk.sign(signing_input.as_bytes()));
            let n = from_hex($n_hex);
            let p = from_hex($p_hex);

            let (sig, must_verify): (Vec<u8>, bool) = match (sig_mode, &valid) {
                (0 | 1, Some(v)) => (v.to_bytes().to_vec(), true),
                (2, Some(v)) => {
                    let mut s = v.to_bytes().to_vec();
                    let i = usize::from(pick(0)) % s.len();
                    s[i] ^= pick(1) | 1;
                    (s, false)
                }
                (3, Some(v)) => {
                    let twin = Signature::from_scalars(v.r(), -*v.s()).expect("n − s is in range");
                    (twin.to_bytes().to_vec(), false)
                }
                (4, _) => {
                    let good = valid.map(|v| v.to_bytes().to_vec()).unwrap_or_else(|| vec![0x5a; 2 * B]);
                    let choice = |c: u8| -> Vec<u8> {
                        match c % 10 {
                            0 => vec![0u8; B],
                            1 => fit(&[1], B),
                            2 => add_small(&n, -1),
                            3 => n.clone(),
                            4 => add_small(&n, 1),
                            5 => add_small(&p, -1),
                            6 => p.clone(),
                            7 => vec![0xff; B],
                            8 => good[..B].to_vec(),
                            _ => good[B..].to_vec(),
                        }
                    };
                    ([choice(pick(0)), choice(pick(1))].concat(), false)
                }
                (5, Some(v)) => {
                    let mut s = v.to_bytes().to_vec();
                    match pick(0) % 3 {
                        0 => {
                            s.pop();
                        }
                        1 => s.insert(0, 0),
                        _ => s.push(pick(1)),
                    }
                    (s, false)
                }
                _ => (raw_sig, false),
            };

            let token = keys::compact(&signing_input, &sig);
            let our_verdict = keys::our_signature_verdict(&token, &set)
                .unwrap_or_else(|reason| panic!("{} token refused before its signature: {reason:?}", $alg));
            let their_verdict = Signature::from_slice(&sig)
                .is_ok_and(|s| vk.verify(signing_input.as_bytes(), &s).is_ok());
            assert_eq!(
                our_verdict, their_verdict,
                "{} verdicts differ (ours {our_verdict}, reference {their_verdict}) on sig {sig:02x?}, key x={x:02x?} y={y:02x?}",
                $alg
            );
            if must_verify {
                assert!(our_verdict, "a valid {} signature was refused", $alg);
            }
        }
    };
}

curve_case!(
    p256_case,
    p256,
    "P-256",
    "ES256",
    32,
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    p256
);

curve_case!(
    p384_case,
    p384,
    "P-384",
    "ES384",
    48,
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    p384
);
