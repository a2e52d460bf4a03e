//! A native stand-in for Envoy's `verify_signature` foreign function, for hosts that run the
//! filter outside Envoy (the wasmtime host): the same protobuf in and out, and the same
//! behaviour as Envoy's `Utility::verifySignature` on BoringSSL — the key is DER
//! SubjectPublicKeyInfo, a digest is always set (`EVP_DigestVerifyInit(md)`), RSA keys get
//! PKCS#1 v1.5 (no PSS: no padding can be asked for), EC keys ECDSA over a DER signature with the
//! digest truncated to the order, and an Ed25519 key fails to initialise (it takes no digest).
//! Verification is RustCrypto's.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// Why the call itself fails (Envoy answers the guest with this status, no result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// Arguments that do not parse, or a key that does not import (`WasmResult::BadArgument`).
    BadArgument,
}

#[derive(Default)]
struct Arguments {
    hash: String,
    public_key: Vec<u8>,
    signature: Vec<u8>,
    text: Vec<u8>,
    public_key_pem: Vec<u8>,
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn parse(bytes: &[u8]) -> Option<Arguments> {
    let mut args = Arguments::default();
    let mut at = 0;
    while at < bytes.len() {
        let key = varint(bytes, &mut at)?;
        if key & 7 != 2 {
            return None;
        }
        let len = usize::try_from(varint(bytes, &mut at)?).ok()?;
        let value = bytes.get(at..at.checked_add(len)?)?.to_vec();
        at += len;
        match key >> 3 {
            1 => args.hash = String::from_utf8(value).ok()?,
            2 => args.public_key = value,
            3 => args.signature = value,
            4 => args.text = value,
            5 => args.public_key_pem = value,
            _ => {}
        }
    }
    Some(args)
}

/// `VerifySignatureResult` as protobuf serialises it (proto3: defaults left out).
fn answer(ok: bool, error: &str) -> Vec<u8> {
    if ok {
        return vec![0x08, 0x01];
    }
    let mut out = vec![0x12, error.len() as u8];
    out.extend_from_slice(error.as_bytes());
    out
}

enum Key {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Ed25519,
}

/// Ed25519 (1.3.101.112) SPKI: 12 bytes of header, then the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// EC P-521 (1.3.132.0.35) SPKI with an uncompressed point: 25 bytes of header, then the 133-byte
/// point (p521 0.13 has no SPKI reader without its `pkcs8` feature).
const P521_SPKI_PREFIX: [u8; 25] = [
    0x30, 0x81, 0x9b, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
    0x2b, 0x81, 0x04, 0x00, 0x23, 0x03, 0x81, 0x86, 0x00,
];

fn import(der: &[u8]) -> Option<Key> {
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(der) {
        return Some(Key::Rsa(key));
    }
    if let Ok(key) = p256::PublicKey::from_public_key_der(der) {
        return Some(Key::P256(key.into()));
    }
    if let Ok(key) = p384::PublicKey::from_public_key_der(der) {
        return Some(Key::P384(key.into()));
    }
    if der.len() == P521_SPKI_PREFIX.len() + 133 && der.starts_with(&P521_SPKI_PREFIX) {
        return p521::ecdsa::VerifyingKey::from_sec1_bytes(&der[P521_SPKI_PREFIX.len()..])
            .ok()
            .map(Key::P521);
    }
    if der.len() == 44 && der.starts_with(&ED25519_SPKI_PREFIX) {
        return Some(Key::Ed25519);
    }
    None
}

fn digest(hash: &str, text: &[u8]) -> Option<(Vec<u8>, rsa::Pkcs1v15Sign)> {
    Some(match hash.to_ascii_lowercase().as_str() {
        "sha224" => (
            Sha224::digest(text).to_vec(),
            rsa::Pkcs1v15Sign::new::<Sha224>(),
        ),
        "sha256" => (
            Sha256::digest(text).to_vec(),
            rsa::Pkcs1v15Sign::new::<Sha256>(),
        ),
        "sha384" => (
            Sha384::digest(text).to_vec(),
            rsa::Pkcs1v15Sign::new::<Sha384>(),
        ),
        "sha512" => (
            Sha512::digest(text).to_vec(),
            rsa::Pkcs1v15Sign::new::<Sha512>(),
        ),
        _ => return None,
    })
}

/// The foreign function: protobuf `VerifySignatureArguments` in, `VerifySignatureResult` out.
pub fn verify_signature(arguments: &[u8]) -> Result<Vec<u8>, CallError> {
    let args = parse(arguments).ok_or(CallError::BadArgument)?;
    // A PEM key is not used by Warden; both or neither key is refused, as in Envoy.
    if !args.public_key_pem.is_empty() || args.public_key.is_empty() {
        return Err(CallError::BadArgument);
    }
    let key = import(&args.public_key).ok_or(CallError::BadArgument)?;
    let Some((hashed, padding)) = digest(&args.hash, &args.text) else {
        return Ok(answer(false, &format!("{} is not supported.", args.hash)));
    };
    let ok = match key {
        Key::Rsa(key) => key.verify(padding, &hashed, &args.signature).is_ok(),
        Key::P256(key) => p256::ecdsa::Signature::from_der(&args.signature)
            .is_ok_and(|sig| key.verify_prehash(&hashed, &sig).is_ok()),
        Key::P384(key) => p384::ecdsa::Signature::from_der(&args.signature)
            .is_ok_and(|sig| key.verify_prehash(&hashed, &sig).is_ok()),
        Key::P521(key) => p521_signature(&args.signature)
            .is_some_and(|sig| key.verify_prehash(&hashed, &sig).is_ok()),
        Key::Ed25519 => return Ok(answer(false, "Failed to initialize digest verify.")),
    };
    Ok(if ok {
        answer(true, "")
    } else {
        answer(false, "Failed to verify digest. Error code: 0")
    })
}

fn p521_signature(der: &[u8]) -> Option<p521::ecdsa::Signature> {
    p521::ecdsa::Signature::from_der(der).ok()
}
