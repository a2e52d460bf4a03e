#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The host signature backend (`host_crypto`): the DER it hands over, the protobuf it speaks,
//! which algorithms detection gives the host, and that every odd answer is a failed signature.

use p256::pkcs8::EncodePublicKey;
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;
use warden_core::host_crypto::{
    decode_result, encode_arguments, AnswerError, Backend, HostCrypto, SignatureBackends,
};
use warden_core::jwk::KeySet;
use warden_core::Algorithm;
use warden_testkit::{keys, unb64};

/// What the host answers once detection is over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Native,
    Absent,
    AlwaysTrue,
    Garbage,
    TrueWithError,
    NotABool,
}

struct TestHost {
    mode: Rc<Cell<Mode>>,
    calls: Rc<Cell<u32>>,
}

impl HostCrypto for TestHost {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        self.calls.set(self.calls.get() + 1);
        match self.mode.get() {
            Mode::Native => warden_testkit::host_crypto::verify_signature(arguments).ok(),
            Mode::Absent => None,
            Mode::AlwaysTrue => Some(vec![0x08, 0x01]),
            Mode::Garbage => Some(vec![0xff, 0x01, 0x02]),
            Mode::TrueWithError => Some(vec![0x08, 0x01, 0x12, 0x01, b'x']),
            Mode::NotABool => Some(vec![0x08, 0x02]),
        }
    }
}

fn host(mode: Mode) -> (SignatureBackends, Rc<Cell<Mode>>, Rc<Cell<u32>>) {
    let mode = Rc::new(Cell::new(mode));
    let calls = Rc::new(Cell::new(0));
    let backends = SignatureBackends::detect(Box::new(TestHost {
        mode: mode.clone(),
        calls: calls.clone(),
    }));
    (backends, mode, calls)
}

const HOSTED: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
];

fn key_for(alg: Algorithm) -> warden_core::jwk::Jwk {
    KeySet::parse(&keys().jwk(alg).to_string())
        .unwrap()
        .keys
        .pop()
        .unwrap()
}

/// (signing input, signature) of a fresh token.
fn signed(alg: Algorithm) -> (Vec<u8>, Vec<u8>) {
    let token = keys().sign(alg, &json!({"sub": "alice"}));
    let (input, sig) = token.rsplit_once('.').unwrap();
    (input.as_bytes().to_vec(), unb64(sig))
}

#[test]
fn spki_is_the_der_rustcrypto_writes() {
    let rsa = keys().rsa.to_public_key();
    assert_eq!(
        *key_for(Algorithm::RS256).spki,
        *rsa::pkcs8::EncodePublicKey::to_public_key_der(&rsa)
            .unwrap()
            .as_bytes()
    );
    let p256 = keys().p256.verifying_key().to_public_key_der().unwrap();
    assert_eq!(*key_for(Algorithm::ES256).spki, *p256.as_bytes());
    let p384 =
        p384::pkcs8::EncodePublicKey::to_public_key_der(keys().p384.verifying_key()).unwrap();
    assert_eq!(*key_for(Algorithm::ES384).spki, *p384.as_bytes());
    let ed = key_for(Algorithm::EdDSA).spki;
    assert_eq!(ed.len(), 44);
    assert_eq!(&ed[12..], keys().ed25519.verifying_key().as_bytes());
    // HMAC secrets never get a DER form: they are never handed to the host.
    assert!(key_for(Algorithm::HS256).spki.is_empty());
}

#[test]
fn arguments_are_the_protobuf_envoy_parses() {
    let args = encode_arguments("sha256", &[1, 2], &[3], &[0u8; 200]);
    assert_eq!(&args[..8], b"\x0a\x06sha256");
    assert_eq!(&args[8..12], &[0x12, 2, 1, 2]);
    assert_eq!(&args[12..15], &[0x1a, 1, 3]);
    // 200 needs a two-byte varint.
    assert_eq!(&args[15..18], &[0x22, 0xc8, 0x01]);
    assert_eq!(args.len(), 18 + 200);
}

#[test]
fn results_are_read_strictly() {
    assert_eq!(decode_result(&[0x08, 0x01]), Ok(true));
    // proto3 leaves out `result = false`; Envoy always sets an error then.
    assert_eq!(decode_result(b"\x12\x03bad"), Ok(false));
    assert_eq!(decode_result(&[]), Ok(false));
    assert_eq!(decode_result(&[0x08, 0x00]), Ok(false));
    assert_eq!(decode_result(&[0x08, 0x01, 0x12, 0x00]), Ok(true));
    assert_eq!(
        decode_result(&[0x08, 0x01, 0x12, 0x01, b'x']),
        Err(AnswerError::Unexpected)
    );
    assert_eq!(decode_result(&[0x08, 0x02]), Err(AnswerError::NotABool));
    assert_eq!(
        decode_result(&[0x08, 0x01, 0x08, 0x01]),
        Err(AnswerError::Unexpected)
    );
    assert_eq!(decode_result(&[0x08]), Err(AnswerError::Truncated));
    assert_eq!(
        decode_result(&[0x12, 0x05, b'a']),
        Err(AnswerError::Truncated)
    );
    assert_eq!(decode_result(&[0x18, 0x01]), Err(AnswerError::Unexpected));
    assert_eq!(
        decode_result(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        Err(AnswerError::Unexpected)
    );
}

#[test]
fn detection_gives_the_host_only_what_it_verifies_right() {
    let (backends, _, _) = host(Mode::Native);
    for alg in Algorithm::ALL {
        let expected = if HOSTED.contains(&alg) {
            Backend::Host
        } else {
            Backend::Wasm
        };
        assert_eq!(backends.backend(alg), expected, "{alg}");
    }
    assert_eq!(backends.table().len(), Algorithm::ALL.len());
    for mode in [
        Mode::Absent,
        Mode::AlwaysTrue,
        Mode::Garbage,
        Mode::TrueWithError,
        Mode::NotABool,
    ] {
        let (backends, _, _) = host(mode);
        assert!(
            backends.table().iter().all(|(_, b)| *b == Backend::Wasm),
            "a host that cannot tell good from bad is never used"
        );
    }
    assert!(SignatureBackends::in_wasm()
        .table()
        .iter()
        .all(|(_, b)| *b == Backend::Wasm));
}

#[test]
fn host_path_verifies_and_refuses_like_wasm() {
    let (backends, _, calls) = host(Mode::Native);
    for alg in Algorithm::ALL {
        let key = key_for(alg);
        let (input, sig) = signed(alg);
        let before = calls.get();
        assert!(backends.verify(&key, alg, &input, &sig), "{alg}");
        let mut bad = sig.clone();
        bad[3] ^= 0x10;
        assert!(!backends.verify(&key, alg, &input, &bad), "{alg}");
        assert!(!backends.verify(&key, alg, b"other", &sig), "{alg}");
        let used_host = calls.get() > before;
        assert_eq!(used_host, HOSTED.contains(&alg), "{alg}");
    }
}

#[test]
fn out_of_range_ecdsa_never_reaches_the_host() {
    let (backends, _, calls) = host(Mode::Native);
    let key = key_for(Algorithm::ES256);
    let before = calls.get();
    // r = s = 0 (CVE-2022-21449), r = s = n, a short signature.
    for sig in [vec![0u8; 64], vec![0xffu8; 64], vec![1u8; 63]] {
        assert!(!backends.verify(&key, Algorithm::ES256, b"x", &sig));
    }
    assert_eq!(calls.get(), before);
}

#[test]
fn a_host_failing_after_detection_never_allows() {
    let (backends, mode, _) = host(Mode::Native);
    for broken in [
        Mode::Absent,
        Mode::Garbage,
        Mode::TrueWithError,
        Mode::NotABool,
    ] {
        mode.set(broken);
        for alg in HOSTED {
            let (input, sig) = signed(alg);
            assert!(!backends.verify(&key_for(alg), alg, &input, &sig), "{alg}");
        }
    }
}
