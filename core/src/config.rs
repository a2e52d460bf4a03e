//! Plugin configuration: the JSON operators write (serde shapes, unknown fields refused), then a
//! validating compile step into the model the filter runs. Every error names its field path,
//! e.g. `providers.main.local_jwks: no usable key`.

use crate::alg::Algorithm;
use crate::jwk::KeySet;
use crate::token::Requirements;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

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

fn err(path: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        reason: reason.into(),
    }
}

// ---- The shape operators write ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    rules: Vec<RawRule>,
    verifier: Option<RawVerifier>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    issuer: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    local_jwks: Option<RawLocalJwks>,
    remote_jwks: Option<RawRemoteJwks>,
    algorithms: Option<Vec<String>>,
    from_headers: Option<Vec<RawHeaderSource>>,
    from_params: Option<Vec<String>>,
    from_cookies: Option<Vec<String>>,
    clock_skew_seconds: Option<u32>,
    require_expiration: Option<bool>,
    max_token_bytes: Option<usize>,
    forward: Option<bool>,
    #[serde(default)]
    claim_to_headers: Vec<RawClaimToHeader>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalJwks {
    inline_string: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemoteJwks {
    cluster: String,
    path: String,
    authority: Option<String>,
    timeout_ms: Option<u64>,
    cache_duration_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderSource {
    name: String,
    value_prefix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaimToHeader {
    header_name: String,
    claim_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    matcher: RawMatch,
    requires: Option<RawRequires>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    prefix: Option<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    provider_name: Option<String>,
    requires_any: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerifier {
    cluster: String,
    authority: Option<String>,
    path: Option<String>,
    timeout_ms: Option<u64>,
    failure_mode: Option<FailureMode>,
    mode: Option<VerifierMode>,
    stream: Option<RawStream>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStream {
    path: Option<String>,
    max_staleness_ms: Option<u64>,
    max_entries: Option<u64>,
    feed_token: Option<String>,
}

// ---- The model the filter runs ----

/// How revocation is checked: a `POST` per request, or a local view fed by the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifierMode {
    Callout,
    Stream,
}

/// `verifier.stream`: where the revocation feed is polled and how far the view is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub path: String,
    /// The view is trusted only this long after the feed last confirmed it.
    pub max_staleness_ms: u64,
    /// Past this many entries the view is not trusted (callouts instead).
    pub max_entries: usize,
    /// Sent as `Authorization: Bearer …` with every poll (the verifier's `--feed-token-file`).
    pub feed_token: Option<BearerToken>,
}

/// Shortest feed token accepted, as the verifier requires for its token files.
pub const MIN_FEED_TOKEN_BYTES: usize = 16;

/// A bearer token the filter sends: kept as the whole header value, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken {
    header_value: String,
}

impl BearerToken {
    /// `value` must be printable ASCII without spaces, at least [`MIN_FEED_TOKEN_BYTES`] long.
    pub fn new(value: &str) -> Result<BearerToken, String> {
        if value.len() < MIN_FEED_TOKEN_BYTES {
            return Err(format!(
                "must be at least {MIN_FEED_TOKEN_BYTES} characters"
            ));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(BearerToken {
            header_value: format!("Bearer {value}"),
        })
    }

    /// `Bearer <token>`.
    pub fn header_value(&self) -> &str {
        &self.header_value
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    Deny,
    Allow,
}

#[derive(Debug)]
pub struct Config {
    pub providers: Vec<Provider>,
    pub rules: Vec<Rule>,
    pub verifier: Option<VerifierConfig>,
    /// Every header any provider sets from claims: stripped from every incoming request.
    pub claim_header_names: Vec<String>,
}

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub requirements: Requirements,
    pub keys: KeySource,
    pub sources: Vec<TokenSource>,
    pub forward: bool,
    pub claim_to_headers: Vec<ClaimToHeader>,
}

#[derive(Debug)]
pub enum KeySource {
    Local(KeySet),
    Remote(RemoteJwks),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    pub cluster: String,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub cache_duration_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Header name (lower case) and a prefix compared case-insensitively, e.g. `Bearer `.
    Header {
        name: String,
        prefix: String,
    },
    Param(String),
    Cookie(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToHeader {
    pub header_name: String,
    pub claim_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Prefix(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matcher: PathMatch,
    /// Indexes into `Config::providers`; any one of them suffices. Empty: no token needed.
    pub requires_any: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
    pub failure_mode: FailureMode,
    pub mode: VerifierMode,
    /// Used in stream mode only (defaults otherwise).
    pub stream: StreamConfig,
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
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        rules.push(compile_rule(i, r, &providers)?);
    }
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
    })
}

fn compile_provider(name: String, p: RawProvider) -> Result<Provider, ConfigError> {
    let at = |field: &str| format!("providers.{name}.{field}");
    if name.is_empty() {
        return Err(err("providers", "provider names must not be empty"));
    }
    let keys = match (p.local_jwks, p.remote_jwks) {
        (Some(local), None) => KeySource::Local(
            KeySet::parse(&local.inline_string)
                .map_err(|why| err(at("local_jwks"), why.to_string()))?,
        ),
        (None, Some(remote)) => KeySource::Remote(compile_remote(&at("remote_jwks"), remote)?),
        (Some(_), Some(_)) => {
            return Err(err(
                format!("providers.{name}"),
                "set one of local_jwks or remote_jwks, not both",
            ))
        }
        (None, None) => {
            return Err(err(
                format!("providers.{name}"),
                "one of local_jwks or remote_jwks is required",
            ))
        }
    };
    let algorithms = match p.algorithms {
        None => None,
        Some(names) => {
            if names.is_empty() {
                return Err(err(
                    at("algorithms"),
                    "must not be empty (omit it to allow all)",
                ));
            }
            let mut algs = Vec::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                let alg = Algorithm::from_name(n).ok_or_else(|| {
                    let why = if n.eq_ignore_ascii_case("none") {
                        "\"none\" is never allowed".to_string()
                    } else {
                        format!("unknown algorithm {n:?}")
                    };
                    err(format!("providers.{name}.algorithms[{i}]"), why)
                })?;
                algs.push(alg);
            }
            Some(algs)
        }
    };
    let max_token_bytes = p.max_token_bytes.unwrap_or(8192);
    if max_token_bytes == 0 || max_token_bytes > MAX_TOKEN_BYTES_LIMIT {
        return Err(err(
            at("max_token_bytes"),
            format!("must be between 1 and {MAX_TOKEN_BYTES_LIMIT}"),
        ));
    }
    for (i, aud) in p.audiences.iter().enumerate() {
        if aud.is_empty() {
            return Err(err(
                format!("providers.{name}.audiences[{i}]"),
                "must not be empty",
            ));
        }
    }
    if p.issuer.as_deref() == Some("") {
        return Err(err(
            at("issuer"),
            "must not be empty (omit it to accept any issuer)",
        ));
    }
    let sources = compile_sources(&name, p.from_headers, p.from_params, p.from_cookies)?;
    let mut claim_to_headers = Vec::with_capacity(p.claim_to_headers.len());
    for (i, c) in p.claim_to_headers.into_iter().enumerate() {
        let field = format!("providers.{name}.claim_to_headers[{i}]");
        let header_name = header_name(&format!("{field}.header_name"), &c.header_name)?;
        if c.claim_name.is_empty() {
            return Err(err(format!("{field}.claim_name"), "must not be empty"));
        }
        claim_to_headers.push(ClaimToHeader {
            header_name,
            claim_name: c.claim_name,
        });
    }
    Ok(Provider {
        requirements: Requirements {
            issuer: p.issuer,
            audiences: p.audiences,
            algorithms,
            clock_skew_seconds: i64::from(p.clock_skew_seconds.unwrap_or(60)),
            require_expiration: p.require_expiration.unwrap_or(true),
            max_token_bytes,
        },
        keys,
        sources,
        forward: p.forward.unwrap_or(false),
        claim_to_headers,
        name,
    })
}

fn compile_sources(
    name: &str,
    headers: Option<Vec<RawHeaderSource>>,
    params: Option<Vec<String>>,
    cookies: Option<Vec<String>>,
) -> Result<Vec<TokenSource>, ConfigError> {
    if headers.is_none() && params.is_none() && cookies.is_none() {
        return Ok(vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }]);
    }
    let mut sources = Vec::new();
    for (i, h) in headers.unwrap_or_default().into_iter().enumerate() {
        let name = header_name(&format!("providers.{name}.from_headers[{i}].name"), &h.name)?;
        sources.push(TokenSource::Header {
            name,
            prefix: h.value_prefix.unwrap_or_default(),
        });
    }
    for (i, p) in params.unwrap_or_default().into_iter().enumerate() {
        if p.is_empty() {
            return Err(err(
                format!("providers.{name}.from_params[{i}]"),
                "must not be empty",
            ));
        }
        sources.push(TokenSource::Param(p));
    }
    for (i, c) in cookies.unwrap_or_default().into_iter().enumerate() {
        if c.is_empty() || c.contains([';', '=', ' ']) {
            return Err(err(
                format!("providers.{name}.from_cookies[{i}]"),
                "not a valid cookie name",
            ));
        }
        sources.push(TokenSource::Cookie(c));
    }
    if sources.is_empty() {
        return Err(err(
            format!("providers.{name}.from_headers"),
            "no token source configured",
        ));
    }
    Ok(sources)
}

/// A header name as HTTP/2 carries it: lower-case token characters, no pseudo-headers.
fn header_name(path: &str, name: &str) -> Result<String, ConfigError> {
    let lower = name.to_ascii_lowercase();
    let valid = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(err(path, format!("{name:?} is not a valid header name")));
    }
    if matches!(
        lower.as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection"
    ) {
        return Err(err(path, format!("{name:?} may not be set by the filter")));
    }
    Ok(lower)
}

fn compile_remote(at: &str, r: RawRemoteJwks) -> Result<RemoteJwks, ConfigError> {
    if r.cluster.is_empty() {
        return Err(err(format!("{at}.cluster"), "must not be empty"));
    }
    if !r.path.starts_with('/') {
        return Err(err(format!("{at}.path"), "must start with '/'"));
    }
    no_whitespace(&format!("{at}.cluster"), &r.cluster)?;
    no_whitespace(&format!("{at}.path"), &r.path)?;
    if let Some(authority) = &r.authority {
        no_whitespace(&format!("{at}.authority"), authority)?;
    }
    let timeout_ms = timeout(
        &format!("{at}.timeout_ms"),
        r.timeout_ms,
        DEFAULT_JWKS_TIMEOUT_MS,
    )?;
    let cache_duration_seconds = r
        .cache_duration_seconds
        .unwrap_or(DEFAULT_JWKS_CACHE_SECONDS);
    if cache_duration_seconds == 0 || cache_duration_seconds > MAX_JWKS_CACHE_SECONDS {
        return Err(err(
            format!("{at}.cache_duration_seconds"),
            format!("must be between 1 and {MAX_JWKS_CACHE_SECONDS}"),
        ));
    }
    Ok(RemoteJwks {
        authority: r.authority.unwrap_or_else(|| r.cluster.clone()),
        cluster: r.cluster,
        path: r.path,
        timeout_ms,
        cache_duration_seconds,
    })
}

fn compile_rule(i: usize, r: RawRule, providers: &[Provider]) -> Result<Rule, ConfigError> {
    let at = format!("rules[{i}]");
    let matcher = match (r.matcher.prefix, r.matcher.path) {
        (Some(p), None) if p.starts_with('/') => PathMatch::Prefix(p),
        (None, Some(p)) if p.starts_with('/') => PathMatch::Exact(p),
        (Some(_), None) => return Err(err(format!("{at}.match.prefix"), "must start with '/'")),
        (None, Some(_)) => return Err(err(format!("{at}.match.path"), "must start with '/'")),
        _ => {
            return Err(err(
                format!("{at}.match"),
                "set exactly one of prefix or path",
            ))
        }
    };
    let find = |path: String, name: &str| {
        providers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| err(path, format!("unknown provider {name:?}")))
    };
    let requires_any = match r.requires {
        None => Vec::new(),
        Some(RawRequires {
            provider_name: Some(name),
            requires_any: None,
        }) => {
            vec![find(format!("{at}.requires.provider_name"), &name)?]
        }
        Some(RawRequires {
            provider_name: None,
            requires_any: Some(names),
        }) => {
            if names.is_empty() {
                return Err(err(
                    format!("{at}.requires.requires_any"),
                    "must name at least one provider",
                ));
            }
            let mut ids = Vec::with_capacity(names.len());
            for (j, name) in names.iter().enumerate() {
                ids.push(find(format!("{at}.requires.requires_any[{j}]"), name)?);
            }
            ids
        }
        Some(_) => {
            return Err(err(
                format!("{at}.requires"),
                "set exactly one of provider_name or requires_any",
            ))
        }
    };
    Ok(Rule {
        matcher,
        requires_any,
    })
}

fn compile_verifier(v: RawVerifier) -> Result<VerifierConfig, ConfigError> {
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

fn compile_stream(raw: Option<RawStream>) -> Result<StreamConfig, ConfigError> {
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

/// Cluster names, paths and authorities go into HTTP calls: no spaces or control characters.
fn no_whitespace(path: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(err(path, "must not be empty"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(path, "must not contain spaces or control characters"));
    }
    Ok(())
}

fn timeout(path: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    let ms = value.unwrap_or(default);
    if ms == 0 || ms > MAX_TIMEOUT_MS {
        return Err(err(path, format!("must be between 1 and {MAX_TIMEOUT_MS}")));
    }
    Ok(ms)
}
