//! `providers.<name>`: keys, token requirements, where tokens are found, claim headers.

use super::raw::{RawHeaderSource, RawProvider, RawRemoteJwks};
use super::{err, no_whitespace, timeout, ConfigError};
use super::{ClaimToHeader, KeySource, Provider, RemoteJwks, TokenSource};
use super::{
    DEFAULT_JWKS_CACHE_SECONDS, DEFAULT_JWKS_TIMEOUT_MS, MAX_JWKS_CACHE_SECONDS,
    MAX_TOKEN_BYTES_LIMIT,
};
use crate::alg::Algorithm;
use crate::jwk::KeySet;
use crate::token::Requirements;

pub(super) fn compile_provider(name: String, p: RawProvider) -> Result<Provider, ConfigError> {
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
        require_jti: p.require_jti.unwrap_or(true),
        enforce: p.enforce.unwrap_or(true),
        name,
    })
}

pub(super) fn compile_sources(
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

pub(super) fn compile_remote(at: &str, r: RawRemoteJwks) -> Result<RemoteJwks, ConfigError> {
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
