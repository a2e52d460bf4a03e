//! The configuration: the command line ([`cli`]), every default once (`DEFAULT_*`, used by the
//! flags and by the settings' `Default`s alike), and the checks that turn flags into validated
//! settings. Nothing here reads files or the environment (that is `cmd`).

pub mod cli;
pub mod defaults;
pub mod identity_providers;

pub use defaults::*;

use crate::issuer::TokenSettings;
use crate::net::Cidr;
use crate::service::admin_token::AdminToken;
use crate::service::Settings;
use axum::http::HeaderName;
use cli::ServeArgs;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            revocation_skew_seconds: DEFAULT_REVOCATION_SKEW_SECONDS,
            last_seen_interval_seconds: DEFAULT_LAST_SEEN_INTERVAL_SECONDS,
            default_session_ttl_seconds: DEFAULT_SESSION_TTL_SECONDS,
            max_session_ttl_seconds: DEFAULT_MAX_SESSION_TTL_SECONDS,
            ext_authz_payload_header: DEFAULT_EXT_AUTHZ_PAYLOAD_HEADER.to_string(),
            playground_dir: None,
            feed_token: None,
            feed_max_live: DEFAULT_FEED_MAX_LIVE,
            identity_providers: Default::default(),
        }
    }
}

impl TokenSettings {
    /// Settings with the documented defaults for `issuer` and `audiences`.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> TokenSettings {
        TokenSettings {
            issuer: issuer.into(),
            audiences,
            access_ttl_seconds: DEFAULT_ACCESS_TTL_SECONDS,
            refresh_idle_ttl_seconds: DEFAULT_REFRESH_IDLE_TTL_SECONDS,
            refresh_retry_grace_seconds: DEFAULT_REFRESH_RETRY_GRACE_SECONDS,
            refresh_retry_max_uses: DEFAULT_REFRESH_RETRY_MAX_USES,
            client_id: None,
            refresh_cookie: None,
            refresh_rate_per_minute: DEFAULT_REFRESH_RATE_PER_MINUTE,
            trusted_proxies: Vec::<Cidr>::new(),
        }
    }
}

/// `--ext-authz-payload-header`: a valid header name, compared in lower case.
pub fn header_name(name: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    match HeaderName::try_from(lower.as_str()) {
        Ok(_) => Ok(lower),
        Err(_) => Err(format!(
            "--ext-authz-payload-header: {name:?} is not a header name"
        )),
    }
}

/// The check and admin settings of `serve`'s flags (`feed_token`: `--feed-token-file`'s token,
/// `identity_providers`: `--identity-providers`' document, read by the caller).
pub fn settings(
    args: &ServeArgs,
    feed_token: Option<AdminToken>,
    identity_providers: Option<&str>,
) -> Result<Settings, String> {
    let identity_providers = match identity_providers {
        Some(text) => {
            identity_providers::parse(text).map_err(|e| format!("--identity-providers: {e}"))?
        }
        None => Default::default(),
    };
    let settings = Settings {
        identity_providers,
        feed_token,
        feed_max_live: args.feed_max_live,
        revocation_skew_seconds: args.revocation_skew_seconds,
        last_seen_interval_seconds: args.last_seen_interval_seconds,
        default_session_ttl_seconds: args.session_ttl_seconds,
        max_session_ttl_seconds: args.max_session_ttl_seconds,
        ext_authz_payload_header: header_name(&args.ext_authz_payload_header)?,
        playground_dir: args.playground_dir.clone(),
    };
    if settings.default_session_ttl_seconds == 0
        || settings.default_session_ttl_seconds > settings.max_session_ttl_seconds
    {
        return Err("--session-ttl-seconds must be between 1 and --max-session-ttl-seconds".into());
    }
    Ok(settings)
}

/// Warden's own `--issuer` must not also be an identity provider's: tokens of a provider's issuer
/// carry that provider's sessions, so Warden's own sessions would go unchecked.
pub fn check_own_issuer_is_no_provider(
    settings: &Settings,
    own_issuer: Option<&str>,
) -> Result<(), String> {
    match own_issuer {
        Some(issuer) if settings.identity_providers.by_issuer(issuer).is_some() => Err(format!(
            "--identity-providers: issuer {issuer:?} is this verifier's own --issuer; its tokens carry \
             Warden sessions, so it cannot also be an identity provider"
        )),
        _ => Ok(()),
    }
}

/// The token issuer's settings when `--signing-key-file` is given; its flags are refused
/// without one.
pub fn token_settings(args: &ServeArgs) -> Result<Option<TokenSettings>, String> {
    if args.signing_key_files.is_empty() {
        if args.issuer.is_some() || !args.audiences.is_empty() || args.refresh_cookie.is_some() {
            return Err(
                "--issuer, --audience and --refresh-cookie need --signing-key-file (WARDEN_SIGNING_KEY_FILE)"
                    .into(),
            );
        }
        return Ok(None);
    }
    Ok(Some(TokenSettings {
        issuer: args.issuer.clone().unwrap_or_default(),
        audiences: args.audiences.clone(),
        access_ttl_seconds: args.access_ttl_seconds,
        refresh_idle_ttl_seconds: args.refresh_idle_ttl_seconds,
        refresh_retry_grace_seconds: args.refresh_retry_grace_seconds,
        refresh_retry_max_uses: args.refresh_retry_max_uses,
        client_id: args.client_id.clone(),
        refresh_cookie: args.refresh_cookie.clone(),
        refresh_rate_per_minute: args.refresh_rate_per_minute,
        trusted_proxies: args.trusted_proxies.clone(),
    }))
}

/// Whether the listeners serve TLS: `--tls-cert-file` and `--tls-key-file` come together, and
/// `--client-ca-file` only with them.
pub fn wants_tls(args: &ServeArgs) -> Result<bool, String> {
    match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(_), Some(_)) => Ok(true),
        (Some(_), None) => Err(
            "--tls-cert-file needs --tls-key-file (WARDEN_TLS_KEY_FILE): pass both for TLS, or neither for plain HTTP"
                .into(),
        ),
        (None, Some(_)) => Err(
            "--tls-key-file needs --tls-cert-file (WARDEN_TLS_CERT_FILE): pass both for TLS, or neither for plain HTTP"
                .into(),
        ),
        (None, None) if args.client_ca_file.is_some() => Err(
            "--client-ca-file needs TLS: pass --tls-cert-file and --tls-key-file as well".into(),
        ),
        (None, None) => Ok(false),
    }
}

/// The admin token must not cross a network in clear: a plaintext admin listener is only accepted
/// on a loopback address, or when the operator says something else encrypts the traffic.
pub fn check_admin_exposure(args: &ServeArgs, tls: bool) -> Result<(), String> {
    let addr = args.admin_listen;
    if tls || args.allow_plaintext_admin || addr.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to start: the admin listener {addr} is not a loopback address and has no TLS, so the \
         admin bearer token would cross the network in clear. Pass --tls-cert-file and --tls-key-file \
         to serve it over TLS, or --allow-plaintext-admin (WARDEN_ALLOW_PLAINTEXT_ADMIN=true) if \
         something else encrypts that traffic (e.g. a service mesh with mutual TLS)"
    ))
}

#[cfg(test)]
mod tests {
    use super::cli::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let argv = ["warden-verifier", "serve"].iter().chain(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_own_issuer_cannot_be_an_identity_providers() {
        let providers = r#"{"providers": [{"name": "corp", "issuer": "https://idp.example",
            "jwks_uri": "https://idp.example/k", "client_ids": ["api"]}]}"#;
        let args = serve_args(&[]);
        let with_providers = settings(&args, None, Some(providers)).unwrap();
        assert!(
            check_own_issuer_is_no_provider(&with_providers, Some("https://idp.example"))
                .unwrap_err()
                .contains("--identity-providers")
        );
        assert!(
            check_own_issuer_is_no_provider(&with_providers, Some("https://warden.example"))
                .is_ok()
        );
        assert!(check_own_issuer_is_no_provider(&with_providers, None).is_ok());
    }

    #[test]
    fn the_flags_defaults_are_the_settings_defaults() {
        let args = serve_args(&[]);
        let from_flags = settings(&args, None, None).unwrap();
        let default = Settings::default();
        assert_eq!(
            from_flags.revocation_skew_seconds,
            default.revocation_skew_seconds
        );
        assert_eq!(
            from_flags.last_seen_interval_seconds,
            default.last_seen_interval_seconds
        );
        assert_eq!(
            from_flags.default_session_ttl_seconds,
            default.default_session_ttl_seconds
        );
        assert_eq!(
            from_flags.max_session_ttl_seconds,
            default.max_session_ttl_seconds
        );
        assert_eq!(
            from_flags.ext_authz_payload_header,
            default.ext_authz_payload_header
        );
        assert_eq!(from_flags.feed_max_live, default.feed_max_live);
        let with_key = serve_args(&["--signing-key-file", "k.jwk"]);
        let tokens = token_settings(&with_key).unwrap().unwrap();
        let default = TokenSettings::new("", Vec::new());
        assert_eq!(tokens.access_ttl_seconds, default.access_ttl_seconds);
        assert_eq!(
            tokens.refresh_idle_ttl_seconds,
            default.refresh_idle_ttl_seconds
        );
        assert_eq!(
            tokens.refresh_retry_grace_seconds,
            default.refresh_retry_grace_seconds
        );
        assert_eq!(
            tokens.refresh_retry_max_uses,
            default.refresh_retry_max_uses
        );
        assert_eq!(
            tokens.refresh_rate_per_minute,
            default.refresh_rate_per_minute
        );
    }

    #[test]
    fn the_header_name_is_checked() {
        assert_eq!(header_name("X-Claims").unwrap(), "x-claims");
        assert!(header_name("bad header").is_err());
        assert!(header_name("").is_err());
    }

    #[test]
    fn tls_files_come_in_pairs() {
        assert_eq!(wants_tls(&serve_args(&[])), Ok(false));
        let both = serve_args(&["--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"]);
        assert_eq!(wants_tls(&both), Ok(true));
        let cert_only = wants_tls(&serve_args(&["--tls-cert-file", "c.pem"])).unwrap_err();
        assert!(cert_only.contains("--tls-key-file"), "{cert_only}");
        let key_only = wants_tls(&serve_args(&["--tls-key-file", "k.pem"])).unwrap_err();
        assert!(key_only.contains("--tls-cert-file"), "{key_only}");
        let ca_only = wants_tls(&serve_args(&["--client-ca-file", "ca.pem"])).unwrap_err();
        assert!(ca_only.contains("--client-ca-file needs TLS"), "{ca_only}");
    }

    #[test]
    fn plaintext_admin_only_on_loopback_unless_allowed() {
        for loopback in [
            "127.0.0.1:8082",
            "127.8.9.1:8082",
            "[::1]:8082",
            "[::ffff:127.0.0.1]:8082",
        ] {
            let args = serve_args(&["--admin-listen", loopback]);
            assert_eq!(check_admin_exposure(&args, false), Ok(()), "{loopback}");
        }
        for exposed in ["0.0.0.0:8082", "10.1.2.3:8082", "[::]:8082"] {
            let args = serve_args(&["--admin-listen", exposed]);
            let refusal = check_admin_exposure(&args, false).unwrap_err();
            assert!(refusal.contains("--allow-plaintext-admin"), "{refusal}");
            assert!(refusal.contains(exposed), "{refusal}");
            assert_eq!(
                check_admin_exposure(&args, true),
                Ok(()),
                "{exposed} with TLS"
            );
            let allowed = serve_args(&["--admin-listen", exposed, "--allow-plaintext-admin"]);
            assert_eq!(
                check_admin_exposure(&allowed, false),
                Ok(()),
                "{exposed} allowed"
            );
        }
    }

    #[test]
    fn the_arguments_debug_hides_the_redis_password() {
        let args = serve_args(&["--redis-url", "redis+cluster://u:Kq7Zx?Wv9Jt@h:1"]);
        let shown = format!("{args:?}");
        assert!(shown.contains("redis+cluster://u:***@h:1"), "{shown}");
        assert!(!shown.contains("Kq7Zx"), "{shown}");
        assert!(!shown.contains("Wv9Jt"), "{shown}");
    }
}
