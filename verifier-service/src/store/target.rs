//! What `--redis-url` names: one Redis, a Redis Cluster (seed nodes) or a Sentinel group.
//!
//! - `redis://[user:password@]host:port[/db]`, `rediss://…` — one server;
//! - `redis+cluster://[user:password@]h1:p1,h2:p2` (`rediss+cluster://` for TLS) — cluster seeds;
//! - `redis+sentinel://[user:password@]s1:26379,s2:26379/MASTER_NAME[?sentinel_username=U&sentinel_password=P]`
//!   (`rediss+sentinel://`) — the credentials are the data nodes'; the sentinels' own come from
//!   the query (many deployments run sentinels without a password).

use redis::IntoConnectionInfo;

/// Which kind of deployment a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Single,
    Cluster,
    Sentinel,
}

/// A parsed `--redis-url` for several nodes: per-node URLs in the plain `redis://` form, so the
/// redis crate parses (and percent-decodes) every part exactly as it does for one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiNodeUrl {
    pub topology: Topology,
    pub tls: bool,
    /// `redis[s]://[credentials@]host:port` per node (for Sentinel: per sentinel, without the
    /// data nodes' credentials, with the sentinels' own when given).
    pub nodes: Vec<String>,
    /// Sentinel only: the monitored master's name.
    pub master_name: Option<String>,
    /// The data nodes' credentials as written in the URL (`user:password`), for Sentinel.
    pub credentials: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn fail<T>(message: impl Into<String>) -> Result<T, UrlError> {
    Err(UrlError(message.into()))
}

/// The topology a URL asks for, from its scheme alone.
pub fn topology_of(url: &str) -> Topology {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" | "rediss+cluster" => Topology::Cluster,
        "redis+sentinel" | "rediss+sentinel" => Topology::Sentinel,
        _ => Topology::Single,
    }
}

/// Parses a `redis[s]+cluster://` or `redis[s]+sentinel://` URL. Messages never repeat the
/// password.
pub fn parse_multi_node(url: &str) -> Result<MultiNodeUrl, UrlError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return fail("expected SCHEME://…");
    };
    let scheme = scheme.to_ascii_lowercase();
    let (tls, topology) = match scheme.as_str() {
        "redis+cluster" => (false, Topology::Cluster),
        "rediss+cluster" => (true, Topology::Cluster),
        "redis+sentinel" => (false, Topology::Sentinel),
        "rediss+sentinel" => (true, Topology::Sentinel),
        _ => return fail(format!("unknown scheme {scheme}://")),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let (credentials, hosts) = match authority.rfind('@') {
        Some(at) => (
            Some(authority.get(..at).unwrap_or_default()),
            authority.get(at + 1..).unwrap_or_default(),
        ),
        None => (None, authority),
    };
    let default_port = match topology {
        Topology::Sentinel => 26379,
        _ => 6379,
    };
    let mut addresses = Vec::new();
    for host in hosts.split(',') {
        let host = host.trim();
        if host.is_empty() {
            return fail("empty host in the node list (expected host:port,host:port)");
        }
        if host.contains(['/', '@', ' ']) {
            return fail(format!("bad host {host:?}"));
        }
        let has_port = match host.rfind(':') {
            Some(colon) => !host.ends_with(']') && host.get(colon + 1..).is_some(),
            None => false,
        };
        let with_port = if has_port {
            host.to_owned()
        } else {
            format!("{host}:{default_port}")
        };
        addresses.push(with_port);
    }
    let plain = if tls { "rediss" } else { "redis" };
    let mut master_name = None;
    let mut sentinel_credentials = None;
    match topology {
        Topology::Cluster => {
            if !(path.is_empty() || path == "/") {
                return fail("a cluster URL takes no path (Redis Cluster has database 0 only)");
            }
            if let Some(query) = query.filter(|q| !q.is_empty()) {
                return fail(format!("unsupported query {query:?} in a cluster URL"));
            }
        }
        Topology::Sentinel => {
            let name = path.trim_start_matches('/');
            if name.is_empty() || name.contains('/') {
                return fail(
                    "a sentinel URL names the master: redis+sentinel://s1:26379,s2:26379/MASTER_NAME",
                );
            }
            master_name = Some(name.to_owned());
            let (mut user, mut password) = (None, None);
            for pair in query
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
            {
                match pair.split_once('=') {
                    Some(("sentinel_username", v)) => user = Some(v.to_owned()),
                    Some(("sentinel_password", v)) => password = Some(v.to_owned()),
                    _ => {
                        let name = pair.split('=').next().unwrap_or_default();
                        return fail(format!(
                            "unsupported query parameter {name:?} in a sentinel URL (known: sentinel_username, sentinel_password)"
                        ));
                    }
                }
            }
            if user.is_some() || password.is_some() {
                sentinel_credentials = Some(format!(
                    "{}:{}",
                    user.unwrap_or_default(),
                    password.unwrap_or_default()
                ));
            }
        }
        Topology::Single => return fail("not a multi-node URL"),
    }
    let node_credentials = match topology {
        Topology::Cluster => credentials.map(str::to_owned),
        _ => sentinel_credentials,
    };
    let nodes: Vec<String> = addresses
        .iter()
        .map(|address| match &node_credentials {
            Some(c) => format!("{plain}://{c}@{address}"),
            None => format!("{plain}://{address}"),
        })
        .collect();
    for node in &nodes {
        // Parsed here so a bad port or host is reported at start, not on first use.
        if let Err(e) = node.as_str().into_connection_info() {
            let shown = addresses
                .get(nodes.iter().position(|n| n == node).unwrap_or(0))
                .cloned()
                .unwrap_or_default();
            return fail(format!("bad node {shown}: {e}"));
        }
    }
    Ok(MultiNodeUrl {
        topology,
        tls,
        nodes,
        master_name,
        credentials: match topology {
            Topology::Sentinel => credentials.map(str::to_owned),
            _ => None,
        },
    })
}

/// Where the store connects: built from `--redis-url` (and a private CA for TLS), nothing
/// connected yet.
pub enum RedisTarget {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    Sentinel(redis::sentinel::SentinelClient),
}

impl RedisTarget {
    pub fn topology(&self) -> Topology {
        match self {
            RedisTarget::Single(_) => Topology::Single,
            RedisTarget::Cluster(_) => Topology::Cluster,
            RedisTarget::Sentinel(_) => Topology::Sentinel,
        }
    }
}

fn redis_error(e: redis::RedisError) -> UrlError {
    UrlError(e.to_string())
}

/// The cluster or sentinel client for a multi-node URL. `root_cert` (PEM) replaces the webpki
/// roots for TLS (builds with the `tls` feature).
pub fn open_multi_node(url: &str, root_cert: Option<Vec<u8>>) -> Result<RedisTarget, UrlError> {
    let parsed = parse_multi_node(url)?;
    #[cfg(not(feature = "tls"))]
    if parsed.tls || root_cert.is_some() {
        return fail(
            "this build has no TLS support; rebuild with `cargo build -p warden-verifier --features tls`",
        );
    }
    match parsed.topology {
        Topology::Cluster => {
            #[allow(unused_mut)]
            let mut builder = redis::cluster::ClusterClientBuilder::new(parsed.nodes.clone());
            #[cfg(feature = "tls")]
            if let Some(root_cert) = root_cert {
                builder = builder.certs(redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                });
            }
            let client = builder.retries(2).build().map_err(redis_error)?;
            Ok(RedisTarget::Cluster(client))
        }
        Topology::Sentinel => {
            let mut sentinels = Vec::new();
            let mut sentinel_auth = (None, None);
            for node in &parsed.nodes {
                let info = node.as_str().into_connection_info().map_err(redis_error)?;
                sentinel_auth = (
                    info.redis_settings().username().map(str::to_owned),
                    info.redis_settings().password().map(str::to_owned),
                );
                sentinels.push(info.addr().clone());
            }
            let master_name = parsed.master_name.clone().unwrap_or_default();
            let mut builder = redis::sentinel::SentinelClientBuilder::new(
                sentinels,
                master_name,
                redis::sentinel::SentinelServerType::Master,
            )
            .map_err(redis_error)?;
            if let Some(credentials) = &parsed.credentials {
                // Decoded by the redis crate's own URL parser, as for one server.
                let probe = format!("redis://{credentials}@localhost");
                let info = probe.as_str().into_connection_info().map_err(redis_error)?;
                if let Some(user) = info.redis_settings().username() {
                    builder = builder.set_client_to_redis_username(user);
                }
                if let Some(password) = info.redis_settings().password() {
                    builder = builder.set_client_to_redis_password(password);
                }
            }
            if let Some(user) = sentinel_auth.0 {
                builder = builder.set_client_to_sentinel_username(user);
            }
            if let Some(password) = sentinel_auth.1 {
                builder = builder.set_client_to_sentinel_password(password);
            }
            #[cfg(feature = "tls")]
            if parsed.tls {
                builder = builder.set_client_to_redis_tls_mode(redis::TlsMode::Secure);
                if let Some(root_cert) = root_cert {
                    let certificates = || redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert.clone()),
                    };
                    builder = builder
                        .set_client_to_redis_certificates(certificates())
                        .set_client_to_sentinel_certificates(certificates());
                }
            }
            Ok(RedisTarget::Sentinel(builder.build().map_err(redis_error)?))
        }
        Topology::Single => fail("not a multi-node URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_topology() {
        assert_eq!(topology_of("redis://h:1"), Topology::Single);
        assert_eq!(topology_of("rediss://h:1"), Topology::Single);
        assert_eq!(topology_of("redis+cluster://h:1"), Topology::Cluster);
        assert_eq!(topology_of("REDISS+CLUSTER://h:1"), Topology::Cluster);
        assert_eq!(topology_of("redis+sentinel://h:1/m"), Topology::Sentinel);
        assert_eq!(topology_of("rediss+sentinel://h:1/m"), Topology::Sentinel);
    }

    #[test]
    fn cluster_urls() {
        let u = parse_multi_node("redis+cluster://alice:p%40ss@10.0.0.1:7000,node-b:7001").unwrap();
        assert_eq!(u.topology, Topology::Cluster);
        assert!(!u.tls);
        assert_eq!(
            u.nodes,
            [
                "redis://alice:p%40ss@10.0.0.1:7000",
                "redis://alice:p%40ss@node-b:7001"
            ]
        );
        let t = parse_multi_node("rediss+cluster://h1,h2:7001/").unwrap();
        assert!(t.tls);
        assert_eq!(t.nodes, ["rediss://h1:6379", "rediss://h2:7001"]);
        let v6 = parse_multi_node("redis+cluster://[::1]:7000").unwrap();
        assert_eq!(v6.nodes, ["redis://[::1]:7000"]);
    }

    #[test]
    fn sentinel_urls() {
        let u = parse_multi_node("redis+sentinel://:secret@s1:26379,s2/mymaster").unwrap();
        assert_eq!(u.topology, Topology::Sentinel);
        assert_eq!(u.master_name.as_deref(), Some("mymaster"));
        assert_eq!(u.nodes, ["redis://s1:26379", "redis://s2:26379"]);
        assert_eq!(u.credentials.as_deref(), Some(":secret"));
        let s =
            parse_multi_node("rediss+sentinel://s1:1/m?sentinel_username=sen&sentinel_password=pw")
                .unwrap();
        assert_eq!(s.nodes, ["rediss://sen:pw@s1:1"]);
        assert_eq!(s.credentials, None);
    }

    #[test]
    fn bad_urls_are_refused_without_the_password() {
        for bad in [
            "redis+cluster://",
            "redis+cluster://h1,,h2",
            "redis+cluster://h1/3",
            "redis+cluster://h1?x=1",
            "redis+cluster://u:hunter2@h1:notaport",
            "redis+sentinel://s1:26379",
            "redis+sentinel://s1:26379/",
            "redis+sentinel://s1:26379/a/b",
            "redis+sentinel://s1:26379/m?db=2",
            "redis+whatever://h",
        ] {
            let e = parse_multi_node(bad).unwrap_err();
            assert!(!e.0.contains("hunter2"), "{bad}: {e}");
        }
    }
}
