//! `warden-verifier keygen`: a fresh key as a private JWK file and a public JWKS file.

use super::jwk::Jwk;
use super::{Algorithm, JoseError};
use crate::cli::KeygenArgs;
use rand_core::{OsRng, RngCore};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use std::path::Path;
use warden_core::b64;

/// RSA modulus size for RS256 keys.
pub const RSA_BITS: usize = 2048;
/// Bytes of an HS256 secret.
pub const HMAC_KEY_BYTES: usize = 32;

/// The error for an algorithm outside [`super::TOOL_ALGORITHMS`].
pub fn unsupported(alg: Algorithm) -> String {
    let names = super::TOOL_ALGORITHMS.map(Algorithm::name).join(", ");
    format!("keygen and mint support {names}; not {alg}")
}

/// A new private JWK for `alg`, with `kid` (default: its thumbprint), `alg` and `use: sig`.
pub fn generate(alg: Algorithm, kid: Option<&str>) -> Result<Jwk, JoseError> {
    let mut jwk = match alg {
        Algorithm::ES256 => {
            let key = p256::ecdsa::SigningKey::random(&mut OsRng);
            let point = key.verifying_key().to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return super::fail("P-256 public key has no affine coordinates");
            };
            let mut jwk = Jwk::empty("EC");
            jwk.crv = Some("P-256".into());
            jwk.x = Some(b64::encode(x));
            jwk.y = Some(b64::encode(y));
            jwk.d = Some(b64::encode(&key.to_bytes()));
            jwk
        }
        Algorithm::EdDSA => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let mut jwk = Jwk::empty("OKP");
            jwk.crv = Some("Ed25519".into());
            jwk.x = Some(b64::encode(key.verifying_key().as_bytes()));
            jwk.d = Some(b64::encode(key.as_bytes()));
            jwk
        }
        Algorithm::RS256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                .map_err(|e| JoseError(format!("RSA key generation failed: {e}")))?;
            let primes = key.primes();
            let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else {
                return super::fail("RSA key without two primes");
            };
            let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
                return super::fail("RSA key without CRT values");
            };
            let mut jwk = Jwk::empty("RSA");
            jwk.n = Some(b64::encode(&key.n().to_bytes_be()));
            jwk.e = Some(b64::encode(&key.e().to_bytes_be()));
            jwk.d = Some(b64::encode(&key.d().to_bytes_be()));
            jwk.p = Some(b64::encode(&p.to_bytes_be()));
            jwk.q = Some(b64::encode(&q.to_bytes_be()));
            jwk.dp = Some(b64::encode(&dp.to_bytes_be()));
            jwk.dq = Some(b64::encode(&dq.to_bytes_be()));
            jwk.qi = Some(b64::encode(&qi.to_bytes_be()));
            jwk
        }
        Algorithm::HS256 => {
            let mut secret = [0u8; HMAC_KEY_BYTES];
            OsRng
                .try_fill_bytes(&mut secret)
                .map_err(|e| JoseError(format!("no randomness: {e}")))?;
            let mut jwk = Jwk::empty("oct");
            jwk.k = Some(b64::encode(&secret));
            jwk
        }
        other => return super::fail(unsupported(other)),
    };
    jwk.kid = Some(match kid {
        Some(kid) => kid.to_owned(),
        None => jwk.thumbprint()?,
    });
    jwk.alg = Some(alg);
    jwk.key_use = Some("sig".into());
    Ok(jwk)
}

/// The JWKS document holding the public half of `jwk`.
pub fn jwks_of(jwk: &Jwk) -> serde_json::Value {
    serde_json::json!({ "keys": [jwk.public()] })
}

fn write_file(path: &Path, content: &str, private: bool) -> Result<(), JoseError> {
    let error = |e: std::io::Error| JoseError(format!("cannot write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        if private {
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(error)?;
        file.write_all(content.as_bytes()).map_err(error)
    }
    #[cfg(not(unix))]
    {
        let _ = private;
        std::fs::write(path, content).map_err(error)
    }
}

pub fn main(args: &KeygenArgs) -> Result<(), String> {
    let jwk = generate(args.alg, args.kid.as_deref()).map_err(|e| e.to_string())?;
    let private = serde_json::to_string_pretty(&jwk).map_err(|e| e.to_string())?;
    let jwks = serde_json::to_string_pretty(&jwks_of(&jwk)).map_err(|e| e.to_string())?;
    write_file(&args.private_out, &format!("{private}\n"), true).map_err(|e| e.to_string())?;
    write_file(&args.jwks_out, &format!("{jwks}\n"), false).map_err(|e| e.to_string())?;
    Ok(())
}
