//! Plugin configuration: the JSON operators write (serde shapes, unknown fields refused), then a
//! validating compile step into the model the filter runs. Every error names its field path,
//! e.g. `providers.main.local_jwks: no usable key`.

mod model;
mod provider;
mod raw;
mod requirement;
mod rule;
mod verifier;

pub use model::{
    BearerToken, ClaimToHeader, Config, FailureMode, FilterStateRules, KeySource, NamedRequirement,
    PathMatch, Provider, RemoteJwks, Rule, StreamConfig, TokenSource, VerifierConfig, VerifierMode,
    MIN_FEED_TOKEN_BYTES,
};
pub use requirement::{Allow, Requirement, MAX_REQUIREMENT_DEPTH, MAX_REQUIREMENT_NODES};

use provider::compile_provider;
use raw::RawConfig;
use requirement::compile_requirement;
use rule::compile_rule;
use std::fmt;
use verifier::compile_verifier;

pub const DEFAULT_VERIFIER_PATH: &str = "/v1/check";
pub const DEFAULT_VERIFIER_TIMEOUT_MS: u64 = 200;
pub const DEFAULT_JWKS_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_JWKS_CACHE_SECONDS: u64 = 600;
/// One year: longer refresh periods are surely mistakes (and overflow in milliseconds).
pub const MAX_JWKS_CACHE_SECONDS: u64 = 31_536_000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
pub const MAX_TOKEN_BYTES_LIMIT: usize = 65_536;
pub const DEFAULT_STREAM_PATH: &str = "/v1/revocations";
pub const DEFAULT_MAX_STALENESS_MS: u64 = 1000;
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// One hour: a view older than that is no view.
pub const MAX_STALENESS_LIMIT_MS: u64 = 3_600_000;
pub const MAX_ENTRIES_LIMIT: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

pub(super) fn err(path: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Parses and validates the plugin configuration.
    pub fn parse(json: &str) -> Result<Config, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            err(path, without_position(&e.into_inner().to_string()))
        })?;
        compile(raw)
    }

    pub fn provider_index(&self, name: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.name == name)
    }

    pub fn requirement(&self, name: &str) -> Option<&Requirement> {
        self.requirements
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.requires)
    }

    pub fn has_remote_jwks(&self) -> bool {
        self.providers
            .iter()
            .any(|p| matches!(p.keys, KeySource::Remote(_)))
    }
}

/// serde_json appends " at line L column C"; the field path says more.
fn without_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}

fn compile(raw: RawConfig) -> Result<Config, ConfigError> {
    let mut providers = Vec::with_capacity(raw.providers.len());
    for (name, p) in raw.providers {
        providers.push(compile_provider(name, p)?);
    }
    let mut requirements = Vec::with_capacity(raw.requirements.len());
    for (name, value) in &raw.requirements {
        if name.is_empty() {
            return Err(err("requirements", "requirement names must not be empty"));
        }
        let requires = compile_requirement(&format!("requirements.{name}"), value, &providers)?;
        requirements.push(NamedRequirement {
            name: name.clone(),
            requires,
        });
    }
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        rules.push(compile_rule(i, r, &providers, &requirements)?);
    }
    let filter_state_rules = raw
        .filter_state_rules
        .map(|f| compile_filter_state_rules(f, &providers))
        .transpose()?;
    let verifier = raw.verifier.map(compile_verifier).transpose()?;
    let mut claim_header_names: Vec<String> = providers
        .iter()
        .flat_map(|p| p.claim_to_headers.iter().map(|c| c.header_name.clone()))
        .collect();
    claim_header_names.sort();
    claim_header_names.dedup();
    Ok(Config {
        providers,
        rules,
        verifier,
        claim_header_names,
        requirements,
        filter_state_rules,
    })
}

fn compile_filter_state_rules(
    raw: raw::RawFilterStateRules,
    providers: &[Provider],
) -> Result<FilterStateRules, ConfigError> {
    no_whitespace("filter_state_rules.name", &raw.name)?;
    let mut requires = Vec::with_capacity(raw.requires.len());
    for (value, r) in &raw.requires {
        let at = format!("filter_state_rules.requires.{value}");
        requires.push((value.clone(), compile_requirement(&at, r, providers)?));
    }
    Ok(FilterStateRules {
        name: raw.name,
        requires,
    })
}

/// Cluster names, paths and authorities go into HTTP calls: no spaces or control characters.
pub(super) fn no_whitespace(path: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(err(path, "must not be empty"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(path, "must not contain spaces or control characters"));
    }
    Ok(())
}

pub(super) fn timeout(path: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    let ms = value.unwrap_or(default);
    if ms == 0 || ms > MAX_TIMEOUT_MS {
        return Err(err(path, format!("must be between 1 and {MAX_TIMEOUT_MS}")));
    }
    Ok(ms)
}
