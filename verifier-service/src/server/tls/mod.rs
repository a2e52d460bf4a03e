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

pub use config::{Role, TlsFiles};
pub use listener::TlsListener;
pub use reload::TlsState;
