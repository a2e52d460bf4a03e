//! What the flow reports besides its action: counters to bump and notes to log, as data. A note
//! is formatted only when the logger wants its level, so a dropped debug line costs nothing.

use crate::Reason;
use std::fmt;

/// Counter increments for one step.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub allowed: u32,
    /// The reason a request was refused (a request is refused once).
    pub denied: Option<Reason>,
    pub cache_hits: u32,
    pub cache_misses: u32,
    /// The verifier gave no usable answer.
    pub verifier_failures: u32,
    /// A request forwarded because `failure_mode` is `allow`.
    pub failure_mode_allowed: u32,
    pub jwks_fetch_ok: u32,
    pub jwks_fetch_failed: u32,
    /// A CORS preflight forwarded by `bypass_cors_preflight`.
    pub cors_preflight_bypassed: u32,
    /// The reason a report-only rule (or provider) would have refused the request, which was
    /// forwarded instead. Never set together with `denied`.
    pub report_only: Option<Reason>,
    /// The provider (index in the configuration) whose token decided the request: the one
    /// whose claims an allowed request carries, or the one whose token decided a refusal (when
    /// a token did).
    pub provider: Option<usize>,
    /// Stream mode: snapshots applied, i.e. the revocation view (re)synchronised.
    pub feed_snapshots: u32,
    /// Stream mode: poll answers not applied (no answer, malformed, out of sequence, overflow).
    pub feed_failures: u32,
}

/// `name` as one segment of a stat name (`warden.provider.<segment>.allowed`): every byte
/// outside `[A-Za-z0-9_]` becomes `_`, so a provider name with a `.` adds no level to Envoy's
/// stat tree and reads the same in Prometheus (which allows only those characters); `_` when
/// empty.
pub fn stat_segment(name: &str) -> String {
    if name.is_empty() {
        return "_".into();
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

/// A log line, kept as data until the logger formats it (with its `warden` target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    ConfigRejected(String),
    Configured {
        providers: usize,
        rules: usize,
    },
    LocalKeySkipped {
        provider: String,
        why: String,
    },
    KeysUpdated {
        provider: String,
    },
    KeysFetchFailed {
        provider: String,
        why: String,
    },
    VerifierNotStarted {
        cluster: String,
        why: String,
    },
    /// `allowed`: forwarded by `failure_mode allow`. `warn`: the first of its interval, so a
    /// verifier outage logs one warning per interval and the rest at debug level.
    VerifierUnavailable {
        allowed: bool,
        warn: bool,
    },
    Denied(Reason),
    /// Claims filter state left out for `provider` (values not fit to write, or over the
    /// per-request budget): policies on those keys see them absent.
    FilterStateSkipped {
        provider: String,
        entries: usize,
    },
    /// A request a report-only rule or provider would have refused, forwarded.
    ReportOnly {
        reason: Reason,
        /// The provider whose token decided, or `-`.
        provider: String,
        /// `rule rules[i]`, `requirement NAME` or `filter_state_rules VALUE`.
        rule: String,
    },
    /// The route's metadata names a requirement not in `requirements`.
    RequirementUnknown(String),
    /// The route's metadata could not be read.
    RouteMetadataUnreadable(String),
    /// Stream mode: a snapshot replaced the revocation view.
    FeedSynced {
        entries: usize,
    },
    /// Stream mode: a poll answer was not applied. `warn` as for `VerifierUnavailable`.
    FeedFailed {
        why: String,
        warn: bool,
    },
}

impl Note {
    pub fn level(&self) -> Level {
        match self {
            Note::ConfigRejected(_) | Note::VerifierNotStarted { .. } => Level::Error,
            Note::LocalKeySkipped { .. } | Note::KeysFetchFailed { .. } => Level::Warn,
            Note::RequirementUnknown(_) | Note::RouteMetadataUnreadable(_) => Level::Warn,
            Note::ReportOnly { .. } => Level::Debug,
            Note::FeedFailed { warn: true, .. } => Level::Warn,
            Note::FeedFailed { warn: false, .. } => Level::Debug,
            Note::FeedSynced { .. } => Level::Info,
            Note::VerifierUnavailable { warn: true, .. } => Level::Warn,
            Note::Configured { .. } | Note::KeysUpdated { .. } => Level::Info,
            Note::VerifierUnavailable { warn: false, .. }
            | Note::Denied(_)
            | Note::FilterStateSkipped { .. } => Level::Debug,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::ConfigRejected(why) => write!(f, "invalid configuration: {why}"),
            Note::Configured { providers, rules } => {
                write!(f, "configured {providers} provider(s), {rules} rule(s)")
            }
            Note::LocalKeySkipped { provider, why } => {
                write!(f, "providers.{provider}.local_jwks: skipped {why}")
            }
            Note::KeysUpdated { provider } => {
                write!(f, "providers.{provider}.remote_jwks: keys updated")
            }
            Note::KeysFetchFailed { provider, why } => write!(
                f,
                "providers.{provider}.remote_jwks: fetch failed, keeping previous keys: {why}"
            ),
            Note::VerifierNotStarted { cluster, why } => {
                write!(
                    f,
                    "verifier call to cluster {cluster} failed to start ({why})"
                )
            }
            Note::VerifierUnavailable { allowed: true, .. } => {
                f.write_str("verifier unavailable; request allowed by failure_mode allow")
            }
            Note::VerifierUnavailable { allowed: false, .. } => {
                f.write_str("verifier unavailable; request denied (failure_mode deny)")
            }
            Note::Denied(reason) => write!(f, "denied: {reason}"),
            Note::FilterStateSkipped { provider, entries } => write!(
                f,
                "providers.{provider}: {entries} filter state entries left out (control characters, size, or over the per-request budget)"
            ),
            Note::ReportOnly {
                reason,
                provider,
                rule,
            } => write!(
                f,
                "report-only: would deny {reason} (provider {provider}, {rule})"
            ),
            Note::RequirementUnknown(name) => write!(
                f,
                "route metadata names requirement {name:?}, which requirements does not have; \
                 request denied"
            ),
            Note::RouteMetadataUnreadable(why) => write!(f, "{why}; request denied"),
            Note::FeedSynced { entries } => {
                write!(f, "revocation view synchronised ({entries} entries)")
            }
            Note::FeedFailed { why, .. } => write!(
                f,
                "revocation feed: {why}; past max_staleness_ms requests call the verifier"
            ),
        }
    }
}

/// Counters, notes and filter-state entries of one step.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub counts: Counts,
    pub notes: Vec<Note>,
    /// Request filter state to write before the step's action is carried out, so that the RBAC
    /// filter, later filters and the access log can read it (a wasm filter cannot write dynamic
    /// metadata, envoy#15148). Keys as written by the filter; Envoy's wasm host stores each under
    /// `wasm.<key>`.
    pub filter_state: Vec<(String, String)>,
}

impl Report {
    pub(crate) fn merge(&mut self, other: Report) {
        let c = &mut self.counts;
        let o = other.counts;
        c.allowed += o.allowed;
        c.denied = c.denied.or(o.denied);
        c.cache_hits += o.cache_hits;
        c.cache_misses += o.cache_misses;
        c.verifier_failures += o.verifier_failures;
        c.failure_mode_allowed += o.failure_mode_allowed;
        c.jwks_fetch_ok += o.jwks_fetch_ok;
        c.jwks_fetch_failed += o.jwks_fetch_failed;
        c.cors_preflight_bypassed += o.cors_preflight_bypassed;
        c.report_only = c.report_only.or(o.report_only);
        c.provider = c.provider.or(o.provider);
        c.feed_snapshots += o.feed_snapshots;
        c.feed_failures += o.feed_failures;
        self.notes.extend(other.notes);
        self.filter_state.extend(other.filter_state);
    }
}
