//! How an upstream may read a forwarded request, for the strict oracles of `request_auth`:
//! servers differ in how they decode paths (dot segments, empty segments, `;` parameters,
//! percent-encoding, backslashes, NUL), cookie names (surrounding spaces) and header names
//! (case, `_` for `-` in CGI-style servers). A decision must hold under every such reading.

use warden_core::auth::Outcome;
use warden_core::config::{Config, PathMatch, Rule, TokenSource};
use warden_core::forward::Forwarding;

/// How upstreams read `path`: [`path_view`] after one and after two lenient percent-decoding
/// passes (a `%` that starts no escape is kept, as Python's `unquote` does), each also with its
/// trailing slashes dropped (Express, Spring MVC ≤ 5.3 serve `/a` for `/a/`), and each in ASCII
/// lower case (case-insensitive servers; the configurations' rules are lower case).
pub fn path_views(path: &str) -> Vec<String> {
    let raw = path.split(['?', '#']).next().unwrap_or("");
    let once = String::from_utf8_lossy(&percent_decode(raw)).into_owned();
    let mut views = Vec::new();
    for view in [path_view(raw), path_view(&once)] {
        let bare = view.trim_end_matches('/');
        if view.starts_with('/') && !bare.is_empty() && bare != view {
            views.push(bare.to_string());
        }
        views.push(view);
    }
    let lower: Vec<String> = views.iter().map(|v| v.to_ascii_lowercase()).collect();
    views.extend(lower);
    views
}

/// The path after one percent-decoding pass, `\` read as `/`, NUL as the end, `;` parameters
/// dropped, and empty and dot segments resolved; query and fragment removed. A target that does
/// not start with `/` after decoding is returned as it is.
pub fn path_view(path: &str) -> String {
    let raw = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(raw);
    let text = String::from_utf8_lossy(&decoded);
    let text = text.split('\0').next().unwrap_or("").replace('\\', "/");
    // `*` (OPTIONS) and other targets without a leading slash name no resource path.
    if !text.starts_with('/') {
        return text;
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut view = format!("/{}", segments.join("/"));
    if text.ends_with('/') && !segments.is_empty() {
        view.push('/');
    }
    view
}

pub fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn header_view(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// A request that passes must pass under the upstream's reading of its path too.
pub fn check_path(config: &Config, path: &str, outcome: &Outcome) {
    for view in path_views(path) {
        check_view(config, path, &view, outcome);
    }
}

/// `view` is matched as the upstream has it, first match wins, byte for byte: not through the
/// filter's own readings, which would refuse a view holding a bad `%` and so skip the check.
fn check_view(config: &Config, path: &str, view: &str, outcome: &Outcome) {
    let Some(seen) = config.rules.iter().find(|rule| match &rule.matcher {
        PathMatch::Prefix(prefix) => view.starts_with(prefix.as_str()),
        PathMatch::Exact(exact) => view == exact,
    }) else {
        return;
    };
    if seen.requires.is_none() {
        return;
    }
    let needs = crate::checks::providers_of(config, seen);
    match outcome {
        Outcome::Unprotected => panic!(
            "path {path:?} passed without a token; an upstream reads {view:?}, which a rule protects"
        ),
        Outcome::Allowed(a) => assert!(
            a.tokens.iter().all(|t| needs.contains(&t.provider)),
            "path {path:?} allowed by {:?}, but an upstream reads {view:?}, whose rule needs {needs:?}",
            a.tokens,
        ),
        _ => {}
    }
}

/// No token copy the filter did not verify (or that it was told to remove) and no claim header it
/// did not set reaches the upstream.
pub fn check_forwarded(
    config: &Config,
    rule: Option<&Rule>,
    outcome: &Outcome,
    forwarded: &[(String, String)],
    fwd: &Forwarding,
) {
    if !matches!(outcome, Outcome::Allowed(_)) {
        return;
    }
    for (name, value) in forwarded {
        let seen = header_view(name);
        if config.claim_header_names.contains(&seen) {
            assert!(
                fwd.set.iter().any(|(n, v)| n == name && v == value),
                "a claim header the filter did not set reaches the upstream: {name}: {value}"
            );
        }
    }
    let Some(rule) = rule else { return };
    for idx in crate::checks::providers_of(config, rule) {
        let provider = &config.providers[idx];
        if provider.forward {
            continue;
        }
        for source in &provider.sources {
            if let Some(copy) = token_copy(source, forwarded) {
                panic!("a token copy reaches the upstream ({source:?}): {copy:?}");
            }
        }
    }
}

fn token_copy(source: &TokenSource, forwarded: &[(String, String)]) -> Option<String> {
    match source {
        TokenSource::Header { name, prefix } => forwarded
            .iter()
            .filter(|(n, _)| header_view(n) == *name)
            .find_map(|(_, v)| {
                let rest = v
                    .get(..prefix.len())
                    .filter(|head| head.eq_ignore_ascii_case(prefix))
                    .and_then(|_| v.get(prefix.len()..))?;
                (!rest.trim().is_empty()).then(|| v.clone())
            }),
        TokenSource::Param(name) => {
            let path = forwarded
                .iter()
                .find(|(n, _)| n == ":path")
                .map(|(_, v)| v.as_str())?;
            let query = path.split_once('?')?.1;
            query
                .split('&')
                .find(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    percent_decode(k) == name.as_bytes() && !v.is_empty()
                })
                .map(str::to_string)
        }
        TokenSource::Cookie(name) => forwarded
            .iter()
            .filter(|(n, _)| n == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .find(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                k.trim() == name && !v.trim().is_empty()
            })
            .map(str::to_string),
    }
}
