//! Target `config_compile`: arbitrary plugin configurations through `Config::parse` (serde shape,
//! then the validating compile step).
//!
//! Oracles: an error names a reason; a compiled configuration is consistent (rules point at
//! existing providers, limits hold, every provider has a token source), and a few requests with
//! tokens that cannot verify run through it without a panic and are never allowed.

use super::keys::NOW;
use warden_core::auth::{self, Authenticator, Outcome};
use warden_core::cache::TokenCache;
use warden_core::config::{Config, MAX_TOKEN_BYTES_LIMIT};
use warden_core::forward;
use warden_core::keystore::KeyStore;

const PROBES: [&str; 5] = [
    "/",
    "/admin/x",
    "/healthz/../admin",
    "//api?access_token=a&access_token=b",
    "*",
];

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text) {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.reason.is_empty(), "a config error without a reason");
            assert!(e.to_string().contains(&e.reason));
            return;
        }
    };
    let mut names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "two providers with one name");
    for p in &config.providers {
        assert!(!p.name.is_empty());
        assert!(
            !p.sources.is_empty(),
            "provider {} has no token source",
            p.name
        );
        let req = &p.requirements;
        assert!((1..=MAX_TOKEN_BYTES_LIMIT).contains(&req.max_token_bytes));
        assert!(req.clock_skew_seconds >= 0);
        assert!(req.algorithms.as_ref().is_none_or(|a| !a.is_empty()));
        assert!(req.issuer.as_deref() != Some(""));
    }
    for rule in &config.rules {
        for idx in rule.requires.iter().flat_map(|r| r.named_providers()) {
            assert!(
                idx < config.providers.len(),
                "a rule names a missing provider"
            );
        }
    }

    let keys = KeyStore::new(&config);
    let mut cache = TokenCache::new(8);
    for path in PROBES {
        let headers = vec![
            (":path".to_string(), path.to_string()),
            ("authorization".to_string(), "Bearer a.b.c".to_string()),
            ("cookie".to_string(), "session=x.y.z".to_string()),
        ];
        let mut ctx = Authenticator {
            config: &config,
            keys: &keys,
            cache: &mut cache,
            now: NOW,
            may_fetch_keys: true,
        };
        let (outcome, _) = auth::authenticate(&mut ctx, &headers);
        assert!(
            !matches!(outcome, Outcome::Allowed(_)),
            "a token that cannot verify was allowed at {path}"
        );
        let _ = forward::forwarding(&config, None, &headers);
    }
}
