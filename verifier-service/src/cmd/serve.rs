//! `warden-verifier serve`: read the configuration (flags, environment, files), bind, serve
//! until SIGTERM/SIGINT.

use crate::config::{self, cli::ServeArgs};
use crate::http::state::AppState;
use crate::issuer::{load_signing_key, Issuer};
use crate::outbound::OtlpClient;
use crate::server::{run, signals, Listeners};
use crate::service::admin_token::AdminToken;
use crate::store::open::open_target;
use crate::store::target::redacted_url;
use crate::store::{Store, StoreOptions};
use crate::telemetry::traces;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

async fn bind(what: &str, addr: std::net::SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))
}

/// The token issuer when `--signing-key-file` is given (its keys read from their files).
fn token_issuer(args: &ServeArgs) -> Result<Option<Issuer>, String> {
    let Some(settings) = config::token_settings(args)? else {
        return Ok(None);
    };
    let keys = args
        .signing_key_files
        .iter()
        .map(|path| load_signing_key(path))
        .collect::<Result<Vec<_>, _>>()?;
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

/// A bearer token file (`what` names it in errors).
fn read_token_file(what: &str, path: &std::path::Path) -> Result<AdminToken, String> {
    let content = std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?;
    AdminToken::from_file_content(&content)
        .map_err(|e| format!("{what} file {}: {e}", path.display()))
}

/// The tracer provider of `--otlp-endpoint` (`None` without it), exporting through `runtime`.
fn tracer_provider(
    args: &ServeArgs,
    runtime: &tokio::runtime::Runtime,
) -> Result<Option<SdkTracerProvider>, String> {
    let Some(endpoint) = &args.otlp_endpoint else {
        return Ok(None);
    };
    let url = traces::traces_url(endpoint)?;
    let client = OtlpClient::new(runtime.handle().clone(), traces::EXPORT_TIMEOUT);
    traces::tracer_provider(&url, &args.otlp_service_name, Arc::new(client)).map(Some)
}

pub fn main(args: ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let tracer_provider = tracer_provider(&args, &runtime)?;
    crate::telemetry::logging::init(args.log_format, tracer_provider.as_ref());
    if let Some(endpoint) = &args.otlp_endpoint {
        tracing::info!(endpoint = %endpoint, service = %args.otlp_service_name, "exporting traces (OTLP/HTTP)");
    }
    let served = serve(args, &runtime);
    if let Some(provider) = tracer_provider {
        // The last spans go out before the exit (bounded by the export timeout); the runtime
        // the export runs on is still up.
        if let Err(error) = provider.shutdown() {
            tracing::warn!(%error, "the last spans were not exported");
        }
    }
    served
}

fn serve(args: ServeArgs, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    let tls = config::wants_tls(&args)?;
    config::check_admin_exposure(&args, tls)?;
    #[cfg(not(feature = "tls"))]
    if tls {
        return Err(
            "--tls-cert-file: this build has no TLS support; rebuild with `cargo build -p warden-verifier --features tls`"
                .into(),
        );
    }
    #[cfg(feature = "tls")]
    let tls_state = match (&args.tls_cert_file, &args.tls_key_file) {
        (Some(cert), Some(key)) => Some(crate::server::tls::TlsState::load(
            crate::server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.client_ca_file.clone(),
            },
        )?),
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
    let admin_token = read_token_file("admin token", token_file)?;
    let feed_token = match &args.feed_token_file {
        Some(path) => Some(read_token_file("feed token", path)?),
        None => None,
    };
    let target = open_target(args.redis_url.as_str(), args.redis_ca_file.as_deref())?;
    let identity_providers =
        match &args.identity_providers {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                format!("--identity-providers: cannot read {}: {e}", path.display())
            })?),
            None => None,
        };
    let settings = config::settings(&args, feed_token, identity_providers.as_deref())?;
    let issuer = token_issuer(&args)?;
    config::check_own_issuer_is_no_provider(
        &settings,
        issuer
            .as_ref()
            .map(|issuer| issuer.settings.issuer.as_str()),
    )?;
    let options = StoreOptions {
        timeout: Duration::from_millis(args.redis_timeout_ms.max(1)),
        min_replicas_ack: args.min_replicas_ack,
        replica_ack_timeout: Duration::from_millis(args.replica_ack_timeout_ms),
    };
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
            use crate::server::tls::Role;
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
            run(listeners, state, signals::shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
            tracing::info!("stopped");
            return Ok(());
        }
        #[cfg(unix)]
        tokio::spawn(signals::ignore_hangup());
        run(Listeners { check, admin }, state, signals::shutdown_signal()).await.map_err(|e| format!("server error: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::store::target::redacted_url;

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
