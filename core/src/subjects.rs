//! `providers.<name>.subjects`: which `sub` a provider may assert, as jwt_authn's
//! `StringMatcher` (exact, prefix, suffix or contains; `ignore_case` folds ASCII case only, as
//! Envoy's matcher does). A token without a string `sub` never matches.

use crate::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

impl MatchKind {
    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Prefix => "prefix",
            MatchKind::Suffix => "suffix",
            MatchKind::Contains => "contains",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringMatcher {
    pub kind: MatchKind,
    pub pattern: String,
    pub ignore_case: bool,
}

impl StringMatcher {
    pub fn matches(&self, value: &str) -> bool {
        if self.ignore_case {
            let value = value.to_ascii_lowercase();
            let pattern = self.pattern.to_ascii_lowercase();
            self.kind.holds(&value, &pattern)
        } else {
            self.kind.holds(value, &self.pattern)
        }
    }
}

impl MatchKind {
    fn holds(self, value: &str, pattern: &str) -> bool {
        match self {
            MatchKind::Exact => value == pattern,
            MatchKind::Prefix => value.starts_with(pattern),
            MatchKind::Suffix => value.ends_with(pattern),
            MatchKind::Contains => value.contains(pattern),
        }
    }
}

/// The subject check: no matcher passes everything; with one, a missing `sub` fails like one
/// that does not match (`subject_mismatch`).
pub fn check_subject(matcher: Option<&StringMatcher>, sub: Option<&str>) -> Result<(), Reason> {
    match (matcher, sub) {
        (None, _) => Ok(()),
        (Some(m), Some(sub)) if m.matches(sub) => Ok(()),
        (Some(_), _) => Err(Reason::SubjectMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MatchKind, pattern: &str, ignore_case: bool) -> StringMatcher {
        StringMatcher {
            kind,
            pattern: pattern.into(),
            ignore_case,
        }
    }

    #[test]
    fn each_kind_matches_its_way() {
        let spiffe = m(MatchKind::Prefix, "spiffe://example.org/", false);
        assert!(spiffe.matches("spiffe://example.org/ns/a"));
        assert!(!spiffe.matches("spiffe://example.com/ns/a"));
        assert!(!spiffe.matches("SPIFFE://example.org/ns/a"));
        assert!(m(MatchKind::Exact, "alice", false).matches("alice"));
        assert!(!m(MatchKind::Exact, "alice", false).matches("alice2"));
        assert!(m(MatchKind::Suffix, "@corp.example", false).matches("bob@corp.example"));
        assert!(!m(MatchKind::Suffix, "@corp.example", false).matches("bob@corp.example.evil"));
        assert!(m(MatchKind::Contains, "svc", false).matches("a-svc-b"));
        assert!(!m(MatchKind::Contains, "svc", false).matches("a-SVC-b"));
    }

    #[test]
    fn ignore_case_folds_ascii_only() {
        assert!(m(MatchKind::Exact, "Alice", true).matches("aLICE"));
        assert!(m(MatchKind::Prefix, "SPIFFE://", true).matches("spiffe://x"));
        assert!(m(MatchKind::Contains, "SVC", true).matches("a-svc-b"));
        // Non-ASCII letters keep their case, as Envoy's ASCII folding does.
        assert!(!m(MatchKind::Exact, "É", true).matches("é"));
    }

    #[test]
    fn missing_sub_fails_a_configured_matcher() {
        let exact = m(MatchKind::Exact, "alice", false);
        assert_eq!(check_subject(None, None), Ok(()));
        assert_eq!(check_subject(Some(&exact), Some("alice")), Ok(()));
        assert_eq!(
            check_subject(Some(&exact), Some("mallory")),
            Err(Reason::SubjectMismatch)
        );
        assert_eq!(
            check_subject(Some(&exact), None),
            Err(Reason::SubjectMismatch)
        );
    }
}
