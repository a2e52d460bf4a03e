//! Which rule a request path falls under: first match wins, decided on every way an upstream
//! could read the path.
//!
//! The filter sees the raw `:path`; the upstream sees its own reading of it. Servers disagree:
//! some resolve dot segments and others serve them literally, servlet containers drop `;params`
//! from segments, most decode percent-encodings (some twice), Windows-minded ones take `\` for
//! `/`, some merge `//`, some serve `/a` for `/a/`. A rule decision is only sound if it holds for every reading, so the path
//! is expanded into its plausible readings and each one is matched: when they all land on the
//! same rule (or all on none), that is the decision; when they disagree, the request is refused
//! with 400 (`path_rejected`). That holds whatever the rule order and whatever Envoy's
//! `normalize_path` / `merge_slashes` settings: with normalisation on, Envoy hands over paths with
//! a single reading, and the fast path below costs one scan.

use crate::config::{PathMatch, Rule};
use crate::percent;
use std::hash::{BuildHasher, RandomState};

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

/// Upper bound on the readings of one path. Decoding gives at most three (raw, once, twice);
/// cutting at a decoded `?` or `#` applies only to the two decoded ones (at most five); each of
/// the six later transformations (backslash, params, root, merge, dot segments, trailing slash)
/// at most doubles the set: 5 * 2^6 = 320. So this is a guard, not a limit: a path past it is
/// refused rather than judged on a partial set.
const MAX_READINGS: usize = 320;

/// Longest path (query excluded) judged on more than one reading. Expanding a path costs up to
/// [`MAX_READINGS`] copies of it, so a 60 KiB path would cost tens of milliseconds of filter CPU
/// per request; no common upstream accepts a request line that long anyway (nginx, Apache, Tomcat
/// and Node stop at 8 KiB or less). A longer path that needs its readings is refused; one with a
/// single reading (the common case) is judged at any length.
pub const MAX_PATH_WITH_READINGS: usize = 8192;

/// The rule for `path` (query string ignored), decided on every reading of it.
pub fn match_path<'r>(rules: &'r [Rule], path: &str) -> RuleMatch<'r> {
    let raw = path.split('?').next().unwrap_or(path).as_bytes();
    let Some(readings) = readings(raw) else {
        return RuleMatch::Rejected;
    };
    let mut decision: Option<Option<usize>> = None;
    for reading in &readings {
        for hit in [
            first_rule(rules, reading),
            first_rule_folded(rules, reading),
        ] {
            match decision {
                None => decision = Some(hit),
                Some(previous) if previous != hit => return RuleMatch::Rejected,
                Some(_) => {}
            }
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
    let mut out: Vec<(String, Option<usize>)> = Vec::with_capacity(set.len());
    for r in &set {
        out.push((
            String::from_utf8_lossy(r).into_owned(),
            first_rule(rules, r),
        ));
    }
    // The case-folded twins, where folding changes the reading or its rule.
    for r in &set {
        let entry = (
            String::from_utf8_lossy(&fold_case(r)).into_owned(),
            first_rule_folded(rules, r),
        );
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Some(out)
}

/// The first rule `reading` falls under, compared byte for byte.
fn first_rule(rules: &[Rule], reading: &[u8]) -> Option<usize> {
    rules.iter().position(|rule| match &rule.matcher {
        PathMatch::Prefix(prefix) => reading.starts_with(prefix.as_bytes()),
        PathMatch::Exact(exact) => reading == exact.as_bytes(),
    })
}

/// The first rule `reading` falls under on an upstream that matches paths case-insensitively
/// (IIS and Windows or macOS file systems, ASP.NET Core routing, Spring with case-insensitive
/// matching): reading and rule are compared after [`fold_case`]. Judged on every path, as every
/// other reading is: a case variant that changes the rule (`/ADMIN` beside `prefix /admin`) is
/// refused, and one that does not costs nothing.
fn first_rule_folded(rules: &[Rule], reading: &[u8]) -> Option<usize> {
    let folded = fold_case(reading);
    rules.iter().position(|rule| match &rule.matcher {
        PathMatch::Prefix(prefix) => folded
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes())),
        PathMatch::Exact(exact) => folded.eq_ignore_ascii_case(exact.as_bytes()),
    })
}

/// ASCII lower case, plus the four letters outside ASCII whose case mapping lands on an ASCII
/// letter, so that a case-insensitive comparison can take them for it: `İ` (U+0130) and `ı`
/// (U+0131) for `i`, `ſ` (U+017F) for `s`, the Kelvin sign (U+212A) for `k`.
fn fold_case(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while let Some(&b) = path.get(i) {
        let (letter, len) = match (b, path.get(i + 1), path.get(i + 2)) {
            (0xc4, Some(0xb0 | 0xb1), _) => (b'i', 2),
            (0xc5, Some(0xbf), _) => (b's', 2),
            (0xe2, Some(0x84), Some(0xaa)) => (b'k', 3),
            _ => (b.to_ascii_lowercase(), 1),
        };
        out.push(letter);
        i += len;
    }
    out
}

/// Every plausible upstream reading of `raw` (the path without its query), the raw bytes first;
/// `None` when the path must be refused outright.
fn readings(raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'#') {
        return None;
    }
    if !raw.contains(&b'%') && !raw.contains(&b'\\') && !raw.contains(&b';') {
        // The common case: only dot segments, empty segments, a trailing slash or a missing
        // leading `/` can give a second reading.
        if raw.first() == Some(&b'/') && !has_dot_or_empty_segment(raw) && !has_trailing_slash(raw)
        {
            return Some(vec![raw.to_vec()]);
        }
    }
    if raw.len() > MAX_PATH_WITH_READINGS {
        return None;
    }
    let mut set = Readings::new(raw.to_vec());
    // Percent-decoding once, and once more for servers that decode twice. Every step below either
    // yields its reading for every input or refuses the path: a reading that is skipped would
    // leave the decision to the others, which an upstream may not share.
    if raw.contains(&b'%') {
        // A malformed escape in the raw path is refused: upstreams disagree on it (400, kept,
        // dropped), and refusing needs no guess.
        let once = percent::decode(raw)?;
        if carries_forbidden_bytes(&once) {
            return None;
        }
        if once.contains(&b'%') {
            // The second decoding is lenient, as in Python's `unquote` or PHP's `urldecode`: valid
            // escapes decode and a `%` that starts none (a literal one, sent as `%25`) stays.
            // Refusing such paths instead would also refuse every literal `%`.
            let twice = percent::decode_lossy(&once);
            // No third decoding is modelled, so a path that still holds an escape after the
            // second is refused rather than judged without it.
            if carries_forbidden_bytes(&twice) || has_escape(&twice) {
                return None;
            }
            set.push(twice);
        }
        set.push(once);
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
    // Express (non-strict routing, its default) and Spring MVC up to 5.3 serve `/a` for `/a/`;
    // last, so that `/a/.` and `/a//` are read as `/a` too.
    expand(&mut set, has_trailing_slash, strip_trailing_slashes)?;
    Some(set.list)
}

/// The readings found so far, in the order found. Membership is decided on a keyed hash first, so
/// that a long path with many readings sharing a long prefix costs time linear in the readings'
/// total length, not a full comparison of every pair.
struct Readings {
    list: Vec<Vec<u8>>,
    hashes: Vec<u64>,
    state: RandomState,
}

impl Readings {
    fn new(first: Vec<u8>) -> Self {
        let state = RandomState::new();
        Self {
            hashes: vec![state.hash_one(&first)],
            list: vec![first],
            state,
        }
    }

    fn push(&mut self, reading: Vec<u8>) {
        let hash = self.state.hash_one(&reading);
        let known = self
            .hashes
            .iter()
            .zip(&self.list)
            .any(|(&h, r)| h == hash && *r == reading);
        if !known {
            self.hashes.push(hash);
            self.list.push(reading);
        }
    }
}

/// A control character (NUL truncation in C servers, header splitting) or overlong UTF-8 in a
/// decoded reading.
fn carries_forbidden_bytes(decoded: &[u8]) -> bool {
    decoded.iter().any(|&b| b < 0x20 || b == 0x7f) || has_overlong_utf8(decoded)
}

/// A percent-escape some decoder would still turn into another byte: `%XX`, or IIS's `%uXXXX`.
fn has_escape(path: &[u8]) -> bool {
    let hex = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
    path.iter().enumerate().any(|(i, &b)| {
        b == b'%'
            && ((hex(path.get(i + 1)) && hex(path.get(i + 2)))
                || (matches!(path.get(i + 1), Some(b'u' | b'U'))
                    && (2..6).all(|k| hex(path.get(i + k)))))
    })
}

/// Adds `transform(p)` for every reading `p` that `applies` to, keeping the originals too (some
/// upstreams apply the transformation, others do not).
fn expand(
    set: &mut Readings,
    applies: impl Fn(&[u8]) -> bool,
    transform: impl Fn(&[u8]) -> Vec<u8>,
) -> Option<()> {
    let new: Vec<Vec<u8>> = set
        .list
        .iter()
        .filter(|p| applies(p))
        .map(|p| transform(p))
        .collect();
    for p in new {
        set.push(p);
    }
    (set.list.len() <= MAX_READINGS).then_some(())
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

/// A `.` or `..` segment, or an empty segment other than the root's and a trailing slash's.
fn has_dot_or_empty_segment(path: &[u8]) -> bool {
    let last = path.iter().filter(|&&b| b == b'/').count();
    path.split(|&b| b == b'/')
        .enumerate()
        .any(|(i, seg)| seg == b"." || seg == b".." || (seg.is_empty() && i > 0 && i < last))
}

/// A path other than `/` that ends in `/`.
fn has_trailing_slash(path: &[u8]) -> bool {
    path.len() > 1 && path.last() == Some(&b'/')
}

/// Every trailing `/` removed (`/a//` → `/a`), the root kept.
fn strip_trailing_slashes(path: &[u8]) -> Vec<u8> {
    let end = path
        .iter()
        .rposition(|&b| b != b'/')
        .map_or(1, |last| last + 1);
    path.get(..end).unwrap_or(path).to_vec()
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
            requires: protected.then_some(crate::config::Requirement::Provider(0)),
            enforce: true,
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

    /// Issue 20, finding 1: a `%` left bad by the first decoding must not switch the second
    /// decoding off. Lenient decoders read `/%2561dmin%25` as `/admin%`.
    #[test]
    fn a_bad_escape_after_the_first_decoding_keeps_the_second_reading() {
        let r = vec![prefix("/admin", true), prefix("/", false)];
        for p in [
            "/%2561dmin%25",
            "/%2561dmin%25zz",
            "/%2561dmin%254",
            "/%2561dmin/%25",
            "/%2561dmin;%25",
            "/%2561dmin%3b%25",
            "/%2561dmin%253bx%25",
            "/x%252f..%252fadmin%25",
            "/x%255c..%255cadmin%25",
            "/x/%252e%252e/admin%25",
            "/x%25/..%252fadmin",
            "/%25/..%252fadmin",
            "/%252fadmin%25",
            "/%255cadmin%25",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p} must be refused");
        }
        // Every reading under /admin, a literal `%` included: the token is required.
        for p in ["/admin/%25", "/admin/100%25", "/admin/%25%2561"] {
            assert_eq!(index(&r, p), Ok(Some(0)), "{p} must need the token");
        }
    }

    /// No third decoding is modelled: an escape left after the second one is refused, whatever
    /// the rules.
    #[test]
    fn an_escape_left_after_the_second_decoding_is_refused() {
        let r = vec![prefix("/admin", true), prefix("/", false)];
        let open = vec![prefix("/", false)];
        for p in [
            "/x/%25252e%25252e/admin",
            "/%25252561dmin",
            "/a%252541",
            "/a%25252F",
            "/%25u0061dmin",
            "/%2525U0061dmin",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p} must be refused");
            assert_eq!(index(&open, p), Err(()), "{p} must be refused");
        }
        // A literal `%` that starts no escape after the second decoding is fine.
        for p in [
            "/a%25b",
            "/a%2520b",
            "/a%25",
            "/100%2525",
            "/%25u00",
            "/a%2525zz",
        ] {
            assert_eq!(index(&open, p), Ok(Some(0)), "{p}");
        }
    }

    /// Issue 20, finding 2: Express (non-strict routing) and Spring MVC ≤ 5.3 serve `/secret`
    /// for `/secret/`; with dot segments and merged slashes, for `/secret/.` and `/secret//`.
    #[test]
    fn a_trailing_slash_is_read_as_the_bare_path() {
        let r = vec![exact("/secret", true), prefix("/", false)];
        for p in [
            "/secret/",
            "/secret/.",
            "/secret//",
            "/secret/./",
            "/secret/x/..",
            "/secret%2f",
            "/secret%252f",
            "/secret;x/",
            "/secret\\",
            "//secret//",
            "/secret/%2e",
            "/secret/%252e",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p} must be refused");
        }
        assert_eq!(index(&r, "/secret"), Ok(Some(0)));
        assert_eq!(index(&r, "/secret?x=/"), Ok(Some(0)));
        for p in ["/secret/x", "/secrets/", "/", "/x/"] {
            assert_eq!(index(&r, p), Ok(Some(1)), "{p} stays open");
        }
        // A prefix that ends in `/` does not cover the bare name that such upstreams serve for
        // the directory itself; the readings disagree, so the request is refused.
        let r = vec![prefix("/public/", false), prefix("/", true)];
        assert_eq!(index(&r, "/public/"), Err(()));
        assert_eq!(index(&r, "/public/x/"), Ok(Some(0)));
        let r = vec![prefix("/public", false), prefix("/", true)];
        assert_eq!(index(&r, "/public/"), Ok(Some(0)));
    }

    /// Upstreams that match paths case-insensitively (IIS, ASP.NET Core, Windows and macOS file
    /// systems) read `/ADMIN` as `/admin`; so do Unicode-aware ones for `/admın` (dotless i).
    #[test]
    fn case_variants_that_change_the_rule_are_refused() {
        let r = vec![prefix("/admin", true), prefix("/", false)];
        for p in [
            "/ADMIN",
            "/Admin/x",
            "/%41dmin",
            "/%2541dmin",
            "/x/../ADMIN",
            "/adm\u{131}n",
            "/adm%C4%B1n",
            "/adm%25C4%25B1n",
        ] {
            assert_eq!(index(&r, p), Err(()), "{p} must be refused");
        }
        assert_eq!(index(&r, "/admin/X"), Ok(Some(0)));
        assert_eq!(index(&r, "/public/ABC%C4%B1"), Ok(Some(1)));
        let r = vec![
            prefix("/secret", true),
            prefix("/kube", true),
            prefix("/", false),
        ];
        assert_eq!(index(&r, "/\u{17F}ecret"), Err(()));
        assert_eq!(index(&r, "/\u{212A}ube"), Err(()));
        // Rules written in mixed case match their own spelling, and refuse other spellings.
        let r = vec![exact("/Login", false), prefix("/", true)];
        assert_eq!(index(&r, "/Login"), Ok(Some(0)));
        assert_eq!(index(&r, "/login"), Err(()));
        assert_eq!(index(&r, "/LOGIN/"), Err(()));
        assert_eq!(index(&r, "/Logout"), Ok(Some(1)));
    }

    /// A small xorshift generator: the property test below is the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// The reference upstream: decodes `times` times, leniently (a `%` without two hex digits is
    /// kept, as Python's `unquote` does), cuts at a decoded `?` or `#`, then optionally resolves
    /// the path the way the most forgiving servers do: `\` as `/`, `;params` dropped, empty and dot
    /// segments resolved, the trailing slash dropped.
    fn reference_view(path: &str, times: usize, normalise: bool) -> Vec<u8> {
        let mut bytes = path.split('?').next().unwrap_or("").as_bytes().to_vec();
        for _ in 0..times {
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match (bytes[i], hex) {
                    (b'%', Some(v)) => {
                        out.push(v);
                        i += 3;
                    }
                    (b, _) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            bytes = out;
        }
        let end = bytes
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(bytes.len());
        bytes.truncate(end);
        if !normalise {
            return bytes;
        }
        let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
        let mut kept: Vec<&str> = Vec::new();
        for seg in text.split('/') {
            match seg.split(';').next().unwrap_or("") {
                "" | "." => {}
                ".." => {
                    kept.pop();
                }
                s => kept.push(s),
            }
        }
        format!("/{}", kept.join("/")).into_bytes()
    }

    /// Whatever the spelling, a path that a lenient single or double decoder (with or without
    /// resolving the path) reads as protected is never judged by the open rule.
    #[test]
    fn no_lenient_reading_of_a_protected_path_is_judged_open() {
        const PIECES: &[&str] = &[
            "/",
            "/",
            "/",
            ".",
            "..",
            ";",
            ";x",
            "%",
            "%25",
            "%2f",
            "%2F",
            "%5c",
            "%2e",
            "%252f",
            "%255c",
            "%252e",
            "%2561",
            "%3b",
            "%253b",
            "%3f",
            "%253f",
            "\\",
            "a",
            "d",
            "m",
            "i",
            "n",
            "2",
            "5",
            "f",
            "x",
            "admin",
            "/admin",
            "%2561dmin",
            "secret",
            "/secret",
            "%2573ecret",
            "A",
            "D",
            "%41",
            "%2541",
            "SECRET",
        ];
        let by_prefix = vec![prefix("/admin", true), prefix("/", false)];
        let by_exact = vec![exact("/secret", true), prefix("/", false)];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut protected_views, mut refused) = (0, 0);
        for _ in 0..60_000 {
            let mut path = String::from(if rng.below(8) == 0 { "" } else { "/" });
            for _ in 0..1 + rng.below(8) {
                path.push_str(PIECES[rng.below(PIECES.len())]);
            }
            let views: Vec<Vec<u8>> = (0..=2)
                .flat_map(|times| [false, true].map(|n| reference_view(&path, times, n)))
                .collect();
            for (rules, protected) in [
                (
                    &by_prefix,
                    views
                        .iter()
                        .any(|v| v.to_ascii_lowercase().starts_with(b"/admin")),
                ),
                (
                    &by_exact,
                    views.iter().any(|v| v.eq_ignore_ascii_case(b"/secret")),
                ),
            ] {
                if !protected {
                    continue;
                }
                protected_views += 1;
                let judged = index(rules, &path);
                assert_ne!(
                    judged,
                    Ok(Some(1)),
                    "{path:?} is read as protected: {views:?}"
                );
                refused += usize::from(judged.is_err());
            }
        }
        // The generator reaches the interesting spellings, not only the literal ones.
        assert!(
            protected_views > 5_000 && refused > 5_000,
            "{protected_views} {refused}"
        );
    }

    #[test]
    fn reading_helpers() {
        assert_eq!(remove_dot_segments(b"/a/b/../c/./d"), b"/a/c/d");
        assert_eq!(remove_dot_segments(b"/../../x"), b"/x");
        assert_eq!(remove_dot_segments(b"/a/.."), b"/");
        assert_eq!(remove_dot_segments(b"/a/b/."), b"/a/b/");
        assert_eq!(strip_path_params(b"/a;x=1/b;y/..;/c"), b"/a/b/../c");
        assert_eq!(merge_slashes(b"//a///b/"), b"/a/b/");
        assert_eq!(strip_trailing_slashes(b"/a//"), b"/a");
        assert_eq!(strip_trailing_slashes(b"///"), b"/");
        assert!(has_escape(b"/a%2e") && has_escape(b"/a%u002e") && has_escape(b"%U002E"));
        assert!(!has_escape(b"/a%2") && !has_escape(b"/a%zz") && !has_escape(b"/a%u002"));
        assert_eq!(
            fold_case("/AdM\u{130}n/\u{212A}\u{17F}/é".as_bytes()),
            "/admin/ks/é".as_bytes()
        );
    }

    #[test]
    fn a_long_path_that_needs_readings_is_refused_but_a_plain_one_is_judged() {
        let rules = [rule(PathMatch::Prefix("/".into()), false)];
        let plain = format!("/{}", "a".repeat(MAX_PATH_WITH_READINGS + 100));
        assert!(matches!(match_path(&rules, &plain), RuleMatch::Rule(_)));
        let escaped = format!("/{}%41", "a".repeat(MAX_PATH_WITH_READINGS));
        assert_eq!(match_path(&rules, &escaped), RuleMatch::Rejected);
        let short = format!("/{}%41", "a".repeat(MAX_PATH_WITH_READINGS - 10));
        assert!(matches!(match_path(&rules, &short), RuleMatch::Rule(_)));
    }
}
