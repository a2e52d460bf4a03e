//! The keys of a document, whichever of the accepted forms it has.

use super::{JwkError, JwksError, MAX_KEYS};
use crate::{pem, pubkey};
use serde_json::{Map, Value};

/// One key of a document: a JWK, or why a key could not even become one (with its `kid`).
pub(super) type Entry = Result<Value, (Option<String>, JwkError)>;

/// The keys of a document, whichever of the accepted forms it has: a JWKS, a single JWK, a
/// certificate map (`{"kid": "-----BEGIN CERTIFICATE-----…"}`, each `kid` from its map key) or
/// PEM text (keys without `kid`).
pub(super) fn documents_keys(text: &str) -> Result<Vec<Entry>, JwksError> {
    if pem::looks_like_pem(text) {
        return Ok(pubkey::pem_jwks(text)
            .map_err(JwksError::Pem)?
            .into_iter()
            .map(|key| {
                key.map(Value::Object)
                    .map_err(|e| (None, JwkError::PublicKey(e)))
            })
            .collect());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| JwksError::NotJson(e.to_string()))?;
    match doc {
        Value::Object(mut obj) => match obj.remove("keys") {
            Some(Value::Array(keys)) => Ok(keys.into_iter().map(Ok).collect()),
            Some(_) => Err(JwksError::KeysNotArray),
            None if obj.contains_key("kty") => Ok(vec![Ok(Value::Object(obj))]),
            None if is_certificate_map(&obj) => Ok(obj
                .into_iter()
                .take(MAX_KEYS + 1)
                .map(|(kid, pem)| {
                    let key = pubkey::single_pem_jwk(pem.as_str().unwrap_or_default());
                    match key {
                        Ok(mut members) => {
                            members.insert("kid".into(), Value::String(kid));
                            Ok(Value::Object(members))
                        }
                        Err(e) => Err((Some(kid), JwkError::PublicKey(e))),
                    }
                })
                .collect()),
            None => Err(JwksError::MissingKeys),
        },
        _ => Err(JwksError::NotAnObject),
    }
}

/// `{"kid": "-----BEGIN CERTIFICATE-----…", …}`: a non-empty object of PEM strings only.
fn is_certificate_map(obj: &Map<String, Value>) -> bool {
    !obj.is_empty()
        && obj
            .values()
            .all(|v| v.as_str().is_some_and(pem::looks_like_pem))
}
