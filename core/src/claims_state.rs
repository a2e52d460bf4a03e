//! Claims as request filter state, for Envoy's RBAC filter (`filter_state` matcher), access logs
//! (`%FILTER_STATE(wasm.<key>:PLAIN)%`) and later filters: jwt_authn's `payload_in_metadata`,
//! `header_in_metadata`, `failed_status_in_metadata` and `normalize_payload_in_metadata`, written
//! where a wasm filter can write (it cannot write dynamic metadata, envoy#15148).
//!
//! On success, for a provider with `payload_in_filter_state: KEY`: `KEY` = the payload JSON
//! (space-delimited claims as arrays) and `KEY.<claim>` for each top-level claim that is a
//! string, number, boolean or array of those (joined with `,`). `header_in_filter_state: KEY`:
//! the JOSE header JSON. On failure, `failed_status_in_filter_state: KEY`:
//! `{"code":<HTTP status>,"message":"<reason>"}`, `KEY.code` and `KEY.message`.
//!
//! A value is left out rather than written in a form a policy could misread: values with control
//! characters, values over [`MAX_CLAIM_VALUE_BYTES`], arrays whose elements hold a `,` (the join
//! would be ambiguous), claim names that are not printable ASCII, and whatever no longer fits in
//! [`MAX_FILTER_STATE_BYTES`] for the request. A left-out key is absent, so RBAC policies should
//! grant on a match (ALLOW) rather than refuse on one (DENY).

use crate::answer;
use crate::b64;
use crate::config::{ClaimsState, Config, MAX_FILTER_STATE_KEY_BYTES};
use crate::extract::Headers;
use crate::token::Claims;
use crate::Reason;
use serde_json::{Map, Value};

/// Bytes (keys plus values) of claims filter state written for one request at most: the
/// per-claim keys first, then the payload JSON, then the header JSON. Envoy keeps filter state
/// for the life of the request, so this bounds what one token can make each request hold.
pub const MAX_FILTER_STATE_BYTES: usize = 16 * 1024;
/// Longest single claim value written under `KEY.<claim>` (as for claim headers).
pub const MAX_CLAIM_VALUE_BYTES: usize = 4096;

/// Filter state entries under a byte budget.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub written: Vec<(String, String)>,
    bytes: usize,
    /// Entries left out: a value not fit to write, or over the budget.
    pub skipped: usize,
}

impl Entries {
    fn push(&mut self, key: String, value: String) {
        let size = key.len() + value.len();
        if self.bytes + size > MAX_FILTER_STATE_BYTES {
            self.skipped += 1;
            return;
        }
        self.bytes += size;
        self.written.push((key, value));
    }
}

/// One verified token: its provider's keys, its claims and the compact token (for the header).
pub struct VerifiedToken<'a> {
    pub keys: &'a ClaimsState,
    pub claims: &'a Claims,
    pub token: Option<&'a str>,
}

/// The entries for the tokens a request verified, in the order the tokens were verified. Two
/// providers with the same key: the later token's entries take the key, and none of the earlier
/// token's entries under it are written (a policy never sees claims of two tokens mixed).
pub fn verified(tokens: &[VerifiedToken<'_>]) -> Entries {
    let mut out = Entries::default();
    let mut taken: Vec<&str> = Vec::new();
    for token in tokens.iter().rev() {
        let keys = token.keys;
        if let Some(key) = keys.payload_key.as_deref() {
            if !taken.contains(&key) {
                taken.push(key);
                payload(key, token.claims, &keys.space_delimited_claims, &mut out);
            }
        }
        if let Some(key) = keys.header_key.as_deref() {
            if !taken.contains(&key) {
                taken.push(key);
                if let Some(header) = token.token.and_then(header_json) {
                    out.push(key.to_owned(), header);
                }
            }
        }
    }
    out
}

/// The entries for the tokens a forwarded request verified: `(provider, claims, source)` in
/// the order they verified.
pub fn for_tokens(
    config: &Config,
    tokens: &[(usize, &Claims, usize)],
    headers: &Headers,
) -> Entries {
    let mut verified_tokens = Vec::with_capacity(tokens.len());
    for &(index, claims, source) in tokens {
        let Some(provider) = config.providers.get(index) else {
            continue;
        };
        if provider.claims_state.is_empty() {
            continue;
        }
        // The header is read again from the token (the verified-token cache keeps only the
        // claims); a source holding two tokens was refused before this point.
        let token = match provider.sources.get(source).map(|s| s.values(headers)) {
            Some(values) if values.len() == 1 => values.first().map(|t| t.trim()),
            _ => None,
        };
        verified_tokens.push(VerifiedToken {
            keys: &provider.claims_state,
            claims,
            token,
        });
    }
    verified(&verified_tokens)
}

/// The entries for a request refused for `reason`. `provider`: the provider whose token's
/// failure decided it; `None` (no token) names the only provider when the configuration has one,
/// as jwt_authn does. Refusals that are not about a token (`path_rejected`,
/// `requirement_unknown`) write nothing.
pub fn for_failure(config: &Config, provider: Option<usize>, reason: Reason) -> Entries {
    if matches!(reason, Reason::PathRejected | Reason::RequirementUnknown) {
        return Entries::default();
    }
    let provider = match (provider, config.providers.as_slice()) {
        (Some(index), _) => config.providers.get(index),
        (None, [only]) => Some(only),
        (None, _) => None,
    };
    provider.map_or_else(Entries::default, |p| failed(&p.claims_state, reason))
}

/// The entries for a provider whose token failed (or was missing) with `reason`.
pub fn failed(keys: &ClaimsState, reason: Reason) -> Entries {
    let mut out = Entries::default();
    if let Some(key) = keys.failed_status_key.as_deref() {
        let status = answer::deny(reason).status;
        let value = serde_json::json!({ "code": status, "message": reason.as_str() }).to_string();
        out.push(format!("{key}.code"), status.to_string());
        out.push(format!("{key}.message"), reason.as_str().to_owned());
        out.push(key.to_owned(), value);
    }
    out
}

/// `claims` with each space-delimited string claim split into an array of its words
/// (jwt_authn's `normalize_payload_in_metadata`: empty words dropped; non-string claims kept).
pub fn normalized(claims: &Claims, space_delimited: &[String]) -> Claims {
    let mut out = claims.clone();
    for name in space_delimited {
        if let Some(Value::String(text)) = claims.get(name) {
            let words = text
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(|w| Value::String(w.to_owned()))
                .collect();
            out.insert(name.clone(), Value::Array(words));
        }
    }
    out
}

fn payload(key: &str, claims: &Claims, space_delimited: &[String], out: &mut Entries) {
    let claims = normalized(claims, space_delimited);
    for (name, value) in &claims {
        let Some(text) = claim_text(value) else {
            continue;
        };
        if !claim_name_fits(name) {
            out.skipped += 1;
            continue;
        }
        out.push(format!("{key}.{name}"), text);
    }
    match json_text(&claims) {
        Some(json) => out.push(key.to_owned(), json),
        None => out.skipped += 1,
    }
}

/// Compact JSON with every control character and line separator escaped: serde_json escapes
/// only C0 controls, and a raw DEL, NEL or U+2028 would break an access log line. Outside
/// strings compact JSON holds none of them, so each one escaped is inside a string.
pub fn json_text(map: &Map<String, Value>) -> Option<String> {
    let raw = serde_json::to_string(map).ok()?;
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if breaks_a_line(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// A claim's value as written under `KEY.<claim>`: strings as they are, numbers and booleans as
/// JSON text, arrays of those joined with `,`. `None` for objects, null, nested arrays, an
/// element holding a `,`, control characters or line separators, or a value over [`MAX_CLAIM_VALUE_BYTES`].
pub fn claim_text(value: &Value) -> Option<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let text = match value {
        Value::Array(items) => {
            let parts = items
                .iter()
                .map(|v| scalar(v).filter(|s| !s.contains(',')))
                .collect::<Option<Vec<String>>>()?;
            parts.join(",")
        }
        other => scalar(other)?,
    };
    let clean = !text.chars().any(breaks_a_line);
    (clean && text.len() <= MAX_CLAIM_VALUE_BYTES).then_some(text)
}

/// Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Claim names go into filter state keys: printable ASCII, no space, bounded.
fn claim_name_fits(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILTER_STATE_KEY_BYTES
        && name.bytes().all(|b| b.is_ascii_graphic())
}

/// The JOSE header of a compact token as JSON (already decoded once when it verified).
fn header_json(token: &str) -> Option<String> {
    let segment = token.split('.').next()?;
    let header: Map<String, Value> = serde_json::from_slice(&b64::decode(segment)?).ok()?;
    json_text(&header)
}

#[cfg(test)]
mod tests;
