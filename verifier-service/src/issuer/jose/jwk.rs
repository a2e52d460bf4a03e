//! The JWK shape written and read by `keygen` and `mint` (RFC 7517/7518/8037), and the
//! RFC 7638 thumbprint used as the default `kid`.

use super::{Algorithm, JoseError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_core::b64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::alg_member"
    )]
    pub alg: Option<Algorithm>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
}

impl Jwk {
    pub fn empty(kty: &str) -> Jwk {
        Jwk {
            kty: kty.to_owned(),
            kid: None,
            alg: None,
            key_use: None,
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            k: None,
        }
    }

    /// The public half (for `oct` keys the secret itself: HS256 verifiers need it).
    pub fn public(&self) -> Jwk {
        if self.kty == "oct" {
            return self.clone();
        }
        Jwk {
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            ..self.clone()
        }
    }

    pub fn member<'a>(
        &'a self,
        name: &str,
        value: &'a Option<String>,
    ) -> Result<&'a str, JoseError> {
        value
            .as_deref()
            .ok_or_else(|| JoseError(format!("JWK ({}) lacks member `{name}`", self.kty)))
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexical order, base64url.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        let canonical = match self.kty.as_str() {
            "EC" => serde_json::json!({
                "crv": self.member("crv", &self.crv)?, "kty": "EC",
                "x": self.member("x", &self.x)?, "y": self.member("y", &self.y)?,
            }),
            "OKP" => serde_json::json!({
                "crv": self.member("crv", &self.crv)?, "kty": "OKP", "x": self.member("x", &self.x)?,
            }),
            "RSA" => serde_json::json!({
                "e": self.member("e", &self.e)?, "kty": "RSA", "n": self.member("n", &self.n)?,
            }),
            "oct" => serde_json::json!({ "k": self.member("k", &self.k)?, "kty": "oct" }),
            other => return super::fail(format!("unsupported key type `{other}`")),
        };
        // serde_json's map is ordered by key, which gives the lexical order RFC 7638 asks for.
        let text = serde_json::to_string(&canonical).map_err(|e| JoseError(e.to_string()))?;
        Ok(b64::encode(&Sha256::digest(text.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // The RSA key of RFC 7638 §3.1.
        let mut jwk = Jwk::empty("RSA");
        jwk.e = Some("AQAB".into());
        jwk.n = Some(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
                .into(),
        );
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn public_drops_private_members() {
        let mut jwk = Jwk::empty("EC");
        jwk.d = Some("secret".into());
        jwk.x = Some("x".into());
        assert_eq!(jwk.public().d, None);
        assert_eq!(jwk.public().x.as_deref(), Some("x"));
        let mut oct = Jwk::empty("oct");
        oct.k = Some("k".into());
        assert_eq!(oct.public().k.as_deref(), Some("k"));
    }
}
