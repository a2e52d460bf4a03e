//! Target `diff_rsa`: Warden's RS256/384/512 and PS256/384/512 verification against the `rsa`
//! crate, on arbitrary keys, messages and signatures, valid ones included by construction.
//! Warden is driven through its public path only: the key as a JWK → `KeySet::parse`, the
//! signature in a compact JWS → `token::decode` + `verify_signature`.
//!
//! Byte 0: bits 0–2 the algorithm (mod 6); bits 3–4 the key (0–2 one of the five fixed private
//! keys, chosen by the next byte; 3 an arbitrary modulus and exponent from the input); bits 5–7
//! the signature (0–1 valid, 2 valid with one byte changed, 3 boundary values, 4 valid with
//! its length changed, 5 valid for another RSA algorithm, 6–7 raw bytes). The rest is the message.
//!
//! Oracles: a key both accept gets the same verdict from both on every signature; a valid
//! signature verifies; a key Warden accepts has an odd modulus of 2048..=8192 bits and an odd
//! exponent ≥ 3.

use super::bytes::{add_small, fit};
use super::input::Input;
use super::keys;
use rsa::traits::PublicKeyParts;
use rsa::BigUint;
use std::sync::OnceLock;
use warden_core::jwk::{KeySet, MAX_RSA_BITS, MIN_RSA_BITS};
use warden_core::Algorithm;

/// The fixed keys, each parsed through `KeySet::parse` as a one-key JWKS.
fn fixed_sets() -> &'static Vec<KeySet> {
    static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
    SETS.get_or_init(|| {
        keys::keys()
            .rsa
            .iter()
            .map(|k| {
                let jwk = keys::rsa_jwk(&k.n().to_bytes_be(), &k.e().to_bytes_be());
                KeySet::parse(&serde_json::json!({ "keys": [jwk] }).to_string())
                    .expect("the fixed RSA keys are accepted")
            })
            .collect()
    })
}

const ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let alg = ALGS[usize::from(flags & 7) % ALGS.len()];
    let key_mode = (flags >> 3) & 3;
    let sig_mode = flags >> 5;

    let all = &keys::keys().rsa;
    let signer_index = (key_mode < 3).then(|| usize::from(input.byte()) % all.len());
    let signer = signer_index.map(|i| &all[i]);
    let mut parse_arbitrary = None;
    let (n, e) = match signer {
        Some(sk) => (sk.n().to_bytes_be(), sk.e().to_bytes_be()),
        None => {
            let len = usize::from(u16::from_be_bytes([input.byte(), input.byte()])) % 1025;
            let n = input.take(len).to_vec();
            (n, input.chunk().to_vec())
        }
    };
    let parse =
        || KeySet::parse(&serde_json::json!({ "keys": [keys::rsa_jwk(&n, &e)] }).to_string());
    // Fixed keys are parsed once (the same public path; it precomputes R² mod n, costly here).
    let ours = match signer_index {
        Some(i) => Ok(&fixed_sets()[i]),
        None => parse_arbitrary.insert(parse()).as_ref(),
    };
    let n_big = BigUint::from_bytes_be(&n);
    let e_big = BigUint::from_bytes_be(&e);
    if ours.is_ok() {
        let bits = n_big.bits();
        assert!(
            (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits),
            "accepted a {bits}-bit modulus"
        );
        assert!(
            n.last().is_some_and(|b| b & 1 == 1),
            "accepted an even modulus"
        );
        assert!(
            e.last().is_some_and(|b| b & 1 == 1) && e_big >= BigUint::from(3u8),
            "accepted exponent {e:02x?}"
        );
    }
    if signer.is_some() {
        assert!(
            ours.is_ok(),
            "a fixed key was refused: {:?}",
            ours.as_ref().err()
        );
    }
    let theirs = rsa::RsaPublicKey::new_with_max_size(n_big.clone(), e_big, MAX_RSA_BITS);
    // Key policies differ (the `rsa` crate caps e at 2³³ − 1 and allows small moduli): compare
    // verdicts on the keys both accept.
    let (Ok(set), Ok(public)) = (ours, theirs) else {
        return;
    };
    let k = public.size();

    let selector = input.take(4).to_vec();
    let pick = |i: usize| selector.get(i).copied().unwrap_or(0);
    let raw_len = usize::from(u16::from_be_bytes([pick(2), pick(3)])) % 1100;
    let raw_sig = input.take(raw_len).to_vec();
    let message = input.rest();
    let header = format!(r#"{{"alg":"{alg}"}}"#);
    let signing_input = keys::signing_input(header.as_bytes(), &keys::payload_for(message));
    let seed = u64::from(pick(1)) << 8 | u64::from(pick(0));
    let valid = signer.map(|sk| keys::rsa_sign(sk, alg, signing_input.as_bytes(), seed));

    let (sig, must_verify) = match (sig_mode, &valid) {
        (0 | 1, Some(v)) => (v.clone(), true),
        (2, Some(v)) => {
            let mut s = v.clone();
            let i = usize::from(u16::from_be_bytes([pick(2), pick(3)])) % s.len();
            s[i] ^= pick(1) | 1;
            (s, false)
        }
        (3, _) => {
            let n_fit = fit(&n, k);
            let s = match pick(0) % 6 {
                0 => vec![0u8; k],
                1 => fit(&[1], k),
                2 => add_small(&n_fit, -1),
                3 => n_fit,
                4 => add_small(&fit(&n, k), 1),
                _ => vec![0xff; k],
            };
            (s, false)
        }
        (4, Some(v)) => {
            let mut s = v.clone();
            match pick(0) % 3 {
                0 => {
                    s.remove(0);
                }
                1 => s.insert(0, 0),
                _ => s.push(pick(1)),
            }
            (s, false)
        }
        (5, Some(_)) => {
            let other = ALGS[usize::from(pick(0)) % ALGS.len()];
            let sk = signer.expect("a valid signature has a signer");
            let s = keys::rsa_sign(sk, other, signing_input.as_bytes(), seed);
            (s, other == alg)
        }
        _ => (raw_sig, false),
    };

    let token = keys::compact(&signing_input, &sig);
    let our_verdict = keys::our_signature_verdict(&token, set)
        .unwrap_or_else(|reason| panic!("{alg} token refused before its signature: {reason:?}"));
    let their_verdict = keys::rsa_reference_verify(&public, alg, signing_input.as_bytes(), &sig);
    assert_eq!(
        our_verdict,
        their_verdict,
        "{alg} verdicts differ (ours {our_verdict}, reference {their_verdict}) on a {}-byte signature, {}-bit key",
        sig.len(),
        n_big.bits()
    );
    if must_verify {
        assert!(our_verdict, "a valid {alg} signature was refused");
    }
}
