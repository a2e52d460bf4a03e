//! Reload: the current configurations, replaced as a whole on SIGHUP or when a file changes.

use super::config::{load, Configs};
use super::config::{Role, TlsFiles};
use rustls::ServerConfig;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

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
    pub(super) files: TlsFiles,
    current: RwLock<Arc<Configs>>,
    stamps: Mutex<Vec<Option<Stamp>>>,
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
}
