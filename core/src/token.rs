//! Compact JWS/JWT verification (RFC 7515, RFC 7519, RFC 8725): structure, header, signature,
//! then claims, each failure mapped to one reason code. Time is passed in.

use crate::alg::Algorithm;
use crate::b64;
use crate::host_crypto::SignatureBackends;
use crate::jwk::KeySet;
use crate::Reason;
use serde_json::{Map, Value};

/// Latest NumericDate accepted: 9999-12-31T23:59:59Z. Anything later is treated as malformed.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

pub type Claims = Map<String, Value>;

/// What a provider demands of a token, besides a good signature.
#[derive(Debug, Clone)]
pub struct Requirements {
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    /// Allow-list; `None` allows every algorithm Warden supports.
    pub algorithms: Option<Vec<Algorithm>>,
    pub clock_skew_seconds: i64,
    pub require_expiration: bool,
    pub max_token_bytes: usize,
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            issuer: None,
            audiences: Vec::new(),
            algorithms: None,
            clock_skew_seconds: 60,
            require_expiration: true,
            max_token_bytes: 8192,
        }
    }
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct Decoded<'t> {
    pub alg: Algorithm,
    pub kid: Option<String>,
    signing_input: &'t str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Structural checks: size, three segments, strict base64url, a JSON object header with a
/// supported `alg` and no `crit`. Header `jwk`, `jku`, `x5u` and `x5c` are ignored: keys come
/// only from configuration.
pub fn decode<'t>(token: &'t str, req: &Requirements) -> Result<Decoded<'t>, Reason> {
    if token.len() > req.max_token_bytes {
        return Err(Reason::TokenTooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::TokenMalformed);
    };
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(Reason::TokenMalformed)?;
    let header_bytes = b64::decode(header_b64).ok_or(Reason::TokenMalformed)?;
    let payload = b64::decode(payload_b64).ok_or(Reason::TokenMalformed)?;
    let signature = b64::decode(signature_b64).ok_or(Reason::TokenMalformed)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&header_bytes).map_err(|_| Reason::TokenMalformed)?;

    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Reason::TokenMalformed)?;
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(Reason::AlgorithmNotAllowed);
    }
    let alg = Algorithm::from_name(alg_name).ok_or(Reason::AlgorithmNotAllowed)?;
    if let Some(allowed) = &req.algorithms {
        if !allowed.contains(&alg) {
            return Err(Reason::AlgorithmNotAllowed);
        }
    }
    // RFC 7515 §4.1.11: Warden understands no extension, so any `crit` is unsupported.
    if header.contains_key("crit") {
        return Err(Reason::CritUnsupported);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(Reason::TokenMalformed),
    };
    Ok(Decoded {
        alg,
        kid,
        signing_input,
        payload,
        signature,
    })
}

impl Decoded<'_> {
    /// Checks the signature with the keys that fit the algorithm (and the `kid`, if any), then
    /// parses the claims.
    pub fn verify_signature(&self, keys: &KeySet) -> Result<Claims, Reason> {
        self.verify_signature_with(keys, &SignatureBackends::in_wasm())
    }

    /// [`Decoded::verify_signature`] with each algorithm checked where `backends` says.
    pub fn verify_signature_with(
        &self,
        keys: &KeySet,
        backends: &SignatureBackends,
    ) -> Result<Claims, Reason> {
        let mut candidates = keys.candidates(self.alg, self.kid.as_deref()).peekable();
        if candidates.peek().is_none() {
            return Err(Reason::KeyNotFound);
        }
        if self.signature.is_empty() {
            return Err(Reason::SignatureInvalid);
        }
        let input = self.signing_input.as_bytes();
        if !candidates.any(|key| backends.verify(key, self.alg, input, &self.signature)) {
            return Err(Reason::SignatureInvalid);
        }
        serde_json::from_slice(&self.payload).map_err(|_| Reason::TokenMalformed)
    }
}

/// Claim checks that depend on time and configuration; a cache hit runs only [`check_dates`]
/// again, on the dates kept from this check (the rest cannot change under one configuration).
pub fn check_claims(claims: &Claims, req: &Requirements, now: i64) -> Result<(), Reason> {
    check_claim_types(claims)?;
    let dates = claim_dates(claims)?;
    if dates.exp.is_none() && req.require_expiration {
        return Err(Reason::ClaimMissing);
    }
    check_dates(&dates, req, now)?;
    if let Some(issuer) = &req.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(Reason::IssuerMismatch);
        }
    }
    if !req.audiences.is_empty() {
        let wanted = |aud: &str| req.audiences.iter().any(|a| a == aud);
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => wanted(aud),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(wanted),
            _ => false,
        };
        if !ok {
            return Err(Reason::AudienceMismatch);
        }
    }
    Ok(())
}

/// A token's NumericDates, read once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dates {
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

/// `exp`, `nbf` and `iat` (see [`numeric_date`]).
pub fn claim_dates(claims: &Claims) -> Result<Dates, Reason> {
    Ok(Dates {
        exp: numeric_date(claims, "exp")?,
        nbf: numeric_date(claims, "nbf")?,
        iat: numeric_date(claims, "iat")?,
    })
}

/// The time checks: `exp` (with the clock skew), then `nbf` and `iat` not in the future.
pub fn check_dates(dates: &Dates, req: &Requirements, now: i64) -> Result<(), Reason> {
    let skew = req.clock_skew_seconds;
    if dates.exp.is_some_and(|exp| now.saturating_sub(skew) >= exp) {
        return Err(Reason::TokenExpired);
    }
    if dates.nbf.is_some_and(|nbf| now.saturating_add(skew) < nbf) {
        return Err(Reason::TokenNotYetValid);
    }
    if dates.iat.is_some_and(|iat| now.saturating_add(skew) < iat) {
        return Err(Reason::TokenNotYetValid);
    }
    Ok(())
}

/// The types of the registered claims (RFC 7519 §4.1), checked whatever the configuration:
/// `iss` and `sub` are StringOrURI (§4.1.1, §4.1.2), `aud` one string or an array of them
/// (§4.1.3), `exp`, `nbf` and `iat` NumericDates (§4.1.4–4.1.6), `jti` a string (§4.1.7);
/// Warden's own `sid` is a string and `ver` an unsigned integer. A claim of another type makes
/// the token malformed even when no check reads it: an upstream might.
pub fn check_claim_types(claims: &Claims) -> Result<(), Reason> {
    for name in ["iss", "sub", "jti", "sid"] {
        if claims.get(name).is_some_and(|v| !v.is_string()) {
            return Err(Reason::TokenMalformed);
        }
    }
    match claims.get("aud") {
        None | Some(Value::String(_)) => {}
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {}
        Some(_) => return Err(Reason::TokenMalformed),
    }
    for name in ["exp", "nbf", "iat"] {
        numeric_date(claims, name)?;
    }
    if claims.get("ver").is_some_and(|v| v.as_u64().is_none()) {
        return Err(Reason::TokenMalformed);
    }
    Ok(())
}

/// A NumericDate claim: absent, or a JSON number of seconds in [0, `MAX_NUMERIC_DATE`],
/// fractions truncated (RFC 7519 §2 allows non-integer values; Envoy's `jwt_authn` truncates
/// them too). Strings, negative and out-of-range values are malformed.
pub fn numeric_date(claims: &Claims, name: &str) -> Result<Option<i64>, Reason> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => numeric_date_value(n).map(Some),
        Some(_) => Err(Reason::TokenMalformed),
    }
}

/// A JSON number as a NumericDate (see `numeric_date`).
pub fn numeric_date_value(n: &serde_json::Number) -> Result<i64, Reason> {
    if let Some(v) = n.as_i64() {
        return if (0..=MAX_NUMERIC_DATE).contains(&v) {
            Ok(v)
        } else {
            Err(Reason::TokenMalformed)
        };
    }
    match n.as_f64() {
        // `MAX_NUMERIC_DATE + 1` is exact in an f64 (below 2⁵³), so the bound is exact too.
        #[allow(clippy::cast_possible_truncation)] // in range, checked just above
        Some(v) if v >= 0.0 && v < (MAX_NUMERIC_DATE + 1) as f64 => Ok(v.trunc() as i64),
        _ => Err(Reason::TokenMalformed),
    }
}

/// The `iss` a token claims, read before its signature is checked: only to pick a provider or
/// to refuse a token that is not the provider's own, never to accept one.
pub fn unverified_issuer(token: &str) -> Option<String> {
    let payload_b64 = token.split('.').nth(1)?;
    let payload = b64::decode(payload_b64)?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload).ok()?;
    match claims.get("iss") {
        Some(Value::String(iss)) => Some(iss.clone()),
        _ => None,
    }
}

/// Full local verification: decode, signature, claims.
pub fn verify(token: &str, req: &Requirements, keys: &KeySet, now: i64) -> Result<Claims, Reason> {
    let decoded = decode(token, req)?;
    let claims = decoded.verify_signature(keys)?;
    check_claims(&claims, req, now)?;
    Ok(claims)
}
