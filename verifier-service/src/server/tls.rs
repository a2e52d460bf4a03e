//! TLS on the verifier's own listeners: the certificate and key from PEM files, optional
//! client-certificate checking on the check listener, and reload on SIGHUP or when a file changes.
//!
//! Both listeners serve the same certificate. `--client-ca-file` applies to the check listener only:
//! the admin listener already requires its bearer token, and it is where probes and operators'
//! tools connect, which rarely hold a client certificate.
//!
//! A reload builds complete new server configurations from the files and swaps them in; connections
//! accepted afterwards use them, established ones keep theirs. A reload that fails (unreadable file,
//! no certificate, key not matching the certificate, …) changes nothing and is logged as an error.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for the HTTP server to pick them up.
const ACCEPT_QUEUE: usize = 128;

/// The PEM files the listeners' TLS comes from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificate(s) that client certificates on the check listener must chain to.
    pub client_ca: Option<PathBuf>,
}

/// Which listener a configuration is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Check,
    Admin,
}

struct Configs {
    check: Arc<ServerConfig>,
    admin: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate, for logs.
    fingerprint: String,
}

/// What identifies one version of a file: a replaced or rewritten file changes at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

/// The listeners' current TLS configurations, replaced as a whole by [`TlsState::reload`].
pub struct TlsState {
    files: TlsFiles,
    current: RwLock<Arc<Configs>>,
    stamps: Mutex<Vec<Option<Stamp>>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

fn certificates(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what} {}: bad PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {}: no certificate (expected a PEM \"CERTIFICATE\" block)",
            path.display()
        ));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let pem = read("--tls-key-file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "--tls-key-file {}: no usable private key (PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"): {e}",
            path.display()
        )
    })
}

fn server_config(
    builder: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    files: &TlsFiles,
) -> Result<Arc<ServerConfig>, String> {
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "--tls-cert-file {} with --tls-key-file {}: {e}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    // Only HTTP/1.1 is served; a client offering ALPN gets it named.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load(files: &TlsFiles) -> Result<Configs, String> {
    let certs = certificates("--tls-cert-file", &files.cert)?;
    let key = private_key(&files.key)?;
    let fingerprint = certs
        .first()
        .map(|leaf| hex(&Sha256::digest(leaf.as_ref())))
        .unwrap_or_default();
    let provider = provider();
    let builder = || {
        ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS protocol versions: {e}"))
    };
    let admin = server_config(
        builder()?.with_no_client_auth(),
        certs.clone(),
        key.clone_key(),
        files,
    )?;
    let check = match &files.client_ca {
        None => admin.clone(),
        Some(ca_file) => {
            let mut roots = RootCertStore::empty();
            for ca in certificates("--client-ca-file", ca_file)? {
                roots
                    .add(ca)
                    .map_err(|e| format!("--client-ca-file {}: {e}", ca_file.display()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("--client-ca-file {}: {e}", ca_file.display()))?;
            server_config(
                builder()?.with_client_cert_verifier(verifier),
                certs,
                key,
                files,
            )?
        }
    };
    Ok(Configs {
        check,
        admin,
        fingerprint,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TlsState {
    /// Loads the files; any problem is an error naming the flag and the file.
    pub fn load(files: TlsFiles) -> Result<Arc<TlsState>, String> {
        let stamps = TlsState::stamps_of(&files);
        let configs = load(&files)?;
        tracing::info!(
            cert = %files.cert.display(),
            sha256 = %configs.fingerprint,
            client_ca = %files
                .client_ca
                .as_deref()
                .map_or("none".into(), |p| p.display().to_string()),
            "TLS certificate loaded"
        );
        Ok(Arc::new(TlsState {
            files,
            current: RwLock::new(Arc::new(configs)),
            stamps: Mutex::new(stamps),
        }))
    }

    fn stamps_of(files: &TlsFiles) -> Vec<Option<Stamp>> {
        [
            Some(&files.cert),
            Some(&files.key),
            files.client_ca.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|p| stamp(p))
        .collect()
    }

    fn current(&self) -> Arc<Configs> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The configuration new connections on `role`'s listener get.
    pub fn config(&self, role: Role) -> Arc<ServerConfig> {
        let configs = self.current();
        match role {
            Role::Check => configs.check.clone(),
            Role::Admin => configs.admin.clone(),
        }
    }

    /// SHA-256 (hex) of the leaf certificate being served.
    pub fn fingerprint(&self) -> String {
        self.current().fingerprint.clone()
    }

    /// Reads the files again. On success the new certificate serves every later connection; on
    /// failure the current one stays and the error is returned (and logged).
    pub fn reload(&self, why: &str) -> Result<(), String> {
        let stamps = TlsState::stamps_of(&self.files);
        let result = load(&self.files);
        // Remember these versions even when they fail to load, so a bad file is reported once,
        // not at every poll; the next change is looked at again.
        if let Ok(mut seen) = self.stamps.lock() {
            *seen = stamps;
        }
        match result {
            Ok(configs) => {
                tracing::info!(
                    trigger = why,
                    cert = %self.files.cert.display(),
                    sha256 = %configs.fingerprint,
                    "TLS certificate reloaded"
                );
                let configs = Arc::new(configs);
                match self.current.write() {
                    Ok(mut guard) => *guard = configs,
                    Err(poisoned) => *poisoned.into_inner() = configs,
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    trigger = why,
                    error = %e,
                    "TLS reload failed; still serving the previous certificate"
                );
                Err(e)
            }
        }
    }

    fn files_changed(&self) -> bool {
        let now = TlsState::stamps_of(&self.files);
        match self.stamps.lock() {
            Ok(seen) => *seen != now,
            Err(_) => true,
        }
    }

    /// Reloads on SIGHUP and, with `poll`, whenever a file changes (looked at that often). The
    /// signal handler is in place when this returns (so a SIGHUP right after start-up reloads
    /// rather than ends the process); spawn the returned future, which runs until dropped.
    pub fn watch(
        self: Arc<Self>,
        poll: Option<Duration>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        #[cfg(unix)]
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(e) => {
                tracing::error!(error = %e, "cannot watch SIGHUP; TLS files are still polled");
                None
            }
        };
        let mut ticks = poll.map(|every| {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        async move {
            loop {
                #[cfg(unix)]
                let signalled = async {
                    match hangup.as_mut() {
                        Some(signal) => {
                            signal.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                #[cfg(not(unix))]
                let signalled = std::future::pending::<()>();
                let tick = async {
                    match ticks.as_mut() {
                        Some(ticks) => {
                            ticks.tick().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    () = signalled => {
                        let _ = self.reload("SIGHUP");
                    }
                    () = tick => {
                        if self.files_changed() {
                            let _ = self.reload("file change");
                        }
                    }
                }
            }
        }
    }

    /// Serves TLS on `tcp` with `role`'s configuration: handshakes run concurrently in their own
    /// tasks (bounded by a timeout) and finished ones are handed to the HTTP server.
    pub fn listener(
        self: &Arc<Self>,
        tcp: TcpListener,
        role: Role,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(accept_loop(tcp, self.clone(), role, tx));
        Ok(TlsListener {
            incoming: rx,
            local,
        })
    }
}

type Accepted = (TlsStream<TcpStream>, SocketAddr);

async fn accept_loop(
    tcp: TcpListener,
    state: Arc<TlsState>,
    role: Role,
    tx: mpsc::Sender<Accepted>,
) {
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = tcp.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = TlsAcceptor::from(state.config(role));
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => log_handshake_error(role, peer, &e),
                Err(_) => tracing::debug!(%peer, listener = ?role, "TLS handshake timed out"),
            }
        });
    }
}

fn log_handshake_error(role: Role, peer: SocketAddr, error: &std::io::Error) {
    let refused = error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>());
    if refused {
        // A certificate refused, a plaintext request, an unsupported version: worth seeing.
        tracing::warn!(%peer, listener = ?role, error = %error, "TLS handshake refused");
    } else {
        tracing::debug!(%peer, listener = ?role, error = %error, "TLS handshake aborted");
    }
}

/// A listener yielding connections whose TLS handshake has completed.
pub struct TlsListener {
    incoming: mpsc::Receiver<Accepted>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends once this receiver is gone, so this is never reached while
            // the listener is in use; waiting forever is the honest answer.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for crate::net::PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        crate::net::PeerAddr(*stream.remote_addr())
    }
}
