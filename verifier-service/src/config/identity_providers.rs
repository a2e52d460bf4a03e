//! `--identity-providers FILE`: the JSON document naming the identity providers whose tokens
//! carry their own sessions. Parsed in two steps: serde reads the shape (unknown fields refused),
//! then [`compile`] checks each value; every error names the field (`providers[1].issuer`).

use super::DEFAULT_IDP_MAX_TOKEN_LIFETIME_SECONDS;
use crate::service::identity_providers::{
    IdentityProvider, IdentityProviders, JwksSource, RegistryError,
};
use serde::Deserialize;
use warden_core::revocation_view::{MAX_IDP_ISSUERS, MAX_ISS_BYTES};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    providers: Vec<ProviderEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    name: Option<String>,
    issuer: Option<String>,
    jwks_uri: Option<String>,
    discovery_url: Option<String>,
    client_ids: Option<Vec<String>>,
    max_token_lifetime_seconds: Option<u64>,
}

/// Longest provider name (it is a path segment).
const MAX_NAME_CHARS: usize = 64;
/// Longest token lifetime accepted: a year.
const MAX_LIFETIME_SECONDS: u64 = 366 * 86_400;

/// Parses and checks the document's text; the error names the file's field.
pub fn parse(text: &str) -> Result<IdentityProviders, String> {
    let document: Document = serde_json::from_str(text).map_err(|e| describe_serde_error(&e))?;
    compile(document)
}

fn describe_serde_error(e: &serde_json::Error) -> String {
    // serde's message names the unknown or mistyped field (`unknown field `jwks`, expected ...`).
    format!("{e}")
}

fn compile(document: Document) -> Result<IdentityProviders, String> {
    if document.providers.len() > MAX_IDP_ISSUERS {
        return Err(format!(
            "providers: at most {MAX_IDP_ISSUERS} identity providers (the feed sends every issuer to each filter)"
        ));
    }
    let mut providers = Vec::with_capacity(document.providers.len());
    for (index, entry) in document.providers.into_iter().enumerate() {
        providers.push(compile_entry(index, entry)?);
    }
    IdentityProviders::new(providers).map_err(|e| match e {
        RegistryError::DuplicateName(name) => {
            format!("providers[].name: {name:?} is used by two providers")
        }
        RegistryError::DuplicateIssuer(issuer) => {
            format!("providers[].issuer: {issuer:?} is used by two providers")
        }
    })
}

fn compile_entry(index: usize, entry: ProviderEntry) -> Result<IdentityProvider, String> {
    let field = |name: &str| format!("providers[{index}].{name}");
    let name = entry
        .name
        .ok_or_else(|| format!("{}: missing", field("name")))?;
    if name.is_empty()
        || name.len() > MAX_NAME_CHARS
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(format!(
            "{}: {name:?} must be 1 to {MAX_NAME_CHARS} characters of A-Z a-z 0-9 - _ . (it is a URL path segment)",
            field("name")
        ));
    }
    let issuer = entry
        .issuer
        .ok_or_else(|| format!("{}: missing", field("issuer")))?;
    if issuer.is_empty() || issuer.len() > MAX_ISS_BYTES {
        // Stream-mode views refuse a longer issuer list as malformed (every request would call
        // out), so it is refused here, at start.
        return Err(format!(
            "{}: must be 1 to {MAX_ISS_BYTES} bytes",
            field("issuer")
        ));
    }
    let jwks = match (entry.jwks_uri, entry.discovery_url) {
        (Some(uri), None) => JwksSource::Uri(fetch_url(&field("jwks_uri"), uri)?),
        (None, Some(url)) => JwksSource::Discovery(fetch_url(&field("discovery_url"), url)?),
        (Some(_), Some(_)) => {
            return Err(format!(
                "{}: give either jwks_uri or discovery_url, not both",
                field("jwks_uri")
            ))
        }
        (None, None) => {
            return Err(format!(
                "{}: missing (or give discovery_url)",
                field("jwks_uri")
            ))
        }
    };
    let client_ids = entry
        .client_ids
        .ok_or_else(|| format!("{}: missing", field("client_ids")))?;
    if client_ids.is_empty() || client_ids.iter().any(String::is_empty) {
        return Err(format!(
            "{}: must list at least one non-empty client id",
            field("client_ids")
        ));
    }
    let max_token_lifetime_seconds = entry
        .max_token_lifetime_seconds
        .unwrap_or(DEFAULT_IDP_MAX_TOKEN_LIFETIME_SECONDS);
    if !(1..=MAX_LIFETIME_SECONDS).contains(&max_token_lifetime_seconds) {
        return Err(format!(
            "{}: must be between 1 and {MAX_LIFETIME_SECONDS}",
            field("max_token_lifetime_seconds")
        ));
    }
    Ok(IdentityProvider {
        name,
        issuer,
        jwks,
        client_ids,
        max_token_lifetime_seconds,
    })
}

/// A URL keys are fetched from: `https://`, or `http://` to a loopback host only (the rule is
/// the outbound client's, which applies it to a discovery document's `jwks_uri` too).
fn fetch_url(field: &str, url: String) -> Result<String, String> {
    if crate::outbound::is_fetchable_url(&url) {
        return Ok(url);
    }
    Err(format!(
        "{field}: {url:?} must be an https:// URL (http:// only to 127.0.0.1, localhost or [::1])"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err()
    }

    #[test]
    fn a_valid_document() {
        let idps = parse(
            r#"{"providers": [
                {"name": "corp", "issuer": "https://idp.example",
                 "jwks_uri": "https://idp.example/jwks", "client_ids": ["api"]},
                {"name": "dev", "issuer": "http://127.0.0.1:9000",
                 "discovery_url": "http://127.0.0.1:9000/.well-known/openid-configuration",
                 "client_ids": ["a", "b"], "max_token_lifetime_seconds": 600}
            ]}"#,
        )
        .unwrap();
        let corp = idps.by_name("corp").unwrap();
        assert_eq!(
            corp.jwks,
            JwksSource::Uri("https://idp.example/jwks".into())
        );
        assert_eq!(
            corp.max_token_lifetime_seconds,
            DEFAULT_IDP_MAX_TOKEN_LIFETIME_SECONDS
        );
        let dev = idps.by_issuer("http://127.0.0.1:9000").unwrap();
        assert!(matches!(dev.jwks, JwksSource::Discovery(_)));
        assert_eq!(dev.max_token_lifetime_seconds, 600);
        assert!(parse(r#"{"providers": []}"#).unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let ok = r#""issuer": "https://i", "jwks_uri": "https://i/k", "client_ids": ["api"]"#;
        for (text, field) in [
            ("{}".to_string(), "providers"),
            (format!(r#"{{"providers": [{{{ok}}}]}}"#), "providers[0].name"),
            (
                format!(r#"{{"providers": [{{"name": "a/b", {ok}}}]}}"#),
                "providers[0].name",
            ),
            (
                r#"{"providers": [{"name": "a", "jwks_uri": "https://i/k", "client_ids": ["x"]}]}"#
                    .into(),
                "providers[0].issuer",
            ),
            (
                r#"{"providers": [{"name": "a", "issuer": "i", "client_ids": ["x"]}]}"#.into(),
                "providers[0].jwks_uri",
            ),
            (
                r#"{"providers": [{"name": "a", "issuer": "i", "jwks_uri": "http://idp.example/k", "client_ids": ["x"]}]}"#
                    .into(),
                "providers[0].jwks_uri",
            ),
            (
                r#"{"providers": [{"name": "a", "issuer": "i", "discovery_url": "ftp://x", "client_ids": ["x"]}]}"#
                    .into(),
                "providers[0].discovery_url",
            ),
            (
                r#"{"providers": [{"name": "a", "issuer": "i", "jwks_uri": "https://i/k", "client_ids": []}]}"#
                    .into(),
                "providers[0].client_ids",
            ),
            (
                format!(r#"{{"providers": [{{"name": "a", {ok}, "max_token_lifetime_seconds": 0}}]}}"#),
                "providers[0].max_token_lifetime_seconds",
            ),
            (
                format!(
                    r#"{{"providers": [{{"name": "a", "issuer": "{}", "jwks_uri": "https://i/k", "client_ids": ["x"]}}]}}"#,
                    "i".repeat(MAX_ISS_BYTES + 1)
                ),
                "providers[0].issuer",
            ),
            (
                format!(
                    r#"{{"providers": [{}]}}"#,
                    (0..=MAX_IDP_ISSUERS)
                        .map(|i| format!(r#"{{"name": "p{i}", "issuer": "https://i/{i}", "jwks_uri": "https://i/k", "client_ids": ["x"]}}"#))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                "providers: at most",
            ),
            (
                format!(r#"{{"providers": [{{"name": "a", {ok}, "jwks": {{}}}}]}}"#),
                "jwks",
            ),
            (
                format!(r#"{{"providers": [{{"name": "a", {ok}}}, {{"name": "a", {ok}}}]}}"#),
                "providers[].name",
            ),
        ] {
            let error = error_of(&text);
            assert!(error.contains(field), "{text}: {error}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(fetch_url("f", "http://localhost:8080/jwks".into()).is_ok());
        assert!(fetch_url("f", "http://[::1]:8080/jwks".into()).is_ok());
        assert!(fetch_url("f", "http://127.0.0.1/jwks".into()).is_ok());
        assert!(fetch_url("f", "http://127.0.0.1.evil.example/jwks".into()).is_err());
        assert!(fetch_url("f", "http://localhost@evil.example/jwks".into()).is_err());
        assert!(fetch_url("f", "https://".into()).is_err());
    }
}
