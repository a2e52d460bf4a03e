//! `warden-verifier mint`: a compact JWS with the claims given on the command line.

use crate::config::cli::MintArgs;
use crate::issuer::jose::jwk::Jwk;
use crate::issuer::jose::sign::SigningKey;
use crate::issuer::jose::JoseError;
use serde_json::{Map, Value};
use warden_core::b64;

/// The claims of a minted token, before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct MintRequest {
    pub sub: String,
    pub iss: Option<String>,
    pub aud: Option<String>,
    pub sid: Option<String>,
    pub ver: Option<u64>,
    pub jti: String,
    pub iat: i64,
    pub ttl: i64,
    pub extra: Vec<(String, Value)>,
    pub omit: Vec<String>,
}

/// The claims object for `request`: registered claims first, then extras (which may override).
pub fn claims(request: &MintRequest) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), Value::from(request.sub.clone()));
    if let Some(iss) = &request.iss {
        claims.insert("iss".into(), Value::from(iss.clone()));
    }
    if let Some(aud) = &request.aud {
        claims.insert("aud".into(), Value::from(aud.clone()));
    }
    if let Some(sid) = &request.sid {
        claims.insert("sid".into(), Value::from(sid.clone()));
    }
    if let Some(ver) = request.ver {
        claims.insert("ver".into(), Value::from(ver));
    }
    claims.insert("jti".into(), Value::from(request.jti.clone()));
    claims.insert("iat".into(), Value::from(request.iat));
    claims.insert(
        "exp".into(),
        Value::from(request.iat.saturating_add(request.ttl)),
    );
    for (name, value) in &request.extra {
        claims.insert(name.clone(), value.clone());
    }
    for name in &request.omit {
        claims.remove(name);
    }
    claims
}

/// Signs `claims` with `jwk` (which must carry `alg`); the header has `alg`, `typ` (`JWT`) and
/// `kid`.
pub fn mint(jwk: &Jwk, claims: &Map<String, Value>) -> Result<String, JoseError> {
    mint_with_typ(jwk, claims, "JWT")
}

/// [`mint`] with another `typ`, e.g. `at+jwt` for a token the verifier's own checks accept as
/// one of its access tokens.
pub fn mint_with_typ(
    jwk: &Jwk,
    claims: &Map<String, Value>,
    typ: &str,
) -> Result<String, JoseError> {
    if jwk.alg.is_none() {
        return fail("the private JWK has no `alg`; make it with `warden-verifier keygen`");
    }
    SigningKey::from_jwk(jwk, jwk.kid.clone())?.sign(claims, typ)
}

/// `NAME=VALUE`, VALUE as JSON when it parses, else as a string.
pub fn parse_claim(text: &str) -> Result<(String, Value), JoseError> {
    let Some((name, value)) = text.split_once('=') else {
        return fail(format!("--claim `{text}`: expected NAME=VALUE"));
    };
    if name.is_empty() {
        return fail(format!("--claim `{text}`: empty claim name"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
    Ok((name.to_owned(), value))
}

fn fail<T>(message: impl Into<String>) -> Result<T, JoseError> {
    Err(JoseError(message.into()))
}

fn random_jti() -> Result<String, JoseError> {
    let bytes = crate::random::bytes::<16>().map_err(|e| JoseError(e.to_string()))?;
    Ok(b64::encode(&bytes))
}

pub fn main(args: &MintArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.key)
        .map_err(|e| format!("cannot read the key file {}: {e}", args.key.display()))?;
    let jwk: Jwk = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a private JWK: {e}", args.key.display()))?;
    let now = crate::clock::unix_now().map_err(|e| e.to_string())?;
    let extra = args
        .claims
        .iter()
        .map(|c| parse_claim(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let request = MintRequest {
        sub: args.sub.clone(),
        iss: args.iss.clone(),
        aud: args.aud.clone(),
        sid: args.sid.clone(),
        ver: args.ver,
        jti: match &args.jti {
            Some(jti) => jti.clone(),
            None => random_jti().map_err(|e| e.to_string())?,
        },
        iat: args.iat.unwrap_or(now),
        ttl: args.ttl,
        extra,
        omit: args.omit.clone(),
    };
    let token = mint_with_typ(&jwk, &claims(&request), &args.typ).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> MintRequest {
        MintRequest {
            sub: "alice".into(),
            iss: Some("https://issuer".into()),
            aud: None,
            sid: None,
            ver: Some(3),
            jti: "j1".into(),
            iat: 1000,
            ttl: 60,
            extra: vec![],
            omit: vec![],
        }
    }

    #[test]
    fn claims_from_request() {
        let claims = claims(&request());
        assert_eq!(claims.get("exp"), Some(&Value::from(1060)));
        assert_eq!(claims.get("ver"), Some(&Value::from(3)));
        assert_eq!(claims.get("aud"), None);
        let mut r = request();
        r.extra = vec![
            parse_claim("roles=[\"a\",\"b\"]").unwrap(),
            parse_claim("email=a@b").unwrap(),
        ];
        r.omit = vec!["jti".into()];
        r.ttl = -10;
        let claims = super::claims(&r);
        assert_eq!(claims.get("roles"), Some(&serde_json::json!(["a", "b"])));
        assert_eq!(claims.get("email"), Some(&Value::from("a@b")));
        assert_eq!(claims.get("jti"), None);
        assert_eq!(claims.get("exp"), Some(&Value::from(990)));
    }

    #[test]
    fn parse_claim_errors() {
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=1").is_err());
        assert_eq!(parse_claim("n=1").unwrap(), ("n".into(), Value::from(1)));
    }
}
