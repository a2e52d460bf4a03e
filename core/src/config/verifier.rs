//! `verifier` and `verifier.stream`: where revocation is checked and how.

use super::raw::{RawStream, RawVerifier};
use super::{err, no_whitespace, timeout, BearerToken, ConfigError, FailureMode, StreamConfig};
use super::{VerifierConfig, VerifierMode};
use super::{DEFAULT_MAX_ENTRIES, DEFAULT_MAX_STALENESS_MS, DEFAULT_STREAM_PATH};
use super::{
    DEFAULT_VERIFIER_PATH, DEFAULT_VERIFIER_TIMEOUT_MS, MAX_ENTRIES_LIMIT, MAX_STALENESS_LIMIT_MS,
};

pub(super) fn compile_verifier(v: RawVerifier) -> Result<VerifierConfig, ConfigError> {
    if v.cluster.is_empty() {
        return Err(err("verifier.cluster", "must not be empty"));
    }
    let path = v.path.unwrap_or_else(|| DEFAULT_VERIFIER_PATH.into());
    if !path.starts_with('/') {
        return Err(err("verifier.path", "must start with '/'"));
    }
    no_whitespace("verifier.cluster", &v.cluster)?;
    no_whitespace("verifier.path", &path)?;
    if let Some(authority) = &v.authority {
        no_whitespace("verifier.authority", authority)?;
    }
    let mode = v.mode.unwrap_or(VerifierMode::Callout);
    if mode == VerifierMode::Callout && v.stream.is_some() {
        return Err(err(
            "verifier.stream",
            "is read only with \"mode\": \"stream\"",
        ));
    }
    let stream = compile_stream(v.stream)?;
    Ok(VerifierConfig {
        mode,
        stream,
        authority: v.authority.unwrap_or_else(|| v.cluster.clone()),
        timeout_ms: timeout(
            "verifier.timeout_ms",
            v.timeout_ms,
            DEFAULT_VERIFIER_TIMEOUT_MS,
        )?,
        failure_mode: v.failure_mode.unwrap_or(FailureMode::Deny),
        cluster: v.cluster,
        path,
    })
}

pub(super) fn compile_stream(raw: Option<RawStream>) -> Result<StreamConfig, ConfigError> {
    let raw = raw.unwrap_or(RawStream {
        path: None,
        max_staleness_ms: None,
        max_entries: None,
        feed_token: None,
    });
    let path = raw.path.unwrap_or_else(|| DEFAULT_STREAM_PATH.into());
    if !path.starts_with('/') {
        return Err(err("verifier.stream.path", "must start with '/'"));
    }
    if path.contains(['?', '#']) {
        return Err(err(
            "verifier.stream.path",
            "must not contain '?' or '#' (the filter adds the query)",
        ));
    }
    no_whitespace("verifier.stream.path", &path)?;
    let max_staleness_ms = raw.max_staleness_ms.unwrap_or(DEFAULT_MAX_STALENESS_MS);
    if !(1..=MAX_STALENESS_LIMIT_MS).contains(&max_staleness_ms) {
        return Err(err(
            "verifier.stream.max_staleness_ms",
            format!("must be between 1 and {MAX_STALENESS_LIMIT_MS}"),
        ));
    }
    let max_entries = raw.max_entries.unwrap_or(DEFAULT_MAX_ENTRIES);
    if !(1..=MAX_ENTRIES_LIMIT).contains(&max_entries) {
        return Err(err(
            "verifier.stream.max_entries",
            format!("must be between 1 and {MAX_ENTRIES_LIMIT}"),
        ));
    }
    // The message never repeats the token.
    let feed_token = raw
        .feed_token
        .map(|t| BearerToken::new(&t).map_err(|why| err("verifier.stream.feed_token", why)))
        .transpose()?;
    Ok(StreamConfig {
        path,
        max_staleness_ms,
        max_entries: usize::try_from(max_entries).unwrap_or(usize::MAX),
        feed_token,
    })
}
