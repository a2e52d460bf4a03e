//! The listeners' TLS configurations from the PEM files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The server configurations of both listeners, built from the files together.
pub(super) struct Configs {
    pub(super) check: Arc<ServerConfig>,
    pub(super) admin: Arc<ServerConfig>,
    /// SHA-256 of the leaf certificate, for logs.
    pub(super) fingerprint: String,
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

/// Reads the files and builds both configurations; any problem is an error naming the flag and
/// the file.
pub(super) fn load(files: &TlsFiles) -> Result<Configs, String> {
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
