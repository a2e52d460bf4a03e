//! `warden-verifier serve`: read the configuration, bind, serve until SIGTERM/SIGINT.

use crate::admin_token::AdminToken;
use crate::app::{run, Listeners};
use crate::cli::{LogFormat, ServeArgs};
use crate::state::{AppState, Settings};
use crate::store::{Store, StoreOptions};
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

/// The Redis URL without its password, for logs.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = url.get(scheme_end + 3..at).unwrap_or_default();
            let user = credentials.split(':').next().unwrap_or_default();
            format!(
                "{}{}:***{}",
                url.get(..scheme_end + 3).unwrap_or_default(),
                user,
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}

/// The Redis client for `url`; `ca_file` adds a private CA for `rediss://` (builds with `tls`).
pub fn open_redis(url: &str, ca_file: Option<&std::path::Path>) -> Result<redis::Client, String> {
    let invalid = |e: redis::RedisError| format!("invalid --redis-url {}: {e}", redacted_url(url));
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

pub fn main(args: ServeArgs) -> Result<(), String> {
    init_logging(args.log_format);
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
    let client = open_redis(&args.redis_url, args.redis_ca_file.as_deref())?;
    let settings = Settings {
        revocation_skew_seconds: args.revocation_skew_seconds,
        last_seen_interval_seconds: args.last_seen_interval_seconds,
        default_session_ttl_seconds: args.session_ttl_seconds,
        max_session_ttl_seconds: args.max_session_ttl_seconds,
    };
    if settings.default_session_ttl_seconds == 0
        || settings.default_session_ttl_seconds > settings.max_session_ttl_seconds
    {
        return Err("--session-ttl-seconds must be between 1 and --max-session-ttl-seconds".into());
    }
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
        let store = Store::new(client, options).map_err(|e| format!("redis: {e}"))?;
        let state = AppState::new(store, admin_token, settings);
        let listeners = Listeners {
            check: bind("check", args.listen).await?,
            admin: bind("admin", args.admin_listen).await?,
        };
        tracing::info!(
            check = %args.listen,
            admin = %args.admin_listen,
            redis = %redacted_url(&args.redis_url),
            min_replicas_ack = args.min_replicas_ack,
            "warden-verifier listening"
        );
        match state.0.store.ping().await {
            Ok(()) => tracing::info!("redis answers"),
            Err(e) => tracing::warn!(error = %e, "redis does not answer yet; checks get 503 until it does"),
        }
        run(listeners, state, shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
