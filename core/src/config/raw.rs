//! The configuration as operators write it: serde shapes only, unknown fields refused. Nothing
//! here is validated; `compile` turns it into the model.

use super::{FailureMode, VerifierMode};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub(super) rules: Vec<RawRule>,
    pub(super) verifier: Option<RawVerifier>,
    /// Named requirements (jwt_authn `requirement_map`); each value is read by
    /// `requirement::compile_requirement`.
    #[serde(default)]
    pub(super) requirements: BTreeMap<String, serde_json::Value>,
    pub(super) filter_state_rules: Option<RawFilterStateRules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFilterStateRules {
    pub(super) name: String,
    pub(super) requires: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) issuer: Option<String>,
    #[serde(default)]
    pub(super) audiences: Vec<String>,
    pub(super) local_jwks: Option<RawLocalJwks>,
    pub(super) remote_jwks: Option<RawRemoteJwks>,
    pub(super) algorithms: Option<Vec<String>>,
    pub(super) from_headers: Option<Vec<RawHeaderSource>>,
    pub(super) from_params: Option<Vec<String>>,
    pub(super) from_cookies: Option<Vec<String>>,
    pub(super) clock_skew_seconds: Option<u32>,
    pub(super) require_expiration: Option<bool>,
    pub(super) max_token_bytes: Option<usize>,
    pub(super) forward: Option<bool>,
    pub(super) require_jti: Option<bool>,
    #[serde(default)]
    pub(super) claim_to_headers: Vec<RawClaimToHeader>,
    pub(super) enforce: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocalJwks {
    pub(super) inline_string: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRemoteJwks {
    pub(super) cluster: String,
    pub(super) path: String,
    pub(super) authority: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) cache_duration_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeaderSource {
    pub(super) name: String,
    pub(super) value_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClaimToHeader {
    pub(super) header_name: String,
    pub(super) claim_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(rename = "match")]
    pub(super) matcher: RawMatch,
    pub(super) requires: Option<serde_json::Value>,
    pub(super) requirement_name: Option<String>,
    pub(super) enforce: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatch {
    pub(super) prefix: Option<String>,
    pub(super) path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerifier {
    pub(super) cluster: String,
    pub(super) authority: Option<String>,
    pub(super) path: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) failure_mode: Option<FailureMode>,
    pub(super) mode: Option<VerifierMode>,
    pub(super) stream: Option<RawStream>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStream {
    pub(super) path: Option<String>,
    pub(super) max_staleness_ms: Option<u64>,
    pub(super) max_entries: Option<u64>,
    pub(super) feed_token: Option<String>,
}
