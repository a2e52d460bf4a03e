//! One `run(data)` per fuzz target. Each feeds the bytes through Warden's public API and panics
//! when an invariant breaks: a panic is what libFuzzer reports as a crash, and what the stable
//! replay test (`core/tests/fuzz_regressions.rs`) fails on. Only `warden_core` and the RustCrypto
//! crates are used here, so the replay test can include this module as it is.

pub mod bodies;
pub mod bytes;
pub mod config;
pub mod der;
pub mod diff_ecdsa;
pub mod diff_rsa;
pub mod feed_view;
pub mod host_crypto;
pub mod input;
pub mod jwks;
pub mod keys;
pub mod request;
pub mod route;
pub mod seeds;
pub mod token;
pub mod upstream;

use warden_core::config::Rule;
use warden_core::rules::{self, RuleMatch};

/// The rule every reading of `path` falls under, or `None` (no rule, or readings that disagree:
/// such a request is refused with 400, so no rule vouches for it).
pub fn rule_for<'r>(rules: &'r [Rule], path: &str) -> Option<&'r Rule> {
    match rules::match_path(rules, path) {
        RuleMatch::Rule(rule) => Some(rule),
        RuleMatch::NoRule | RuleMatch::Rejected => None,
    }
}

/// Every provider whose sources `rule`'s requirement reads.
pub fn providers_of(
    config: &warden_core::config::Config,
    rule: &warden_core::config::Rule,
) -> Vec<usize> {
    rule.requires
        .as_ref()
        .map(|r| r.providers(config.providers.len()))
        .unwrap_or_default()
}
