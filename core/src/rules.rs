//! Which rule a request path falls under: first match wins, decided on every way an upstream
//! could read the path.
//!
//! The filter sees the raw `:path`; the upstream sees its own reading of it. Servers disagree:
//! some resolve dot segments and others serve them literally, servlet containers drop `;params`
//! from segments, most decode percent-encodings (some twice), Windows-minded ones take `\` for
//! `/`, some merge `//`. A rule decision is only sound if it holds for every reading, so the path
//! is expanded into its plausible readings and each one is matched: when they all land on the
//! same rule (or all on none), that is the decision; when they disagree, the request is refused
//! with 400 (`path_rejected`). That holds whatever the rule order and whatever Envoy's
//! `normalize_path` / `merge_slashes` settings: with normalisation on, Envoy hands over paths with
//! a single reading, and the fast path below costs one scan.

use crate::config::{PathMatch, Rule};
use crate::percent;

/// The decision for one request path.
#[derive(Debug, PartialEq, Eq)]
pub enum RuleMatch<'r> {
    /// Every reading of the path falls under this rule.
    Rule(&'r Rule),
    /// No reading of the path matches any rule.
    NoRule,
    /// Readings fall under different rules, or the path holds bytes no reading should carry
    /// (control characters, a fragment, malformed percent-encoding).
    Rejected,
}

/// Upper bound on the readings of one path. Decoding gives at most three and each of the five
/// later transformations at most doubles the set (3 * 2^5 = 96), so this is a guard, not a limit:
/// a path past it is refused rather than judged on a partial set.
const MAX_READINGS: usize = 128;

/// The rule for `path` (query string ignored), decided on every reading of it.
pub fn match_path<'r>(rules: &'r [Rule], path: &str) -> RuleMatch<'r> {
    let raw = path.split('?').next().unwrap_or(path).as_bytes();
    let Some(readings) = readings(raw) else {
        return RuleMatch::Rejected;
    };
    let mut decision: Option<Option<usize>> = None;
    for reading in &readings {
        let hit = rules.iter().position(|rule| matches(rule, reading));
        match decision {
            None => decision = Some(hit),
            Some(previous) if previous != hit => return RuleMatch::Rejected,
            Some(_) => {}
        }
    }
    match decision.flatten().and_then(|i| rules.get(i)) {
        Some(rule) => RuleMatch::Rule(rule),
        None => RuleMatch::NoRule,
    }
}

/// Every reading of `path` (query ignored) that [`match_path`] judges, with the index of the
/// first rule it falls under; `None` when the path is refused outright. For tools that explain a
/// decision.
pub fn readings_with_rules(rules: &[Rule], path: &str) -> Option<Vec<(String, Option<usize>)>> {
    let raw = path.split('?').next().unwrap_or(path).as_bytes();
    let set = readings(raw)?;
    Some(
        set.iter()
            .map(|r| {
                let hit = rules.iter().position(|rule| matches(rule, r));
                (String::from_utf8_lossy(r).into_owned(), hit)
            })
            .collect(),
    )
}

fn matches(rule: &Rule, path: &[u8]) -> bool {
    match &rule.matcher {
        PathMatch::Prefix(prefix) => path.starts_with(prefix.as_bytes()),
        PathMatch::Exact(exact) => path == exact.as_bytes(),
    }
}

/// Every plausible upstream reading of `raw` (the path without its query), the raw bytes first;
/// `None` when the path must be refused outright.
fn readings(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'#') {
        return None;
    }
    if !raw.contains(&b'%') && !raw.contains(&b'\\') && !raw.contains(&b';') {
        // The common case: only dot segments, empty segments or a missing leading `/` can give
        // a second reading.
        if raw.first() == Some(&b'/') && !has_dot_or_empty_segment(raw) {
            return Some(vec![raw.to_vec()]);
        }
    }
    let mut set: Vec<Vec<u8>> = vec![raw.to_vec()];
    // Percent-decoding once, and once more for servers that decode twice. A decoded control
    // character (NUL truncation in C servers, header splitting) or malformed escape is refused.
    if raw.contains(&b'%') {
        let once = percent::decode(raw)?;
        if once.iter().any(|&b| b < 0x20 || b == 0x7f) || has_overlong_utf8(&once) {
            return None;
        }
        // A literal `%` (sent as `%25`) that does not decode again has no second reading; one
        // that decodes to a control byte is refused like a first-level one.
        if let Some(twice) = percent::decode(&once).filter(|_| once.contains(&b'%')) {
            if twice.iter().any(|&b| b < 0x20 || b == 0x7f) || has_overlong_utf8(&twice) {
                return None;
            }
            push_unique(&mut set, twice);
        }
        push_unique(&mut set, once);
        // A decoded `?` or `#` ends the path for servers that split after decoding.
        expand(
            &mut set,
            |p| p.contains(&b'?') || p.contains(&b'#'),
            |p| {
                let end = p
                    .iter()
                    .position(|&b| b == b'?' || b == b'#')
                    .unwrap_or(p.len());
                p.get(..end).unwrap_or(p).to_vec()
            },
        )?;
    }
    expand(&mut set, |p| p.contains(&b'\\'), backslash_to_slash)?;
    expand(&mut set, |p| p.contains(&b';'), strip_path_params)?;
    expand(
        &mut set,
        |p| p.first() != Some(&b'/'),
        |p| {
            let mut rooted = Vec::with_capacity(p.len() + 1);
            rooted.push(b'/');
            rooted.extend_from_slice(p);
            rooted
        },
    )?;
    expand(
        &mut set,
        |p| p.windows(2).any(|w| w == b"//"),
        merge_slashes,
    )?;
    expand(&mut set, has_dot_or_empty_segment, remove_dot_segments)?;
    Some(set)
}

/// Adds `transform(p)` for every reading `p` that `applies` to, keeping the originals too (some
/// upstreams apply the transformation, others do not).
fn expand(
    set: &mut Vec<Vec<u8>>,
    applies: impl Fn(&[u8]) -> bool,
    transform: impl Fn(&[u8]) -> Vec<u8>,
) -> Option<()> {
    let new: Vec<Vec<u8>> = set
        .iter()
        .filter(|p| applies(p))
        .map(|p| transform(p))
        .collect();
    for p in new {
        push_unique(set, p);
    }
    (set.len() <= MAX_READINGS).then_some(())
}

/// Overlong UTF-8 (`%c0%ae`, `%e0%80%ae` for `.`), which lenient decoders have read as the ASCII
/// character: lead bytes 0xC0/0xC1 always start one, 0xE0 and 0xF0 when the next byte is too
/// small (RFC 3629 §4). No valid UTF-8 contains them.
fn has_overlong_utf8(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| match w {
        [0xc0 | 0xc1, _] => true,
        [0xe0, next] => *next < 0xa0,
        [0xf0, next] => *next < 0x90,
        _ => false,
    }) || bytes.last().is_some_and(|&b| b == 0xc0 || b == 0xc1)
}

fn push_unique(set: &mut Vec<Vec<u8>>, reading: Vec<u8>) {
    if !set.contains(&reading) {
        set.push(reading);
    }
}

/// A `.` or `..` segment, or an empty segment other than the root's and a trailing slash's.
fn has_dot_or_empty_segment(path: &[u8]) -> bool {
    let last = path.iter().filter(|&&b| b == b'/').count();
    path.split(|&b| b == b'/')
        .enumerate()
        .any(|(i, seg)| seg == b"." || seg == b".." || (seg.is_empty() && i > 0 && i < last))
}

fn backslash_to_slash(path: &[u8]) -> Vec<u8> {
    path.iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect()
}

/// Servlet containers (Tomcat, Jetty, Spring) drop everything from `;` to the end of each
/// segment: `/admin;x=1` and `/..;/admin` are read as `/admin` and `/../admin`.
fn strip_path_params(path: &[u8]) -> Vec<u8> {
    let segments: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .map(|seg| seg.split(|&b| b == b';').next().unwrap_or(seg))
        .collect();
    segments.join(&b'/')
}

fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if !(b == b'/' && out.last() == Some(&b'/')) {
            out.push(b);
        }
    }
    out
}

/// RFC 3986 §5.2.4 on a path: `.` segments vanish, `..` removes the segment before it (never
/// above the root). Empty segments are kept (merging them is a separate reading).
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<&[u8]> = Vec::new();
    let segments: Vec<&[u8]> = path.split(|&b| b == b'/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            b"." => {
                if i == last {
                    out.push(b"");
                }
            }
            b".." => {
                out.pop();
                if i == last {
                    out.push(b"");
                }
            }
            other => out.push(other),
        }
    }
    let mut result = Vec::with_capacity(path.len());
    for seg in out {
        result.push(b'/');
        result.extend_from_slice(seg);
    }
    if result.is_empty() {
        result.push(b'/');
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(matcher: PathMatch, protected: bool) -> Rule {
        Rule {
            matcher,
            requires_any: if protected { vec![0] } else { vec![] },
        }
    }

    fn prefix(p: &str, protected: bool) -> Rule {
        rule(PathMatch::Prefix(p.into()), protected)
    }

    fn exact(p: &str, protected: bool) -> Rule {
        rule(PathMatch::Exact(p.into()), protected)
    }

    fn index(rules: &[Rule], path: &str) -> Result<Option<usize>, ()> {
        match match_path(rules, path) {
            RuleMatch::Rule(r) => Ok(rules.iter().position(|x| std::ptr::eq(x, r))),
            RuleMatch::NoRule => Ok(None),
            RuleMatch::Rejected => Err(()),
        }
    }

    #[test]
    fn first_match_wins_and_query_is_ignored() {
        let r = vec![
            prefix("/healthz", false),
            exact("/open", false),
            prefix("/api", true),
        ];
        assert_eq!(index(&r, "/healthz?x=1"), Ok(Some(0)));
        assert_eq!(index(&r, "/open"), Ok(Some(1)));
        assert_eq!(index(&r, "/open?a=/../x"), Ok(Some(1)));
        assert_eq!(index(&r, "/open/x"), Ok(None));
        assert_eq!(index(&r, "/api/x"), Ok(Some(2)));
        assert_eq!(index(&r, "/other"), Ok(None));
    }

    /// The review's finding: protect one area, leave the rest open.
    #[test]
    fn protected_area_cannot_be_reached_through_another_reading() {
        let r = vec![prefix("/admin", true), prefix("/", false)];
        for p in [
            "/x/../admin",
            "/./admin",
            "//admin",
            "/;/admin",
            "/%61dmin",
            "/%2561dmin",
            "/x/%2e%2e/admin",
            "/x/%2E%2E/admin",
            "/x%2f..%2fadmin",
            "/x\\..\\admin",
            "\\admin",
            "/..;/admin",
            "/x/..;/admin",
            "admin",
            "/.%2e/admin",
            "/%2fadmin",
            "/x/%252e%252e/admin",
            "/x/%c0%ae%c0%ae/admin",
            "/x/%e0%80%ae%e0%80%ae/admin",
            "/%u0061dmin",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p} must be refused");
        }
        // Readings that all stay inside the protected area keep the token requirement.
        for p in [
            "/admin",
            "/admin;x=1",
            "/admin/./x",
            "/admin/x%20y",
            "/admin/",
            "/admin//x",
        ] {
            assert_eq!(index(&r, p), Ok(Some(0)), "{p} must need the token");
        }
        // Readings that all stay outside are open.
        for p in [
            "/public/x",
            "/public/a%20b",
            "/public/./x",
            "/x;jsessionid=1",
        ] {
            assert_eq!(index(&r, p), Ok(Some(1)), "{p} stays open");
        }
    }

    #[test]
    fn every_rule_order_and_kind() {
        // Open rule first, protected after.
        let r = vec![prefix("/healthz", false), prefix("/api", true)];
        for p in [
            "/healthz/../api/x",
            "/healthz/%2e%2e/api",
            "/healthz/..;/api",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p}");
        }
        assert_eq!(index(&r, "/healthz//x"), Ok(Some(0)));
        assert_eq!(index(&r, "/healthz/./x"), Ok(Some(0)));
        // A protected path whose other reading matches no rule is refused, not left unchecked.
        assert_eq!(index(&r, "/api/../x"), Err(()));
        // Exact rules.
        let r = vec![exact("/open", false), exact("/secret", true)];
        assert_eq!(index(&r, "/open;x"), Err(()));
        assert_eq!(index(&r, "/x/../secret"), Err(()));
        assert_eq!(index(&r, "/secret"), Ok(Some(1)));
        // Servers that split on a decoded `?` or `#` read `/secret`.
        assert_eq!(index(&r, "/secret%3Fx"), Err(()));
        assert_eq!(index(&r, "/secret%23x"), Err(()));
        assert_eq!(index(&r, "/%73ecret"), Err(()));
        // No rule at all for any reading.
        assert_eq!(index(&r, "/a/../b"), Ok(None));
        // Two protected rules: a reading cannot pick the other rule's providers.
        let r = vec![prefix("/a/", true), prefix("/admin", true)];
        assert_eq!(index(&r, "/a/../admin"), Err(()));
    }

    #[test]
    fn bytes_no_reading_should_carry_are_refused() {
        let r = vec![prefix("/", false)];
        for p in [
            "/a\0b", "/a%00b", "/a%0ab", "/a%7f", "/a#frag", "/a%zz", "/a%4", "/a%", "/a%250a",
            "/a\tb",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p:?}");
        }
        assert_eq!(index(&r, "/a%20b"), Ok(Some(0)));
        assert_eq!(index(&r, "/caf%c3%a9"), Ok(Some(0)));
        assert_eq!(index(&r, "/a%25b"), Ok(Some(0)));
    }

    #[test]
    fn reading_helpers() {
        assert_eq!(remove_dot_segments(b"/a/b/../c/./d"), b"/a/c/d");
        assert_eq!(remove_dot_segments(b"/../../x"), b"/x");
        assert_eq!(remove_dot_segments(b"/a/.."), b"/");
        assert_eq!(remove_dot_segments(b"/a/b/."), b"/a/b/");
        assert_eq!(strip_path_params(b"/a;x=1/b;y/..;/c"), b"/a/b/../c");
        assert_eq!(merge_slashes(b"//a///b/"), b"/a/b/");
    }
}
