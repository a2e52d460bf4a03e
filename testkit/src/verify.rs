//! An independent check of JWS signatures (RustCrypto, not warden-core's verifiers), for tests
//! of code that signs: `keygen`/`mint`, and the kit itself.

use crate::Algorithm;
use rsa::signature::Verifier;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

fn member(jwk: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = jwk[name]
        .as_str()
        .ok_or_else(|| format!("JWK lacks `{name}`"))?;
    warden_core::b64::decode(text).ok_or_else(|| format!("JWK `{name}` is not base64url"))
}

fn rsa_key(jwk: &Value) -> Result<rsa::RsaPublicKey, String> {
    let n = rsa::BigUint::from_bytes_be(&member(jwk, "n")?);
    let e = rsa::BigUint::from_bytes_be(&member(jwk, "e")?);
    rsa::RsaPublicKey::new(n, e).map_err(|e| e.to_string())
}

fn ok(valid: bool) -> Result<(), String> {
    valid
        .then_some(())
        .ok_or_else(|| "bad signature".to_owned())
}

/// Whether `signature` is a valid JWS signature of `input` under the public `jwk` (the secret
/// for HMAC) with `alg`. Errors say what did not fit.
pub fn verify_signature(
    jwk: &Value,
    alg: Algorithm,
    input: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let e = |e: rsa::signature::Error| e.to_string();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let expected = crate::sign::hmac(alg, &member(jwk, "k")?, input);
            ok(subtle_eq(&expected, signature))
        }
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => {
            let key = rsa_key(jwk)?;
            let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(e)?;
            match alg {
                Algorithm::RS256 => {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(input, &sig)
                }
                Algorithm::RS384 => {
                    rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(input, &sig)
                }
                _ => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(input, &sig),
            }
            .map_err(e)
        }
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
            let key = rsa_key(jwk)?;
            let sig = rsa::pss::Signature::try_from(signature).map_err(e)?;
            match alg {
                Algorithm::PS256 => rsa::pss::VerifyingKey::<Sha256>::new(key).verify(input, &sig),
                Algorithm::PS384 => rsa::pss::VerifyingKey::<Sha384>::new(key).verify(input, &sig),
                _ => rsa::pss::VerifyingKey::<Sha512>::new(key).verify(input, &sig),
            }
            .map_err(e)
        }
        Algorithm::ES256 => {
            let mut sec1 = vec![4u8];
            sec1.extend(member(jwk, "x")?);
            sec1.extend(member(jwk, "y")?);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(e)?;
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(e)?;
            key.verify(input, &sig).map_err(e)
        }
        Algorithm::ES384 => {
            let mut sec1 = vec![4u8];
            sec1.extend(member(jwk, "x")?);
            sec1.extend(member(jwk, "y")?);
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(e)?;
            let sig = p384::ecdsa::Signature::from_slice(signature).map_err(e)?;
            key.verify(input, &sig).map_err(e)
        }
        Algorithm::ES512 => {
            let mut sec1 = vec![4u8];
            sec1.extend(member(jwk, "x")?);
            sec1.extend(member(jwk, "y")?);
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map_err(e)?;
            let sig = p521::ecdsa::Signature::from_slice(signature).map_err(e)?;
            key.verify(input, &sig).map_err(e)
        }
        Algorithm::EdDSA => {
            let x: [u8; 32] = member(jwk, "x")?
                .try_into()
                .map_err(|_| "Ed25519 key is not 32 bytes".to_owned())?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(e)?;
            let sig = ed25519_dalek::Signature::from_slice(signature).map_err(e)?;
            key.verify_strict(input, &sig).map_err(e)
        }
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a compact token's signature under `jwk`, with the algorithm its header names; returns
/// the header and the claims.
pub fn verify_token(token: &str, jwk: &Value) -> Result<(Value, Value), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(format!("{} segments", parts.len()));
    };
    let json = |segment: &str| -> Result<Value, String> {
        let bytes = warden_core::b64::decode(segment).ok_or("segment is not base64url")?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    let (header_json, claims_json) = (json(header)?, json(claims)?);
    let alg = header_json["alg"]
        .as_str()
        .and_then(Algorithm::from_name)
        .ok_or_else(|| format!("unknown alg in {header_json}"))?;
    let signature = warden_core::b64::decode(signature).ok_or("signature is not base64url")?;
    verify_signature(
        jwk,
        alg,
        format!("{header}.{claims}").as_bytes(),
        &signature,
    )?;
    Ok((header_json, claims_json))
}
