//! `providers.<name>.payload_in_filter_state`, `header_in_filter_state`,
//! `failed_status_in_filter_state` and `normalize_payload_in_filter_state`: where a provider's
//! verified claims, JOSE header and failure status are written as request filter state (for
//! Envoy's RBAC filter, access logs and later filters; jwt_authn's `*_in_metadata` fields).

use super::raw::RawNormalizePayload;
use super::{err, ConfigError};

/// Longest filter state key (or claim name written under one) accepted.
pub const MAX_FILTER_STATE_KEY_BYTES: usize = 128;
/// Prefix of the filter's own filter state (`warden.decision`, `warden.provider`, ...): a
/// provider's keys may not start with it, so no claim can pose as the filter's decision.
pub const RESERVED_KEY_PREFIX: &str = "warden";

/// A provider's filter state keys; `None` writes nothing for that part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsState {
    /// On success: the payload JSON at the key, and `<key>.<claim>` per top-level claim.
    pub payload_key: Option<String>,
    /// On success: the JOSE header JSON.
    pub header_key: Option<String>,
    /// On failure: `{"code":<status>,"message":"<reason>"}`, with `<key>.code`, `<key>.message`.
    pub failed_status_key: Option<String>,
    /// String claims split on spaces into arrays before the payload is written.
    pub space_delimited_claims: Vec<String>,
}

impl ClaimsState {
    pub fn is_empty(&self) -> bool {
        self.payload_key.is_none() && self.header_key.is_none() && self.failed_status_key.is_none()
    }
}

pub(super) fn compile_claims_state(
    provider: &str,
    payload: Option<String>,
    header: Option<String>,
    failed_status: Option<String>,
    normalize: Option<RawNormalizePayload>,
) -> Result<ClaimsState, ConfigError> {
    let at = |field: &str| format!("providers.{provider}.{field}");
    let payload_key = payload
        .map(|k| filter_state_key(&at("payload_in_filter_state"), k))
        .transpose()?;
    let header_key = header
        .map(|k| filter_state_key(&at("header_in_filter_state"), k))
        .transpose()?;
    let failed_status_key = failed_status
        .map(|k| filter_state_key(&at("failed_status_in_filter_state"), k))
        .transpose()?;
    // `<payload>.<claim>` and `<failed>.code` live under their key: no key may be another's
    // key or sit under it, or one part would overwrite another.
    let named = [
        ("payload_in_filter_state", &payload_key),
        ("header_in_filter_state", &header_key),
        ("failed_status_in_filter_state", &failed_status_key),
    ];
    for (i, (field, key)) in named.iter().enumerate() {
        let Some(key) = key else { continue };
        for (other_field, other) in named.iter().skip(i + 1) {
            let Some(other) = other else { continue };
            if overlaps(key, other) {
                return Err(err(
                    at(other_field),
                    format!("{other:?} overlaps {field} {key:?} (keys and their `.` children must be distinct)"),
                ));
            }
        }
    }
    let mut space_delimited_claims = Vec::new();
    if let Some(normalize) = normalize {
        let field = at("normalize_payload_in_filter_state.space_delimited_claims");
        if payload_key.is_none() {
            return Err(err(
                at("normalize_payload_in_filter_state"),
                "needs payload_in_filter_state",
            ));
        }
        for (i, claim) in normalize.space_delimited_claims.into_iter().enumerate() {
            if claim.is_empty() || claim.len() > MAX_FILTER_STATE_KEY_BYTES {
                return Err(err(
                    format!("{field}[{i}]"),
                    format!("must be 1 to {MAX_FILTER_STATE_KEY_BYTES} bytes"),
                ));
            }
            if !space_delimited_claims.contains(&claim) {
                space_delimited_claims.push(claim);
            }
        }
    }
    Ok(ClaimsState {
        payload_key,
        header_key,
        failed_status_key,
        space_delimited_claims,
    })
}

/// Providers may share a key for the same part (the later verified token takes it, as
/// jwt_authn's metadata does); any other overlap between two providers' keys is refused.
pub(super) fn check_across_providers(
    providers: &[(&str, &ClaimsState)],
) -> Result<(), ConfigError> {
    let parts = |c: &ClaimsState| {
        [
            ("payload_in_filter_state", c.payload_key.clone()),
            ("header_in_filter_state", c.header_key.clone()),
            ("failed_status_in_filter_state", c.failed_status_key.clone()),
        ]
    };
    for (i, (name, state)) in providers.iter().enumerate() {
        for (other_name, other_state) in providers.iter().skip(i + 1) {
            for (field, key) in parts(state) {
                let Some(key) = key else { continue };
                for (other_field, other) in parts(other_state) {
                    let Some(other) = other else { continue };
                    let shared = field == other_field && key == other;
                    if !shared && overlaps(&key, &other) {
                        return Err(err(
                            format!("providers.{other_name}.{other_field}"),
                            format!("{other:?} overlaps providers.{name}.{field} {key:?}"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn overlaps(a: &str, b: &str) -> bool {
    let under = |child: &str, parent: &str| {
        child
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    a == b || under(a, b) || under(b, a)
}

/// Letters, digits, `_`, `-` and `.` (not at either end, not twice in a row): Envoy stores the
/// key as `wasm.<key>` and the access log names it in `%FILTER_STATE(wasm.<key>:PLAIN)%`, whose
/// `:` and `)` would end the name.
fn filter_state_key(path: &str, key: String) -> Result<String, ConfigError> {
    if key.is_empty() || key.len() > MAX_FILTER_STATE_KEY_BYTES {
        return Err(err(
            path,
            format!("must be 1 to {MAX_FILTER_STATE_KEY_BYTES} bytes"),
        ));
    }
    let charset = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !charset || key.starts_with('.') || key.ends_with('.') || key.contains("..") {
        return Err(err(
            path,
            format!("{key:?}: use letters, digits, '_', '-' and single inner '.'"),
        ));
    }
    if overlaps(&key, RESERVED_KEY_PREFIX) {
        return Err(err(
            path,
            format!("{key:?}: keys under \"{RESERVED_KEY_PREFIX}.\" are the filter's own"),
        ));
    }
    Ok(key)
}
