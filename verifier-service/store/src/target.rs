//! What `--redis-url` names: one Redis, a Redis Cluster (seed nodes) or a Sentinel group.
//!
//! - `redis://[user:password@]host:port[/db]`, `rediss://…` — one server;
//! - `redis+cluster://[user:password@]h1:p1,h2:p2` (`rediss+cluster://` for TLS) — cluster seeds;
//! - `redis+sentinel://[user:password@]s1:26379,s2:26379/MASTER_NAME[?sentinel_username=U&sentinel_password=P]`
//!   (`rediss+sentinel://`) — the credentials are the data nodes'; the sentinels' own come from
//!   the query (many deployments run sentinels without a password).
//!
//! Credentials are cut off first, before anything else reads the URL: they end at the last `@`
//! (in a sentinel URL, the last before its `?sentinel_` query), so a password may hold any
//! character, `?#/@:%` included (a `%` followed by two hex digits is an escape, as in any URL).
//! Every message built from a URL quotes only [`redacted_url`], never a piece of it.

use redis::IntoConnectionInfo;

/// Which kind of deployment a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    Single,
    Cluster,
    Sentinel,
}

const SENTINEL_QUERY: &str = "?sentinel_";
const SENTINEL_PASSWORD: &str = "sentinel_password=";

/// The URL without its secrets, for logs and refusals. It hides everything from `://` to the
/// last `@` of the whole URL (more than the credentials when a query value holds an `@`: the
/// safe mistake), keeping a user name made of plain characters, and everything after the first
/// `sentinel_password=` (its value may hold `&`). An unknown scheme is not shown either.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL: expected SCHEME://…)".into();
    };
    let known = [
        "redis",
        "rediss",
        "redis+cluster",
        "rediss+cluster",
        "redis+sentinel",
        "rediss+sentinel",
    ];
    let scheme = if known.iter().any(|k| k.eq_ignore_ascii_case(scheme)) {
        scheme
    } else {
        "(unknown scheme)"
    };
    let (rest, sentinel_password) = match rest.find(SENTINEL_PASSWORD) {
        Some(start) => (
            rest.get(..start).unwrap_or_default(),
            Some(format!("{SENTINEL_PASSWORD}***")),
        ),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://");
    // The last '@' of the whole URL, not only of what is shown: a password may hold
    // `sentinel_password=` itself.
    let all = url.split_once("://").map_or("", |(_, all)| all);
    let shown_from = match all.rfind('@') {
        Some(at) => {
            let userinfo = all.get(..at).unwrap_or_default();
            match userinfo.split_once(':') {
                Some((user, _))
                    if user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) =>
                {
                    out.push_str(user);
                    out.push_str(":***@");
                }
                _ => out.push_str("***@"),
            }
            at + 1
        }
        None => 0,
    };
    out.push_str(rest.get(shown_from..).unwrap_or_default());
    if let Some(tail) = sentinel_password {
        out.push_str(&tail);
    }
    out
}

/// A URL's credentials as the redis crate reads them: kept where they are a valid userinfo
/// (unreserved and sub-delimiter characters, `:` when `colon`, `%XX` escapes), percent-encoded
/// elsewhere, so `?`, `#`, `/`, `@` or a lone `%` in a password never end the userinfo early.
fn encode_userinfo(text: &str, colon: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        let plain = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=".contains(&b)
            || (colon && b == b':')
            || escape;
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `rest` (what follows `scheme://`) into its credentials and what follows them.
fn split_credentials(rest: &str, topology: Topology) -> (Option<&str>, &str) {
    let head_end = match topology {
        Topology::Sentinel => rest.find(SENTINEL_QUERY).unwrap_or(rest.len()),
        _ => rest.len(),
    };
    match rest.get(..head_end).and_then(|head| head.rfind('@')) {
        Some(at) => (rest.get(..at), rest.get(at + 1..).unwrap_or_default()),
        None => (None, rest),
    }
}

/// A one-server URL in the form the redis crate parses as meant: its credentials percent-encoded
/// where they would otherwise end the userinfo early.
pub fn normalized_single_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match split_credentials(rest, Topology::Single) {
        (Some(credentials), after) => {
            format!("{scheme}://{}@{after}", encode_userinfo(credentials, true))
        }
        (None, _) => url.to_owned(),
    }
}

/// A parsed `--redis-url` for several nodes: per-node URLs in the plain `redis://` form, so the
/// redis crate parses (and percent-decodes) every part exactly as it does for one server.
/// `Debug` shows them redacted.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for MultiNodeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nodes: Vec<String> = self.nodes.iter().map(|n| redacted_url(n)).collect();
        f.debug_struct("MultiNodeUrl")
            .field("topology", &self.topology)
            .field("tls", &self.tls)
            .field("nodes", &nodes)
            .field("master_name", &self.master_name)
            .field("credentials", &self.credentials.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A refusal of a `--redis-url`; its text never holds a piece of the URL (the caller shows the
/// [`redacted_url`] beside it).
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

/// Parses a `redis[s]+cluster://` or `redis[s]+sentinel://` URL. Messages never quote the URL.
pub fn parse_multi_node(url: &str) -> Result<MultiNodeUrl, UrlError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return fail("expected SCHEME://…");
    };
    let (tls, topology) = match scheme.to_ascii_lowercase().as_str() {
        "redis+cluster" => (false, Topology::Cluster),
        "rediss+cluster" => (true, Topology::Cluster),
        "redis+sentinel" => (false, Topology::Sentinel),
        "rediss+sentinel" => (true, Topology::Sentinel),
        _ => return fail("unknown scheme (expected redis[s]+cluster:// or redis[s]+sentinel://)"),
    };
    let (credentials, after) = split_credentials(rest, topology);
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (hosts, tail) = after.split_at(authority_end);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let default_port = match topology {
        Topology::Sentinel => 26379,
        _ => 6379,
    };
    let mut addresses = Vec::new();
    for (i, host) in hosts.split(',').enumerate() {
        let host = host.trim();
        if host.is_empty() {
            return fail("empty host in the node list (expected host:port,host:port)");
        }
        if host.contains(['/', '@', ' ', '#', '%']) {
            return fail(format!("bad host #{} in the node list", i + 1));
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
            if query.is_some_and(|q| !q.is_empty()) {
                return fail("a cluster URL takes no query");
            }
        }
        Topology::Sentinel => {
            let name = path.trim_start_matches('/');
            if name.is_empty() || name.contains(['/', '#']) {
                return fail(
                    "a sentinel URL names the master: redis+sentinel://s1:26379,s2:26379/MASTER_NAME",
                );
            }
            master_name = Some(name.to_owned());
            let (mut user, mut password) = (None, None);
            for (i, pair) in query
                .unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .enumerate()
            {
                // By position only: a value with a raw `&` would make the rest look like a
                // parameter, and its name may be a piece of a password.
                let slot = match pair.split_once('=') {
                    Some(("sentinel_username", v)) => (&mut user, v),
                    Some(("sentinel_password", v)) => (&mut password, v),
                    _ => {
                        return fail(format!(
                            "unsupported query parameter #{} in a sentinel URL (known: sentinel_username, sentinel_password; percent-encode `&` in values)",
                            i + 1
                        ))
                    }
                };
                if slot.0.replace(slot.1).is_some() {
                    return fail(format!("query parameter #{} given twice", i + 1));
                }
            }
            if user.is_some() || password.is_some() {
                sentinel_credentials = Some(format!(
                    "{}:{}",
                    encode_userinfo(user.unwrap_or_default(), false),
                    encode_userinfo(password.unwrap_or_default(), true)
                ));
            }
        }
        Topology::Single => return fail("not a multi-node URL"),
    }
    let node_credentials = match topology {
        Topology::Cluster => credentials.map(|c| encode_userinfo(c, true)),
        _ => sentinel_credentials,
    };
    let mut nodes = Vec::with_capacity(addresses.len());
    for (i, address) in addresses.iter().enumerate() {
        let node = match &node_credentials {
            Some(c) => format!("{plain}://{c}@{address}"),
            None => format!("{plain}://{address}"),
        };
        // Parsed here so a bad port or host is reported at start, not on first use.
        if let Err(e) = node.as_str().into_connection_info() {
            return fail(format!("bad node #{}: {}", i + 1, redis_error(e)));
        }
        nodes.push(node);
    }
    Ok(MultiNodeUrl {
        topology,
        tls,
        nodes,
        master_name,
        credentials: match topology {
            Topology::Sentinel => credentials.map(|c| encode_userinfo(c, true)),
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

/// The redis crate's refusal of a URL it was handed: its kind and fixed description only (a
/// detail may quote a piece of the URL).
fn redis_error(e: redis::RedisError) -> UrlError {
    UrlError(redis_url_error(&e))
}

/// The redis crate's refusal of a URL without its detail, which may quote a piece of the URL
/// (e.g. an unknown `protocol=` value): its fixed description, or its category.
pub fn redis_url_error(e: &redis::RedisError) -> String {
    let text = e.to_string();
    match e.detail() {
        None => text,
        Some(detail) => text
            .strip_suffix(detail)
            .map(|t| t.trim_end_matches([':', ' ']).to_owned())
            .unwrap_or_else(|| e.category().to_owned()),
    }
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

    #[test]
    fn passwords_may_hold_any_character() {
        let u = parse_multi_node("redis+cluster://:Kq7Zx?Wv9Jt@h:1").unwrap();
        assert_eq!(u.nodes, ["redis://:Kq7Zx%3FWv9Jt@h:1"]);
        let info = u.nodes[0].as_str().into_connection_info().unwrap();
        assert_eq!(info.redis_settings().password(), Some("Kq7Zx?Wv9Jt"));
        let u = parse_multi_node("redis+cluster://u:a/b#c@d%zz%41@h1:1,h2:2").unwrap();
        let info = u.nodes[1].as_str().into_connection_info().unwrap();
        assert_eq!(info.redis_settings().password(), Some("a/b#c@d%zzA"));
        assert_eq!(info.redis_settings().username(), Some("u"));
        let s = parse_multi_node("redis+sentinel://:p/q?r@s1/m?sentinel_password=x%26y@z").unwrap();
        assert_eq!(s.master_name.as_deref(), Some("m"));
        assert_eq!(s.nodes, ["redis://:x%26y%40z@s1:26379"]);
        let single = normalized_single_url("redis://:Kq7Zx?Wv9Jt@h:1/2");
        let info = single.as_str().into_connection_info().unwrap();
        assert_eq!(info.redis_settings().password(), Some("Kq7Zx?Wv9Jt"));
        assert_eq!(info.redis_settings().db(), 2);
    }

    /// Finding 8: for random passwords over all printable ASCII (`?#/@:%` and space included),
    /// no refusal, `Debug` or redacted form built from a URL holds a piece of the password.
    /// Oracle: every third character of the password is one of `~$!`, which occur in no message
    /// and no other part of the URLs, so any 3-character window of it found in an output came
    /// from the password (also checked on its percent-encoded form).
    #[test]
    fn no_output_of_url_parsing_holds_a_piece_of_a_password() {
        const RARE: &[u8] = b"~$!";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let shapes = [
            "redis+cluster://:{pw}@h:1",
            "redis+cluster://user:{pw}@h1:1,h2:2",
            "rediss+cluster://u:{pw}@h:notaport",
            "redis+cluster://:{pw}@h:1/3",
            "redis+cluster://:{pw}@h:1?x=1",
            "redis+cluster://:{pw}@,h:1",
            "redis+sentinel://:{pw}@s1:1/m",
            "redis+sentinel://:{pw}@s1:1",
            "redis+sentinel://s1:1/m?sentinel_password={pw}",
            "redis+sentinel://s1:1/m?sentinel_username=u&sentinel_password={pw}&x=1",
            "redis+sentinel://:{pw}@s1/m?sentinel_password={pw}",
            "redis+sentinel://:{pw}@s1:x/m",
            "redis://:{pw}@h:1",
            "redis://u:{pw}@h:1/x",
            "redis://:{pw}@h:notaport",
            "redis://:{pw}@0.0.0.0:1",
            "redis://:{pw}@h:1/?protocol=resp9",
            "rediss://:{pw}@h:1",
        ];
        for round in 0..2000 {
            let len = 3 + (next() % 30) as usize;
            let password: String = (0..len)
                .map(|i| {
                    let r = next();
                    if i % 3 == 0 {
                        char::from(RARE[(r % 3) as usize])
                    } else {
                        char::from(0x20 + (r % 95) as u8)
                    }
                })
                .collect();
            let encoded = encode_userinfo(&password, true);
            let windows: Vec<String> = [password.as_str(), encoded.as_str()]
                .iter()
                .flat_map(|text| {
                    let chars: Vec<char> = text.chars().collect();
                    chars
                        .windows(3)
                        .filter(|w| w.iter().any(|c| c.is_ascii() && RARE.contains(&(*c as u8))))
                        .map(|w| w.iter().collect::<String>())
                        .collect::<Vec<_>>()
                })
                .collect();
            for shape in shapes {
                let url = shape.replace("{pw}", &password);
                let mut outputs = vec![redacted_url(&url)];
                match parse_multi_node(&url) {
                    Ok(parsed) => outputs.push(format!("{parsed:?}")),
                    Err(e) => outputs.extend([e.to_string(), format!("{e:?}")]),
                }
                if topology_of(&url) != Topology::Single {
                    if let Err(e) = open_multi_node(&url, None) {
                        outputs.extend([e.to_string(), format!("{e:?}")]);
                    }
                }
                if let Err(e) = crate::open::open_target(&url, None) {
                    outputs.push(e);
                }
                for output in &outputs {
                    for w in &windows {
                        assert!(
                            !output.contains(w.as_str()),
                            "round {round}: {url:?} gave {output:?}, which holds {w:?}"
                        );
                    }
                }
            }
        }
    }
}
