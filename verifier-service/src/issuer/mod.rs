//! The token issuer: signing keys (the first signs, all are published), access tokens (RFC 9068
//! `at+jwt`), and opaque refresh tokens with their hashes and the sealed retry-grace successor.

pub mod jose;

use crate::net::Cidr;
use crate::store::sid;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use jose::jwk::Jwk;
use jose::sign::{header_kid, header_typ, SigningKey};
use jose::{Algorithm, JoseError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use warden_core::b64;

/// Claims the issuer sets itself; a create call's `claims` may not hold them.
pub const REGISTERED_CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "ver",
    "client_id",
];
/// `client_id` of the access tokens when `--client-id` is not given and there are several
/// audiences (with one, it is that audience).
pub const DEFAULT_CLIENT_ID: &str = "warden";
/// The JWS `typ` of access tokens (RFC 9068 §2.1); `application/at+jwt` is accepted too.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `Cache-Control: max-age` of the JWKS answer, in seconds. Short, so an added key is seen soon
/// even by clients without an unknown-`kid` refetch.
pub const JWKS_MAX_AGE_SECONDS: u64 = 300;
/// Random bytes in a refresh token (256 bits).
pub const REFRESH_SECRET_BYTES: usize = 32;
const REFRESH_SECRET_CHARS: usize = 43;
/// Domain separation of the key that seals a successor under its predecessor.
const SEAL_CONTEXT: &[u8] = b"warden refresh successor seal v1\0";
const NONCE_BYTES: usize = 12;

/// The life-cycle settings (flags `--issuer`, `--audience`, `--access-ttl-seconds`, ...).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub access_ttl_seconds: u64,
    pub refresh_idle_ttl_seconds: u64,
    pub refresh_retry_grace_seconds: u64,
    /// How many times the retry grace answers the predecessor of a refresh token (0: no bound).
    pub refresh_retry_max_uses: u64,
    /// `client_id` of the access tokens (RFC 9068 §2.2); `None`: the one audience, or
    /// [`DEFAULT_CLIENT_ID`] with several.
    pub client_id: Option<String>,
    /// Cookie mode: the `__Host-` cookie carrying the refresh token.
    pub refresh_cookie: Option<String>,
    pub refresh_rate_per_minute: u32,
    pub trusted_proxies: Vec<Cidr>,
}

/// The issuer: keys and settings.
#[derive(Debug)]
pub struct Issuer {
    keys: Vec<SigningKey>,
    pub settings: TokenSettings,
}

/// An access token just signed.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_in: i64,
    pub exp: i64,
}

/// Random bytes from the OS, failing as the issuer's other faults do.
fn random_bytes<const N: usize>() -> Result<[u8; N], JoseError> {
    crate::random::bytes::<N>().map_err(|e| JoseError(e.to_string()))
}

const COOKIE_PREFIX: &str = "__Host-";

/// `--refresh-cookie`: `__Host-` followed by RFC 6265 token characters (the browser then binds
/// the cookie to this host, `Secure`, `Path=/`).
pub fn check_cookie_name(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix(COOKIE_PREFIX).ok_or_else(|| {
        format!("--refresh-cookie `{name}` must start with `{COOKIE_PREFIX}` (the browser then binds it to this host, Secure, Path=/)")
    })?;
    let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if rest.is_empty() || !rest.bytes().all(token_char) {
        return Err(format!(
            "--refresh-cookie `{name}`: not a valid cookie name"
        ));
    }
    Ok(())
}

/// Loads one `--signing-key-file`: a private JWK (Ed25519, ES256 or RS256 of at least 2048 bits);
/// its `kid` is the RFC 7638 thumbprint, whatever the file says.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, String> {
    let what = || format!("--signing-key-file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", what()))?;
    let jwk: Jwk =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a private JWK: {e}", what()))?;
    if jwk.kty == "oct" || jwk.alg == Some(Algorithm::HS256) {
        return Err(format!(
            "{}: a shared secret (HS256) cannot be published; use an Ed25519, ES256 or RS256 key (`warden-verifier keygen --alg ES256`)",
            what()
        ));
    }
    if jwk.d.is_none() {
        return Err(format!("{}: the JWK has no private part (`d`)", what()));
    }
    let kid = jwk.thumbprint().map_err(|e| format!("{}: {e}", what()))?;
    SigningKey::from_jwk(&jwk, Some(kid)).map_err(|e| format!("{}: {e}", what()))
}

impl Issuer {
    pub fn new(keys: Vec<SigningKey>, settings: TokenSettings) -> Result<Issuer, String> {
        if keys.is_empty() {
            return Err("no signing key".into());
        }
        if settings.issuer.is_empty() {
            return Err("--issuer is required with --signing-key-file".into());
        }
        if settings.audiences.is_empty() || settings.audiences.iter().any(String::is_empty) {
            return Err(
                "--audience is required with --signing-key-file (repeat it for several)".into(),
            );
        }
        if settings.access_ttl_seconds == 0 || settings.refresh_idle_ttl_seconds == 0 {
            return Err(
                "--access-ttl-seconds and --refresh-idle-ttl-seconds must be at least 1".into(),
            );
        }
        if let Some(cookie) = &settings.refresh_cookie {
            check_cookie_name(cookie)?;
        }
        if settings
            .client_id
            .as_ref()
            .is_some_and(|id| id.is_empty() || id.chars().any(char::is_control))
        {
            return Err("--client-id must not be empty or hold control characters".into());
        }
        let mut kids = std::collections::HashSet::new();
        for key in &keys {
            if !kids.insert(key.kid().unwrap_or_default().to_owned()) {
                return Err(format!(
                    "--signing-key-file: the same key is listed twice (kid {})",
                    key.kid().unwrap_or_default()
                ));
            }
        }
        Ok(Issuer { keys, settings })
    }

    /// The key that signs (the first listed).
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.keys.first()
    }

    /// `{"keys": [...]}`: the public half of every listed key.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.is_public_key())
            .filter_map(|k| serde_json::to_value(k.public_jwk()).ok())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// `client_id` of the access tokens: `--client-id`, else the one audience, else
    /// [`DEFAULT_CLIENT_ID`].
    pub fn client_id(&self) -> &str {
        match (&self.settings.client_id, self.settings.audiences.as_slice()) {
            (Some(id), _) => id,
            (None, [one]) => one,
            (None, _) => DEFAULT_CLIENT_ID,
        }
    }

    fn audience_claim(&self) -> Value {
        match self.settings.audiences.as_slice() {
            [one] => Value::from(one.clone()),
            many => Value::from(many.to_vec()),
        }
    }

    /// Signs an access token for a session; it never outlives the session (`session_expires_at`).
    pub fn access_token(
        &self,
        sub: &str,
        sid: &str,
        version: u64,
        now: i64,
        session_expires_at: i64,
        extra: &Map<String, Value>,
    ) -> Result<AccessToken, JoseError> {
        let key = self
            .signing_key()
            .ok_or_else(|| JoseError("no signing key".into()))?;
        let ttl = i64::try_from(self.settings.access_ttl_seconds).unwrap_or(i64::MAX);
        let exp = now.saturating_add(ttl).min(session_expires_at);
        let jti = b64::encode(&random_bytes::<16>()?);
        let mut claims = extra.clone();
        for name in REGISTERED_CLAIMS {
            claims.remove(name);
        }
        claims.insert("iss".into(), Value::from(self.settings.issuer.clone()));
        claims.insert("aud".into(), self.audience_claim());
        claims.insert("sub".into(), Value::from(sub));
        claims.insert("sid".into(), Value::from(sid));
        claims.insert("jti".into(), Value::from(jti.clone()));
        claims.insert("ver".into(), Value::from(version));
        claims.insert("client_id".into(), Value::from(self.client_id()));
        claims.insert("iat".into(), Value::from(now));
        claims.insert("exp".into(), Value::from(exp));
        let token = key.sign(&claims, ACCESS_TOKEN_TYP)?;
        Ok(AccessToken {
            token,
            jti,
            expires_in: exp.saturating_sub(now).max(0),
            exp,
        })
    }

    /// The claims of an access token this issuer signed with any listed key, checked for
    /// signature, `typ` (`at+jwt`, RFC 9068 §4: so no other JWT signed with the same key passes
    /// as an access token), expiry (`exp` > now), issuer and audience. `None` otherwise.
    pub fn verify_access(&self, token: &str, now: i64) -> Option<Map<String, Value>> {
        if !is_access_token_typ(&header_typ(token)?) {
            return None;
        }
        let kid = header_kid(token)?;
        let key = self.keys.iter().find(|k| k.kid() == Some(kid.as_str()))?;
        let claims = key.verify(token, now).ok()?;
        let exp = claims.get("exp")?.as_i64()?;
        if exp <= now {
            return None;
        }
        if claims.get("iss")?.as_str()? != self.settings.issuer {
            return None;
        }
        let audiences: Vec<&str> = match claims.get("aud")? {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        if !audiences
            .iter()
            .any(|a| self.settings.audiences.iter().any(|ours| ours == a))
        {
            return None;
        }
        Some(claims)
    }
}

/// Whether a JWS `typ` names an RFC 9068 access token: `at+jwt` or `application/at+jwt`, in any
/// case (RFC 7515 §4.1.9: media type names are case-insensitive).
pub fn is_access_token_typ(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").unwrap_or(&typ) == ACCESS_TOKEN_TYP
}

/// A refresh token: `<sid>.<43 base64url characters of 256 random bits>`. The sid locates the
/// family's slot; only the hash of the whole token is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    pub fn generate(sid: &str) -> Result<RefreshToken, JoseError> {
        let secret = random_bytes::<REFRESH_SECRET_BYTES>()?;
        Ok(RefreshToken(format!("{sid}.{}", b64::encode(&secret))))
    }

    /// Accepts text of the exact shape `generate` makes.
    pub fn parse(text: &str) -> Option<RefreshToken> {
        let (sid, secret) = text.rsplit_once('.')?;
        sid::owner_tag(sid)?;
        let secret_ok = secret.len() == REFRESH_SECRET_CHARS && b64::is_alphabet(secret);
        secret_ok.then(|| RefreshToken(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn sid(&self) -> &str {
        self.0.rsplit_once('.').map_or("", |(sid, _)| sid)
    }

    /// The stored form: SHA-256, hex.
    pub fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn seal_key(&self) -> Aes256Gcm {
        let mut hasher = Sha256::new();
        hasher.update(SEAL_CONTEXT);
        hasher.update(self.0.as_bytes());
        let key = hasher.finalize();
        Aes256Gcm::new(&key)
    }

    /// `successor` encrypted (AES-256-GCM) under a key derived from this token: readable only by
    /// whoever presents this token again.
    pub fn seal(&self, successor: &RefreshToken) -> Result<String, JoseError> {
        let nonce = random_bytes::<NONCE_BYTES>()?;
        let aad = self.hash();
        let sealed = self
            .seal_key()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: successor.0.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| JoseError("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(b64::encode(&out))
    }

    /// Opens what [`RefreshToken::seal`] made with this token.
    pub fn open(&self, sealed: &str) -> Option<RefreshToken> {
        let bytes = b64::decode(sealed)?;
        let (nonce, ciphertext) = (bytes.get(..NONCE_BYTES)?, bytes.get(NONCE_BYTES..)?);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let aad = self.hash();
        let plain = self
            .seal_key()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .ok()?;
        RefreshToken::parse(std::str::from_utf8(&plain).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::UserTag;

    #[test]
    fn cookie_names_must_be_host_prefixed() {
        assert!(check_cookie_name("__Host-rt").is_ok());
        for bad in ["rt", "__Secure-rt", "__Host-", "__Host-a b", "__Host-a;b"] {
            assert!(check_cookie_name(bad).is_err(), "{bad}");
        }
    }

    fn sid() -> String {
        sid::new_sid(&UserTag::of_sub("alice")).unwrap()
    }

    #[test]
    fn refresh_tokens_have_256_random_bits_and_parse_back() {
        let sid = sid();
        let a = RefreshToken::generate(&sid).unwrap();
        let b = RefreshToken::generate(&sid).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.sid(), sid);
        assert_eq!(RefreshToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.hash().len(), 64);
        assert!(!format!("{a:?}").contains(a.as_str()));
        for bad in [
            String::new(),
            sid.clone(),
            format!("{sid}.short"),
            format!("made-up.{}", "a".repeat(43)),
            format!("{sid}.{}!", "a".repeat(42)),
        ] {
            assert_eq!(RefreshToken::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn sealed_successor_opens_only_with_its_predecessor() {
        let sid = sid();
        let a = RefreshToken::generate(&sid).unwrap();
        let b = RefreshToken::generate(&sid).unwrap();
        let sealed = a.seal(&b).unwrap();
        assert!(!sealed.contains(b.as_str()));
        assert_eq!(a.open(&sealed), Some(b.clone()));
        let c = RefreshToken::generate(&sid).unwrap();
        assert_eq!(c.open(&sealed), None);
        assert_eq!(b.open(&sealed), None);
        let mut tampered = b64::decode(&sealed).unwrap();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(a.open(&b64::encode(&tampered)), None);
    }

    #[test]
    fn access_tokens_carry_the_contract_claims() {
        let jwk: Jwk =
            serde_json::from_value(warden_testkit::keys().private_jwk(Algorithm::ES256)).unwrap();
        let kid = jwk.thumbprint().unwrap();
        let key = SigningKey::from_jwk(&jwk, Some(kid.clone())).unwrap();
        let issuer = Issuer::new(
            vec![key],
            TokenSettings::new("https://issuer", vec!["api".into()]),
        )
        .unwrap();
        let mut extra = Map::new();
        extra.insert("role".into(), Value::from("admin"));
        let token = issuer
            .access_token("alice", "s", 4, 1_000, 1_300, &extra)
            .unwrap();
        assert_eq!(token.exp, 1_300, "capped by the session");
        assert_eq!(token.expires_in, 300);
        let claims = issuer.verify_access(&token.token, 1_000).unwrap();
        assert_eq!(claims["aud"], "api");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["ver"], 4);
        assert_eq!(issuer.verify_access(&token.token, 1_300), None, "expired");
        let jwks = issuer.jwks();
        assert_eq!(jwks["keys"][0]["kid"], kid);
        assert!(jwks["keys"][0].get("d").is_none());
    }
}
