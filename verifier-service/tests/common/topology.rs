//! Real multi-node Redis deployments on free loopback ports: a 3-master / 3-replica Redis Cluster
//! (`redis-server --cluster-enabled yes` + `redis-cli --cluster create`) and a Sentinel group
//! (one master, one replica, three sentinels). Each is started once per suite and killed on drop.

use super::{free_port, redis_server_binary, Verifier, ADMIN_TOKEN, PATIENCE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use warden_verifier::{AdminToken, AppState, Listeners, Settings, StoreOptions};

/// One `redis-server` process (data node or sentinel) with its own directory.
pub struct Node {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    /// How it was started, for [`Node::restart`].
    config: Option<PathBuf>,
    extra: Vec<String>,
}

impl Node {
    /// Starts `redis-server [config] --port P …extra` and waits until it answers PING.
    fn spawn(
        config: Option<&Path>,
        port: u16,
        dir: &Path,
        extra: &[String],
    ) -> Result<Node, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let mut command = Command::new(redis_server_binary());
        if let Some(config) = config {
            command.arg(config);
        }
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server on {port} exited at start ({status})"));
            }
            if ping(port) {
                return Ok(Node {
                    port,
                    dir: dir.to_owned(),
                    child: Some(child),
                    config: config.map(Path::to_owned),
                    extra: extra.to_vec(),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("redis-server on {port} did not answer"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stands in for a node moved elsewhere (e.g. into the thread that kills it).
    pub fn placeholder() -> Node {
        Node {
            port: 0,
            dir: PathBuf::new(),
            child: None,
            config: None,
            extra: Vec::new(),
        }
    }

    /// Starts a killed node again on its port and directory, with its arguments (a cluster node
    /// keeps its identity and slots from `nodes.conf`; without persistence its data is gone).
    pub fn restart(&mut self) {
        self.kill();
        let mut fresh = Node::spawn(self.config.as_deref(), self.port, &self.dir, &self.extra)
            .expect("restart");
        self.child = fresh.child.take();
        // `fresh` shares our directory: it must not remove it when dropped.
        fresh.dir = PathBuf::new();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the node is gone at once, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the node stops answering (its connections stay open), as when it hangs.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`Node::pause`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the process: a frozen node neither reads nor
    /// answers, but its sockets stay open.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("node running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// A synchronous command on this node.
    pub fn query<T: redis::FromRedisValue>(&self, cmd: &mut redis::Cmd) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
        cmd.query(&mut connection)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn ping(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
        return false;
    };
    let Ok(mut connection) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
        return false;
    };
    redis::cmd("PING")
        .query::<String>(&mut connection)
        .is_ok_and(|reply| reply == "PONG")
}

fn scratch_dir(what: &str, port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "warden-verifier-{what}-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Polls `probe` every 100 ms until it holds; panics with `what` after PATIENCE.
pub fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !probe() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Node timeout of the test cluster (and sentinel down-after): small, so failovers take seconds.
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// The certificate files of a TLS cluster (PEM): every node serves `cert`/`key` on its TLS port
/// and on the cluster bus; clients trust `ca`.
pub struct ClusterTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// A Redis Cluster: `nodes[..3]` start as masters (redis-cli assigns replicas to the rest). The
/// one place the Rust tests start a cluster.
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The TLS port of each node (a TLS cluster only), beside its plain one (`Node::port`, which
    /// the test itself uses to look at the node).
    pub tls_ports: Vec<u16>,
    replicas: usize,
}

impl Cluster {
    /// Three masters with a replica each.
    pub fn start() -> Cluster {
        Cluster::start_with(1, None)
    }

    /// Three masters, no replicas, TLS between clients and nodes and on the cluster bus.
    pub fn start_tls(tls: &ClusterTls) -> Cluster {
        Cluster::start_with(0, Some(tls))
    }

    fn start_with(replicas: usize, tls: Option<&ClusterTls>) -> Cluster {
        let mut nodes = Vec::new();
        let mut tls_ports = Vec::new();
        for _ in 0..3 * (1 + replicas) {
            let port = free_port();
            let bus = free_port();
            let dir = scratch_dir("cluster", port);
            let mut extra: Vec<String> = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                &bus.to_string(),
                "--cluster-node-timeout",
                &NODE_TIMEOUT_MS.to_string(),
                "--repl-diskless-sync-delay",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if let Some(tls) = tls {
                let tls_port = free_port();
                tls_ports.push(tls_port);
                let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
                extra.extend([
                    "--tls-port".into(),
                    tls_port.to_string(),
                    "--tls-cluster".into(),
                    "yes".into(),
                    "--tls-auth-clients".into(),
                    "no".into(),
                    "--tls-cert-file".into(),
                    path(&tls.cert),
                    "--tls-key-file".into(),
                    path(&tls.key),
                    "--tls-ca-cert-file".into(),
                    path(&tls.ca),
                ]);
            }
            nodes.push(Node::spawn(None, port, &dir, &extra).expect("cluster node"));
        }
        let mut create = Command::new("redis-cli");
        let addresses: Vec<String> = match tls {
            Some(tls) => {
                create.arg("--tls").arg("--cacert").arg(&tls.ca);
                tls_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect()
            }
            None => nodes
                .iter()
                .map(|n| format!("127.0.0.1:{}", n.port))
                .collect(),
        };
        let output = create
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli (redis-tools) on PATH");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Cluster {
            nodes,
            tls_ports,
            replicas,
        };
        cluster.wait_healthy();
        cluster
    }

    /// Every live node says `cluster_state:ok`, and every master has an online replica (when the
    /// cluster has replicas).
    pub fn wait_healthy(&self) {
        wait_until("cluster state ok on every node", || {
            self.nodes.iter().filter(|n| n.is_running()).all(|n| {
                n.query::<String>(redis::cmd("CLUSTER").arg("INFO"))
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
        });
        if self.replicas == 0 {
            return;
        }
        wait_until("every master has an online replica", || {
            let masters = self.masters();
            !masters.is_empty()
                && masters.iter().all(|&i| {
                    self.nodes[i]
                        .query::<String>(redis::cmd("INFO").arg("replication"))
                        .is_ok_and(|info| info.contains("state=online"))
                })
        });
    }

    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// `rediss+cluster://` on the TLS ports, by the name the certificate holds (`localhost`).
    pub fn tls_url(&self) -> String {
        let seeds: Vec<String> = self
            .tls_ports
            .iter()
            .map(|p| format!("localhost:{p}"))
            .collect();
        format!("rediss+cluster://{}", seeds.join(","))
    }

    fn any_live(&self) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.is_running() && ping(n.port))
            .expect("a live cluster node")
    }

    /// The index in `nodes` of the master serving `key`'s slot.
    pub fn master_of(&self, key: &str) -> usize {
        let node = self.any_live();
        let slot: i64 = node
            .query(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .expect("keyslot");
        let slots: Vec<(i64, i64, Vec<redis::Value>)> = node
            .query(redis::cmd("CLUSTER").arg("SLOTS"))
            .map(|v: Vec<redis::Value>| {
                v.into_iter()
                    .filter_map(|range| match range {
                        redis::Value::Array(items) => {
                            let mut items = items.into_iter();
                            let start = redis::from_redis_value(items.next()?).ok()?;
                            let end = redis::from_redis_value(items.next()?).ok()?;
                            Some((start, end, items.collect()))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .expect("cluster slots");
        for (start, end, owners) in slots {
            if (start..=end).contains(&slot) {
                if let Some(redis::Value::Array(master)) = owners.into_iter().next() {
                    let port: i64 = redis::from_redis_value(master.get(1).cloned().expect("port"))
                        .expect("port");
                    return self
                        .nodes
                        .iter()
                        .position(|n| i64::from(n.port) == port)
                        .expect("master is one of ours");
                }
            }
        }
        panic!("no master for slot {slot}");
    }

    /// Indexes of the nodes that are masters now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let node = &self.nodes[i];
                node.is_running()
                    && node
                        .query::<Vec<redis::Value>>(&mut redis::cmd("ROLE"))
                        .ok()
                        .and_then(|role| role.into_iter().next())
                        .and_then(|first| redis::from_redis_value::<String>(first).ok())
                        .is_some_and(|role| role == "master")
            })
            .collect()
    }

    /// Runs `cmd` on every live node.
    pub fn on_every_node(&self, cmd: &mut redis::Cmd) {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            let _: redis::Value = node.query(cmd).expect("command on a node");
        }
    }
}

/// A Sentinel group: one master, one replica, three sentinels watching `MASTER_NAME`.
pub struct SentinelGroup {
    pub data: Vec<Node>,
    pub sentinels: Vec<Node>,
}

pub const MASTER_NAME: &str = "wardenmaster";

impl SentinelGroup {
    pub fn start() -> SentinelGroup {
        let master_port = free_port();
        let master = Node::spawn(
            None,
            master_port,
            &scratch_dir("sentinel-master", master_port),
            &[
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--repl-diskless-sync-delay".into(),
                "0".into(),
            ],
        )
        .expect("master");
        let replica_port = free_port();
        let replica = Node::spawn(
            None,
            replica_port,
            &scratch_dir("sentinel-replica", replica_port),
            &[
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--replicaof".into(),
                "127.0.0.1".into(),
                master_port.to_string(),
            ],
        )
        .expect("replica");
        wait_until("replica in sync", || {
            replica
                .query::<String>(redis::cmd("INFO").arg("replication"))
                .is_ok_and(|info| info.contains("master_link_status:up"))
        });
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let dir = scratch_dir("sentinel", port);
            std::fs::create_dir_all(&dir).expect("sentinel dir");
            let config = dir.join("sentinel.conf");
            std::fs::write(
                &config,
                format!(
                    "sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} {NODE_TIMEOUT_MS}\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n"
                ),
            )
            .expect("sentinel config");
            sentinels.push(
                Node::spawn(Some(&config), port, &dir, &["--sentinel".into()]).expect("sentinel"),
            );
        }
        let group = SentinelGroup {
            data: vec![master, replica],
            sentinels,
        };
        group.wait_stable(0);
        group
    }

    /// Whether every sentinel names the master on `port` and knows its replica and its peers.
    fn sentinels_agree(&self, port: u16) -> bool {
        self.sentinels.iter().all(|s| {
            s.query::<Vec<String>>(redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME))
                .is_ok_and(|fields| {
                    let field = |name: &str| {
                        fields
                            .iter()
                            .position(|f| f == name)
                            .and_then(|i| fields.get(i + 1))
                            .cloned()
                            .unwrap_or_default()
                    };
                    field("port") == port.to_string()
                        && field("num-slaves") == "1"
                        && field("num-other-sentinels") == "2"
                })
        })
    }

    pub fn url(&self) -> String {
        let sentinels: Vec<String> = self
            .sentinels
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", sentinels.join(","))
    }

    /// Waits until every sentinel names `data[master]` as master and knows its replica (in sync)
    /// and its peers: what a failover needs.
    pub fn wait_stable(&self, master: usize) {
        let port = self.data[master].port;
        wait_until("sentinels agree on the master and its replica", || {
            let replica_synced = self.data.iter().enumerate().all(|(i, node)| {
                i == master
                    || !node.is_running()
                    || node
                        .query::<String>(redis::cmd("INFO").arg("replication"))
                        .is_ok_and(|info| {
                            info.contains(&format!("master_port:{port}"))
                                && info.contains("master_link_status:up")
                        })
            });
            replica_synced && self.sentinels_agree(port)
        });
    }

    /// The index in `data` of the node the sentinels name as master.
    pub fn master(&self) -> usize {
        for sentinel in &self.sentinels {
            if let Ok((_, port)) = sentinel.query::<(String, u16)>(
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(MASTER_NAME),
            ) {
                if let Some(i) = self.data.iter().position(|n| n.port == port) {
                    return i;
                }
            }
        }
        panic!("no sentinel names a master");
    }
}

/// The verifier served in-process on any `--redis-url` (single, cluster or sentinel).
pub async fn start_verifier(url: &str, options: StoreOptions) -> Verifier {
    start_verifier_with(url, options, Settings::default()).await
}

pub async fn start_verifier_with(url: &str, options: StoreOptions, settings: Settings) -> Verifier {
    let store = super::open_store(url, None, options);
    let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).expect("admin token");
    let state = AppState::new(store, token, settings);
    let check = TcpListener::bind("127.0.0.1:0").await.expect("bind check");
    let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
    Verifier::from_parts(Listeners { check, admin }, state)
}
