//! Which rule a request path falls under: first match wins.

use crate::config::{PathMatch, Rule};

/// The first rule matching `path` (query string ignored). A rule that needs no token only
/// matches normalised paths, so `/healthz/../admin` cannot borrow a bypass rule.
pub fn matching_rule<'r>(rules: &'r [Rule], path: &str) -> Option<&'r Rule> {
    let path = path.split('?').next().unwrap_or(path);
    rules.iter().find(|rule| {
        let hit = match &rule.matcher {
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathMatch::Exact(exact) => path == exact,
        };
        hit && (!rule.requires_any.is_empty() || is_normalized(path))
    })
}

/// No dot segments (also with `;` parameters, as servlet containers read `..;`), empty
/// segments, backslashes, fragments or percent-encoded dots and slashes.
pub fn is_normalized(path: &str) -> bool {
    if path.contains("//") || path.contains(['\\', '#']) {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") {
        return false;
    }
    !path
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or(seg))
        .any(|seg| seg == "." || seg == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<Rule> {
        vec![
            Rule {
                matcher: PathMatch::Prefix("/healthz".into()),
                requires_any: vec![],
            },
            Rule {
                matcher: PathMatch::Exact("/open".into()),
                requires_any: vec![],
            },
            Rule {
                matcher: PathMatch::Prefix("/api".into()),
                requires_any: vec![0],
            },
        ]
    }

    #[test]
    fn first_match_wins_and_query_is_ignored() {
        let r = rules();
        assert_eq!(matching_rule(&r, "/healthz?x=1"), Some(&r[0]));
        assert_eq!(matching_rule(&r, "/open"), Some(&r[1]));
        assert_eq!(matching_rule(&r, "/open?a"), Some(&r[1]));
        assert_eq!(matching_rule(&r, "/open/x"), None);
        assert_eq!(matching_rule(&r, "/api/x"), Some(&r[2]));
        assert_eq!(matching_rule(&r, "/other"), None);
    }

    #[test]
    fn bypass_rules_need_normalised_paths() {
        let r = rules();
        for p in [
            "/healthz/../api/x",
            "/healthz/%2e%2e/api",
            "/healthz//x",
            "/healthz/./x",
        ] {
            assert_eq!(matching_rule(&r, p), None, "{p}");
        }
        assert_eq!(matching_rule(&r, "/api/../x"), Some(&r[2]));
    }
}
