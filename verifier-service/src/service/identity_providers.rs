//! The identity providers whose tokens Warden checks but did not issue (`--identity-providers`).
//!
//! A token whose `iss` is one of these issuers carries that provider's session id: its `sid` is
//! allowed unless that session was revoked (by `iss` and `sid`), never looked up among Warden's
//! own sessions. The provider's logout and security events reach the verifier through its
//! back-channel logout and SET push endpoints, verified with its keys (`jwks`).

use std::collections::HashMap;
use std::sync::Arc;

/// Where a provider's signing keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// The JWK Set itself (`jwks_uri`).
    Uri(String),
    /// An OpenID Provider discovery document whose `jwks_uri` names the JWK Set.
    Discovery(String),
}

/// One configured identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// The path segment of its endpoints (`/v1/backchannel-logout/{name}`).
    pub name: String,
    /// Its `iss`, compared exactly.
    pub issuer: String,
    pub jwks: JwksSource,
    /// The audiences its logout and event tokens must name (one of them).
    pub client_ids: Vec<String>,
    /// The longest lifetime of an access token it issues: a revoked session of it is kept this
    /// long (plus the revocation skew) when the revocation does not say until when.
    pub max_token_lifetime_seconds: u64,
}

/// The configured providers, looked up by name (endpoints) and by issuer (checks).
#[derive(Debug, Clone, Default)]
pub struct IdentityProviders {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    providers: Vec<IdentityProvider>,
    by_name: HashMap<String, usize>,
    by_issuer: HashMap<String, usize>,
}

/// Why a list of providers cannot be used together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    DuplicateName(String),
    DuplicateIssuer(String),
}

impl IdentityProviders {
    /// The registry of `providers`; names and issuers must be unique.
    pub fn new(providers: Vec<IdentityProvider>) -> Result<IdentityProviders, RegistryError> {
        let mut registry = Registry::default();
        for (index, provider) in providers.iter().enumerate() {
            if registry
                .by_name
                .insert(provider.name.clone(), index)
                .is_some()
            {
                return Err(RegistryError::DuplicateName(provider.name.clone()));
            }
            if registry
                .by_issuer
                .insert(provider.issuer.clone(), index)
                .is_some()
            {
                return Err(RegistryError::DuplicateIssuer(provider.issuer.clone()));
            }
        }
        registry.providers = providers;
        Ok(IdentityProviders {
            inner: Arc::new(registry),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.inner.providers.is_empty()
    }

    pub fn all(&self) -> &[IdentityProvider] {
        &self.inner.providers
    }

    pub fn by_name(&self, name: &str) -> Option<&IdentityProvider> {
        self.inner
            .by_name
            .get(name)
            .and_then(|&i| self.inner.providers.get(i))
    }

    pub fn by_issuer(&self, issuer: &str) -> Option<&IdentityProvider> {
        self.inner
            .by_issuer
            .get(issuer)
            .and_then(|&i| self.inner.providers.get(i))
    }

    /// Whether a token with this `iss` carries an identity provider's session (not Warden's).
    pub fn owns_sessions_of(&self, iss: Option<&str>) -> bool {
        iss.is_some_and(|iss| self.inner.by_issuer.contains_key(iss))
    }

    /// The issuers, sorted (the feed sends them to stream-mode filters).
    pub fn issuers(&self) -> Vec<String> {
        let mut issuers: Vec<String> = self
            .inner
            .providers
            .iter()
            .map(|p| p.issuer.clone())
            .collect();
        issuers.sort();
        issuers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, issuer: &str) -> IdentityProvider {
        IdentityProvider {
            name: name.into(),
            issuer: issuer.into(),
            jwks: JwksSource::Uri(format!("{issuer}/jwks")),
            client_ids: vec!["api".into()],
            max_token_lifetime_seconds: 3600,
        }
    }

    #[test]
    fn lookups_by_name_and_issuer() {
        let idps = IdentityProviders::new(vec![
            provider("corp", "https://idp.example"),
            provider("partner", "https://partner.example"),
        ])
        .unwrap();
        assert_eq!(idps.by_name("corp").unwrap().issuer, "https://idp.example");
        assert_eq!(
            idps.by_issuer("https://partner.example").unwrap().name,
            "partner"
        );
        assert!(idps.by_name("nope").is_none());
        assert!(idps.owns_sessions_of(Some("https://idp.example")));
        assert!(!idps.owns_sessions_of(Some("https://idp.example/")));
        assert!(!idps.owns_sessions_of(None));
        assert_eq!(
            idps.issuers(),
            vec!["https://idp.example", "https://partner.example"]
        );
    }

    #[test]
    fn names_and_issuers_are_unique() {
        assert_eq!(
            IdentityProviders::new(vec![provider("a", "x"), provider("a", "y")]).unwrap_err(),
            RegistryError::DuplicateName("a".into())
        );
        assert_eq!(
            IdentityProviders::new(vec![provider("a", "x"), provider("b", "x")]).unwrap_err(),
            RegistryError::DuplicateIssuer("x".into())
        );
    }
}
