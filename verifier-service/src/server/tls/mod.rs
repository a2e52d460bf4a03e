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

mod config;
mod listener;
mod reload;

pub use listener::TlsListener;
pub use reload::TlsState;
use std::path::PathBuf;

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
