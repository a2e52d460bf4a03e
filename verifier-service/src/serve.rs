//! `warden-verifier serve`: read the configuration, bind, serve until SIGTERM/SIGINT.

use crate::admin_token::AdminToken;
use crate::app::{run, Listeners};
use crate::cli::{LogFormat, ServeArgs};
use crate::issuer::{load_signing_key, Issuer, TokenSettings};
use crate::state::{AppState, Settings};
use crate::store::{Store, StoreOptions};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("WARDEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub use crate::store::target::redacted_url;

/// The Redis client for `url`; `ca_file` adds a private CA for `rediss://` (builds with `tls`).
pub fn open_redis(url: &str, ca_file: Option<&std::path::Path>) -> Result<redis::Client, String> {
    let invalid = |e: redis::RedisError| {
        format!(
            "invalid --redis-url {}: {}",
            redacted_url(url),
            crate::store::target::redis_url_error(&e)
        )
    };
    let normalized = crate::store::target::normalized_single_url(url);
    let url = normalized.as_str();
    #[cfg(feature = "tls")]
    {
        // rustls needs a process-wide crypto provider; a second install is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(ca_file) = ca_file {
            let root_cert = std::fs::read(ca_file)
                .map_err(|e| format!("cannot read --redis-ca-file {}: {e}", ca_file.display()))?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            };
            return redis::Client::build_with_tls(url, certificates).map_err(invalid);
        }
    }
    #[cfg(not(feature = "tls"))]
    {
        if url.starts_with("rediss://") || ca_file.is_some() {
            return Err(format!(
                "{}: this build has no TLS support; rebuild with `cargo build -p warden-verifier --features tls`",
                redacted_url(url)
            ));
        }
    }
    redis::Client::open(url).map_err(invalid)
}

/// The store's target for any `--redis-url`: one server, `redis[s]+cluster://` seeds or
/// `redis[s]+sentinel://` sentinels.
pub fn open_target(
    url: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<crate::store::target::RedisTarget, String> {
    use crate::store::target::{open_multi_node, topology_of, RedisTarget, Topology};
    if topology_of(url) == Topology::Single {
        return open_redis(url, ca_file).map(RedisTarget::Single);
    }
    #[cfg(feature = "tls")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root_cert = match ca_file {
        Some(ca_file) => Some(
            std::fs::read(ca_file)
                .map_err(|e| format!("cannot read --redis-ca-file {}: {e}", ca_file.display()))?,
        ),
        None => None,
    };
    open_multi_node(url, root_cert)
        .map_err(|e| format!("invalid --redis-url {}: {e}", redacted_url(url)))
}

/// Whether the listeners serve TLS: `--tls-cert-file` and `--tls-key-file` come together, and
/// `--client-ca-file` only with them.
fn wants_tls(args: &ServeArgs) -> Result<bool, String> {
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
fn check_admin_exposure(args: &ServeArgs, tls: bool) -> Result<(), String> {
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

async fn bind(what: &str, addr: std::net::SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot watch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: draining requests in flight");
}

/// Without TLS there is nothing to reload; SIGHUP (the reload signal with TLS) must not stop the
/// service either. The handler is in place when this returns; spawn the returned future.
#[cfg(unix)]
fn ignore_hangup() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let hangup = signal(SignalKind::hangup());
    async move {
        match hangup {
            Ok(mut hangup) => {
                while hangup.recv().await.is_some() {
                    tracing::info!("SIGHUP: no TLS files to reload");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch SIGHUP"),
        }
    }
}

/// The token issuer when `--signing-key-file` is given; its flags are refused without one.
fn token_issuer(args: &ServeArgs) -> Result<Option<Issuer>, String> {
    if args.signing_key_files.is_empty() {
        if args.issuer.is_some() || !args.audiences.is_empty() || args.refresh_cookie.is_some() {
            return Err(
                "--issuer, --audience and --refresh-cookie need --signing-key-file (WARDEN_SIGNING_KEY_FILE)"
                    .into(),
            );
        }
        return Ok(None);
    }
    let keys = args
        .signing_key_files
        .iter()
        .map(|path| load_signing_key(path))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = TokenSettings {
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
    };
    let issuer = Issuer::new(keys, settings)?;
    if args.trusted_proxies.is_empty() && args.refresh_rate_per_minute > 0 {
        tracing::warn!(
            "/v1/token and /v1/token/revoke are served and no --trusted-proxy is set: behind a \
             proxy (Envoy) every client shares the proxy's refresh budget; pass the proxy's address \
             as --trusted-proxy and have it append the client to X-Forwarded-For \
             (Envoy: use_remote_address: true)"
        );
    }
    for key in &args.signing_key_files {
        tracing::info!(file = %key.display(), "signing key loaded");
    }
    if let Some(key) = issuer.signing_key() {
        tracing::info!(kid = key.kid().unwrap_or_default(), alg = %key.alg(), "signing access tokens");
    }
    Ok(Some(issuer))
}

pub fn main(args: ServeArgs) -> Result<(), String> {
    init_logging(args.log_format);
    let tls = wants_tls(&args)?;
    check_admin_exposure(&args, tls)?;
    #[cfg(not(feature = "tls"))]
    if tls {
        return Err(
            "--tls-cert-file: this build has no TLS support; rebuild with `cargo build -p warden-verifier --features tls`"
                .into(),
        );
    }
    #[cfg(feature = "tls")]
    let tls_state = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => Some(crate::tls::TlsState::load(crate::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.client_ca_file.clone(),
        })?),
        _ => None,
    };
    if !tls && !args.listen.ip().to_canonical().is_loopback() {
        tracing::warn!(
            check = %args.listen,
            "the check listener serves plain HTTP on a non-loopback address: claims cross the network \
             in clear unless a mesh encrypts them (see --tls-cert-file and --client-ca-file)"
        );
    }
    let token_file = args.admin_token_file.as_ref().ok_or(
        "no admin token: pass --admin-token-file PATH or set WARDEN_ADMIN_TOKEN_FILE; \
         the admin listener refuses to start without one",
    )?;
    let content = std::fs::read(token_file).map_err(|e| {
        format!(
            "cannot read the admin token file {}: {e}",
            token_file.display()
        )
    })?;
    let admin_token = AdminToken::from_file_content(&content)
        .map_err(|e| format!("admin token file {}: {e}", token_file.display()))?;
    let feed_token = match &args.feed_token_file {
        Some(path) => {
            let content = std::fs::read(path)
                .map_err(|e| format!("cannot read the feed token file {}: {e}", path.display()))?;
            Some(
                AdminToken::from_file_content(&content)
                    .map_err(|e| format!("feed token file {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let target = open_target(args.redis_url.as_str(), args.redis_ca_file.as_deref())?;
    let settings = Settings {
        feed_token,
        feed_max_live: args.feed_max_live,
        revocation_skew_seconds: args.revocation_skew_seconds,
        last_seen_interval_seconds: args.last_seen_interval_seconds,
        default_session_ttl_seconds: args.session_ttl_seconds,
        max_session_ttl_seconds: args.max_session_ttl_seconds,
        ext_authz_payload_header: crate::ext_authz::header_name(&args.ext_authz_payload_header)?,
        playground_dir: args.playground_dir.clone(),
    };
    if settings.default_session_ttl_seconds == 0
        || settings.default_session_ttl_seconds > settings.max_session_ttl_seconds
    {
        return Err("--session-ttl-seconds must be between 1 and --max-session-ttl-seconds".into());
    }
    let issuer = token_issuer(&args)?;
    let options = StoreOptions {
        timeout: Duration::from_millis(args.redis_timeout_ms.max(1)),
        min_replicas_ack: args.min_replicas_ack,
        replica_ack_timeout: Duration::from_millis(args.replica_ack_timeout_ms),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let store = Store::connect(target, options)
            .map_err(|e| format!("redis: {e}"))?
            .with_wait_aof(args.wait_aof);
        if args.wait_aof {
            match store.probe_wait_aof().await {
                Ok(true) => tracing::info!("WAITAOF available: admin writes are acknowledged once fsynced"),
                Ok(false) => tracing::warn!("--wait-aof: redis does not answer yet; WAITAOF support is not checked"),
                Err(refusal) => return Err(refusal),
            }
        }
        let state = AppState::with_issuer(store, admin_token, settings, issuer);
        let check = bind("check", args.listen).await?;
        let admin = bind("admin", args.admin_listen).await?;
        tracing::info!(
            check = %args.listen,
            admin = %args.admin_listen,
            tls,
            client_certificates = args.client_ca_file.is_some(),
            redis = %redacted_url(args.redis_url.as_str()),
            min_replicas_ack = args.min_replicas_ack,
            wait_aof = args.wait_aof,
            "warden-verifier listening"
        );
        match state.0.store.ping().await {
            Ok(()) => {
                tracing::info!("redis answers");
                if let Err(e) = state.0.store.load_scripts().await {
                    tracing::warn!(error = %e, "could not preload the scripts; they are sent on first use");
                }
            }
            Err(e) => tracing::warn!(error = %e, "redis does not answer yet; checks get 503 until it does"),
        }
        #[cfg(feature = "tls")]
        if let Some(tls_state) = tls_state {
            use crate::tls::Role;
            let poll = (args.tls_reload_interval_seconds > 0)
                .then(|| Duration::from_secs(args.tls_reload_interval_seconds));
            tokio::spawn(tls_state.clone().watch(poll));
            let listen = |tcp, role| {
                tls_state
                    .listener(tcp, role)
                    .map_err(|e| format!("cannot serve TLS: {e}"))
            };
            let listeners = Listeners {
                check: listen(check, Role::Check)?,
                admin: listen(admin, Role::Admin)?,
            };
            run(listeners, state, shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
            tracing::info!("stopped");
            return Ok(());
        }
        #[cfg(unix)]
        tokio::spawn(ignore_hangup());
        run(Listeners { check, admin }, state, shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn serve_args(extra: &[&str]) -> ServeArgs {
        let argv = ["warden-verifier", "serve"].iter().chain(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
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

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redacted_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redacted_url("redis://alice:s3cret@host:6379/0"),
            "redis://alice:***@host:6379/0"
        );
        assert_eq!(redacted_url("rediss://:pw@host"), "rediss://:***@host");
        assert_eq!(
            redacted_url("redis+cluster://u:pw@h1:1,h2:2"),
            "redis+cluster://u:***@h1:1,h2:2"
        );
        assert_eq!(
            redacted_url("redis+sentinel://:pw@s1,s2/m?sentinel_username=s&sentinel_password=spw"),
            "redis+sentinel://:***@s1,s2/m?sentinel_username=s&sentinel_password=***"
        );
        assert_eq!(
            redacted_url("redis+sentinel://s1/m?sentinel_password=spw&sentinel_username=s"),
            "redis+sentinel://s1/m?sentinel_password=***"
        );
    }
}
