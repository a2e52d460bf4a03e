//! The filter's decision for one request, independent of the proxy: which rule applies, which
//! provider's token verifies, what to forward, and what to ask the verifier.

use crate::cache::TokenCache;
use crate::config::{Config, TokenSource};
use crate::extract::{self, Extracted, Headers};
use crate::keystore::KeyStore;
use crate::protocol::{CheckRequest, CheckResponse, MAX_ID_BYTES};
use crate::rules;
use crate::token::{self, Claims};
use crate::Reason;
use serde_json::Value;
use std::rc::Rc;

#[derive(Debug)]
pub enum Outcome {
    /// No rule matched, or the matching rule needs no token.
    Unprotected,
    Allowed(Allowed),
    Denied(Reason),
    /// Provider `0`'s remote key set lacks the token's `kid` (or is not loaded yet):
    /// fetch it if allowed, then evaluate again.
    NeedKeys(usize),
}

#[derive(Debug)]
pub struct Allowed {
    pub provider: usize,
    pub claims: Rc<Claims>,
    /// Which of the provider's token sources held the token.
    pub source: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheUse {
    pub hits: u32,
    pub misses: u32,
}

pub struct Context<'a> {
    pub config: &'a Config,
    pub keys: &'a KeyStore,
    pub cache: &'a mut TokenCache,
    pub now: i64,
    /// Whether a missing remote key may still be fetched for this request.
    pub may_fetch_keys: bool,
}

pub fn authenticate(ctx: &mut Context<'_>, headers: &Headers) -> (Outcome, CacheUse) {
    let mut used = CacheUse::default();
    let path = extract::header(headers, ":path").unwrap_or("/");
    let Some(rule) = rules::matching_rule(&ctx.config.rules, path) else {
        return (Outcome::Unprotected, used);
    };
    if rule.requires_any.is_empty() {
        return (Outcome::Unprotected, used);
    }
    let mut first_failure: Option<Outcome> = None;
    let mut saw_empty = false;
    for &idx in &rule.requires_any {
        let Some(provider) = ctx.config.providers.get(idx) else {
            continue;
        };
        let outcome = match extract::extract(&provider.sources, headers) {
            Extracted::Found(token, source) => verify_with(ctx, idx, token, source, &mut used),
            // Two copies of the token: the upstream might read the one not verified here.
            Extracted::Duplicate => Outcome::Denied(Reason::TokenMalformed),
            Extracted::Empty => {
                saw_empty = true;
                continue;
            }
            Extracted::Missing => continue,
        };
        if matches!(outcome, Outcome::Allowed(_)) {
            return (outcome, used);
        }
        // A provider that may still verify the token once its keys are fetched outranks a refusal.
        match (&first_failure, &outcome) {
            (None, _) | (Some(Outcome::Denied(_)), Outcome::NeedKeys(_)) => {
                first_failure = Some(outcome)
            }
            _ => {}
        }
    }
    let outcome = first_failure.unwrap_or(Outcome::Denied(if saw_empty {
        Reason::TokenMalformed
    } else {
        Reason::TokenMissing
    }));
    (outcome, used)
}

fn verify_with(
    ctx: &mut Context<'_>,
    idx: usize,
    token: &str,
    source: usize,
    used: &mut CacheUse,
) -> Outcome {
    let Some(provider) = ctx.config.providers.get(idx) else {
        return Outcome::Denied(Reason::KeyNotFound);
    };
    let req = &provider.requirements;
    if token.len() > req.max_token_bytes {
        return Outcome::Denied(Reason::TokenTooLarge);
    }
    let cache_key = TokenCache::key(idx, token);
    let generation = ctx.keys.generation();
    if let Some(claims) = ctx.cache.get(&cache_key, generation) {
        used.hits += 1;
        return match token::check_claims(&claims, req, ctx.now) {
            Ok(()) => Outcome::Allowed(Allowed {
                provider: idx,
                claims,
                source,
            }),
            Err(reason) => Outcome::Denied(reason),
        };
    }
    used.misses += 1;
    let decoded = match token::decode(token, req) {
        Ok(d) => d,
        Err(reason) => return Outcome::Denied(reason),
    };
    let keys = ctx.keys.keys(ctx.config, idx);
    let kid_unknown = match (keys, decoded.kid.as_deref()) {
        (None, _) => true,
        (Some(set), Some(kid)) => !set.has_kid(kid),
        (Some(_), None) => false,
    };
    if kid_unknown && ctx.keys.is_remote(idx) && ctx.may_fetch_keys {
        return Outcome::NeedKeys(idx);
    }
    let Some(keys) = keys else {
        return Outcome::Denied(Reason::KeyNotFound);
    };
    let claims = match decoded.verify_signature(keys) {
        Ok(c) => Rc::new(c),
        Err(reason) => return Outcome::Denied(reason),
    };
    if let Err(reason) = token::check_claims(&claims, req, ctx.now) {
        return Outcome::Denied(reason);
    }
    ctx.cache.insert(cache_key, claims.clone(), generation);
    Outcome::Allowed(Allowed {
        provider: idx,
        claims,
        source,
    })
}

/// Header changes to make before forwarding. `set` replaces any existing value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub remove: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// Spoofed claim headers are always removed; on success they are set from the verified claims,
/// and the token is removed unless the provider forwards it.
pub fn forwarding(config: &Config, allowed: Option<&Allowed>, headers: &Headers) -> Forwarding {
    let mut out = Forwarding {
        remove: config.claim_header_names.clone(),
        set: Vec::new(),
    };
    let Some(allowed) = allowed else { return out };
    let Some(provider) = config.providers.get(allowed.provider) else {
        return out;
    };
    for mapping in &provider.claim_to_headers {
        if let Some(value) = allowed
            .claims
            .get(&mapping.claim_name)
            .and_then(claim_header_value)
        {
            out.set.push((mapping.header_name.clone(), value));
        }
    }
    if !provider.forward {
        match provider.sources.get(allowed.source) {
            Some(TokenSource::Header { name, .. }) => out.remove.push(name.clone()),
            Some(TokenSource::Param(name)) => {
                if let Some(path) = extract::header(headers, ":path") {
                    out.set
                        .push((":path".into(), extract::path_without_param(path, name)));
                }
            }
            Some(TokenSource::Cookie(name)) => {
                let cookies: Vec<&str> = headers
                    .iter()
                    .filter(|(n, _)| n == "cookie")
                    .map(|(_, v)| v.as_str())
                    .collect();
                match extract::cookies_without(&cookies.join("; "), name) {
                    Some(rest) => out.set.push(("cookie".into(), rest)),
                    None => out.remove.push("cookie".into()),
                }
            }
            None => {}
        }
    }
    out
}

/// Strings as they are, numbers and booleans as JSON text, arrays of those joined with `,`.
/// Values with control characters are not forwarded.
fn claim_header_value(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|v| match v {
                    Value::Array(_) | Value::Object(_) | Value::Null => None,
                    other => claim_header_value(other),
                })
                .collect();
            parts?.join(",")
        }
        _ => return None,
    };
    if text.bytes().any(|b| b < 0x20 || b == 0x7f) || text.len() > 4096 {
        return None;
    }
    Some(text)
}

/// The verifier request for an allowed token; a token without string `sub` and `jti` cannot be
/// checked for revocation and is refused.
pub fn check_request(claims: &Claims) -> Result<CheckRequest, Reason> {
    let id = |name: &str| -> Result<Option<String>, Reason> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(Reason::TokenMalformed),
        }
    };
    let sub = id("sub")?.ok_or(Reason::ClaimMissing)?;
    let jti = id("jti")?.ok_or(Reason::ClaimMissing)?;
    let sid = id("sid")?;
    let ver = match claims.get("ver") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(Reason::TokenMalformed)?),
    };
    Ok(CheckRequest {
        sub,
        jti,
        sid,
        ver,
        iat: token::numeric_date(claims, "iat")?,
        exp: token::numeric_date(claims, "exp")?.unwrap_or(0),
        iss: claims
            .get("iss")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(Reason),
    /// Not a clear answer: apply the failure mode.
    Failure,
}

/// Reads the verifier's answer. Only `200` with a well-formed body is an answer.
pub fn verifier_verdict(status: Option<u32>, body: &[u8]) -> Verdict {
    if status != Some(200) {
        return Verdict::Failure;
    }
    let Ok(raw) = serde_json::from_slice::<Value>(body) else {
        return Verdict::Failure;
    };
    match raw.get("allow") {
        Some(Value::Bool(true)) => Verdict::Allow,
        Some(Value::Bool(false)) => {
            let reason = raw
                .get("reason")
                .and_then(Value::as_str)
                .and_then(Reason::parse);
            Verdict::Deny(deny_reason(reason))
        }
        _ => Verdict::Failure,
    }
}

/// A verifier deny is always a 401 `invalid_token`, even when the reason is one this filter does
/// not know or one that would change the kind of answer (no token, unavailable).
fn deny_reason(reason: Option<Reason>) -> Reason {
    match reason {
        None | Some(Reason::TokenMissing | Reason::VerifierUnavailable) => Reason::Revoked,
        Some(r) => r,
    }
}

impl From<CheckResponse> for Verdict {
    fn from(r: CheckResponse) -> Self {
        if r.allow {
            Verdict::Allow
        } else {
            Verdict::Deny(deny_reason(r.reason))
        }
    }
}
