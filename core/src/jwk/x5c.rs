//! A JWK's `x5c` certificate chain (RFC 7517 §4.7): its first certificate's key completes or
//! must agree with the JWK's own members.

use super::JwkError;
use crate::{b64, pubkey};
use serde_json::{Map, Value};

/// The members the first `x5c` certificate (RFC 7517 §4.7) gives the key: added where the JWK
/// lacks them, compared where it has them.
pub(super) fn with_x5c(obj: &Map<String, Value>) -> Result<Option<Map<String, Value>>, JwkError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let Some(x5c) = obj.get("x5c") else {
        return Ok(None);
    };
    let first = match x5c.as_array().map(Vec::as_slice) {
        Some([first, rest @ ..]) if rest.iter().all(Value::is_string) => first,
        _ => return Err(JwkError::BadX5c),
    };
    let der = first
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or(JwkError::BadX5c)?;
    let derived = pubkey::certificate_jwk(&der).map_err(JwkError::PublicKey)?;
    let mut merged = obj.clone();
    for (name, value) in derived {
        match obj.get(&name) {
            None => {
                merged.insert(name, value);
            }
            Some(own) if same_member(&name, own, &value) => {}
            Some(_) => {
                let name: &'static str = match name.as_str() {
                    "kty" => "kty",
                    "crv" => "crv",
                    "n" => "n",
                    "e" => "e",
                    "x" => "x",
                    _ => "y",
                };
                return Err(JwkError::X5cMismatch(name));
            }
        }
    }
    Ok(Some(merged))
}

/// Whether a JWK's own member equals the certificate's: byte strings compared as integers
/// (leading zero bytes ignored), names exactly.
fn same_member(name: &str, own: &Value, derived: &Value) -> bool {
    if matches!(name, "kty" | "crv") {
        return own == derived;
    }
    let bytes = |v: &Value| v.as_str().and_then(b64::decode);
    match (bytes(own), bytes(derived)) {
        (Some(a), Some(b)) => {
            let strip =
                |v: &[u8]| -> Vec<u8> { v.iter().copied().skip_while(|b| *b == 0).collect() };
            strip(&a) == strip(&b)
        }
        _ => false,
    }
}
