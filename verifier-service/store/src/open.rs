//! Opening the store's target from `--redis-url` (and `--redis-ca-file`): one server, a Redis
//! Cluster's seeds or a Sentinel group.

use super::target::redacted_url;

/// The Redis client for `url`; `ca_file` adds a private CA for `rediss://` (builds with `tls`).
pub fn open_redis(url: &str, ca_file: Option<&std::path::Path>) -> Result<redis::Client, String> {
    let invalid = |e: redis::RedisError| {
        format!(
            "invalid --redis-url {}: {}",
            redacted_url(url),
            super::target::redis_url_error(&e)
        )
    };
    let normalized = super::target::normalized_single_url(url);
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
) -> Result<super::target::RedisTarget, String> {
    use super::target::{open_multi_node, topology_of, RedisTarget, Topology};
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
