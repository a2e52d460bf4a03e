//! What the upstream receives: spoofed claim headers removed from every request, verified claims
//! set as headers, and every token the filter did not leave in place on purpose taken out.

use crate::auth::Allowed;
use crate::config::{Config, TokenSource};
use crate::extract::{same_header_name, Headers, Removal};
use serde_json::Value;

/// Header changes to make before forwarding: `remove` first, then `set` (which replaces any
/// existing value).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub remove: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// The edits for one request. `headers` must be every header of the request (the proxy's whole
/// map). Claim headers are removed in every spelling an upstream reads as the same name
/// (`x_jwt_sub` is `HTTP_X_JWT_SUB` to CGI, like `x-jwt-sub`). On success the claims are set, and
/// the token is taken out of every source of every provider the requirement reads, except the
/// sources of used tokens whose provider forwards them: a second, unverified token in another
/// source (or one `allow_missing_or_failed` set aside) must not reach an upstream that reads it.
pub fn forwarding(config: &Config, allowed: Option<&Allowed>, headers: &Headers) -> Forwarding {
    // Only the spellings the request holds are removed: `headers` is the whole header map the
    // proxy forwards, so a claim header absent from it cannot reach the upstream, and removing
    // it anyway would cost a host call per name on every request.
    let mut out = Forwarding::default();
    if !config.claim_header_names.is_empty() {
        for (name, _) in headers {
            let spoofed = config
                .claim_header_names
                .iter()
                .any(|claim_header| same_header_name(name, claim_header));
            if spoofed && !out.remove.contains(name) {
                out.remove.push(name.clone());
            }
        }
    }
    let Some(allowed) = allowed else { return out };
    // When several tokens verified (`requires_all`, `allow_missing*`), each sets its provider's
    // claim headers; a header two of them map is set once, from the first token used, so the
    // upstream never reads two identities in one header.
    for used in &allowed.tokens {
        let Some(provider) = config.providers.get(used.provider) else {
            continue;
        };
        for mapping in &provider.claim_to_headers {
            if out.set.iter().any(|(n, _)| n == &mapping.header_name) {
                continue;
            }
            if let Some(value) = used
                .claims
                .get(&mapping.claim_name)
                .and_then(claim_header_value)
            {
                out.set.push((mapping.header_name.clone(), value));
            }
        }
    }
    let kept: Vec<&TokenSource> = allowed
        .tokens
        .iter()
        .filter_map(|used| {
            let provider = config.providers.get(used.provider)?;
            provider
                .sources
                .get(used.source)
                .filter(|_| provider.forward)
        })
        .collect();
    let mut removal = Removal::default();
    let rule_sources = allowed
        .rule_providers
        .iter()
        .chain(allowed.tokens.iter().map(|t| &t.provider))
        .filter_map(|&i| config.providers.get(i))
        .flat_map(|p| p.sources.iter());
    for source in rule_sources {
        if !kept.contains(&source) {
            source.remove(headers, &mut removal);
        }
    }
    for name in removal.headers {
        if !out.remove.contains(&name) {
            out.remove.push(name);
        }
    }
    if let Some(path) = removal.path {
        out.set.push((":path".into(), path));
    }
    match removal.cookie {
        Some(Some(rest)) => out.set.push(("cookie".into(), rest)),
        Some(None) => out.remove.push("cookie".into()),
        None => {}
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
