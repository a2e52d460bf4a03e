//! Test support: a real `redis-server` on a free port, the verifier served in-process on
//! `127.0.0.1:0`, and a tiny raw HTTP/1.1 client (so tests can send any bytes at all).
#![allow(dead_code)]

pub mod issuer;
pub mod topology;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use warden_verifier::{AdminToken, AppState, Listeners, Settings, Store, StoreOptions};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Upper bound for things that should happen promptly (a process starting, Redis coming back).
/// Only a deadline to fail on, never a duration asserted.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `redis-server` from PATH, or a panic that says what to install.
pub fn redis_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
    {
        let candidate = dir.join("redis-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "redis-server is not on PATH: these tests need a real Redis. Install it \
         (Debian/Ubuntu: `apt-get install -y redis-server`) or put redis-server on PATH."
    );
}

/// A free loopback port. Ports come from a per-process counter (so parallel tests never pick the
/// same one) and are checked free by binding.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 2_000) * 10;
    loop {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(base + offset % 30_000).expect("port in range");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A `redis-server` process owned by the test; killed on drop.
pub struct RedisServer {
    pub port: u16,
    extra_args: Vec<String>,
    /// A private working directory: a replica writes its RDB there, and no server ever loads
    /// another's `dump.rdb`.
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// Starts with extra `redis-server` arguments (e.g. `--replicaof`, `--user`).
    pub fn start_with(extra_args: &[&str]) -> RedisServer {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!(
                "warden-verifier-test-redis-{}-{port}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create redis dir");
            let mut server = RedisServer {
                port,
                extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
                dir,
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new(redis_server_binary())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--protected-mode", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server exited at start ({status}) on port {}",
                    self.port
                ));
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reply = [0u8; 4096];
                if stream.write_all(b"INFO server\r\n").is_ok() {
                    if let Ok(n) = stream.read(&mut reply) {
                        let reply = String::from_utf8_lossy(&reply[..n]);
                        // Our own process (not another test's server on a reused port), or
                        // "-NOAUTH" when the default user is off (then the pid cannot be asked).
                        let ours = reply.contains(&format!("process_id:{}\r\n", child.id()));
                        if ours || reply.starts_with("-NOAUTH") {
                            self.child = Some(child);
                            return Ok(());
                        }
                    }
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("redis-server did not answer".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the process (the data goes with it: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("could not restart redis-server: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// A direct connection, to look at keys the way an operator would.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to test redis")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The verifier served in-process; stopped on drop.
pub struct Verifier {
    pub check: SocketAddr,
    pub admin: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A store on any `--redis-url` (single, cluster, sentinel; `ca`: a private CA for TLS), not
/// connected yet. The one place tests turn a URL into a store.
pub fn open_store(url: &str, ca: Option<&std::path::Path>, options: StoreOptions) -> Store {
    let target = warden_verifier::store::open::open_target(url, ca).expect("redis url");
    Store::connect(target, options).expect("store")
}

/// Settings whose identity providers are `document` (the `--identity-providers` file's JSON).
pub fn settings_with_identity_providers(document: &serde_json::Value) -> Settings {
    let identity_providers =
        warden_verifier::config::identity_providers::parse(&document.to_string())
            .expect("identity providers document");
    Settings {
        identity_providers,
        ..Settings::default()
    }
}

pub fn test_store_options() -> StoreOptions {
    StoreOptions {
        timeout: Duration::from_millis(500),
        min_replicas_ack: 0,
        replica_ack_timeout: Duration::from_millis(200),
    }
}

impl Verifier {
    pub async fn start(redis_url: &str) -> Verifier {
        Verifier::start_with(redis_url, test_store_options(), Settings::default()).await
    }

    pub async fn start_with(
        redis_url: &str,
        options: StoreOptions,
        settings: Settings,
    ) -> Verifier {
        let client = redis::Client::open(redis_url).expect("redis url");
        let store = Store::new(client, options).expect("store");
        let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).expect("admin token");
        let state = AppState::new(store, token, settings);
        let check = TcpListener::bind("127.0.0.1:0").await.expect("bind check");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        Verifier::from_parts(Listeners { check, admin }, state)
    }

    /// Serves `state` on the given listeners.
    pub fn from_parts(listeners: Listeners, state: AppState) -> Verifier {
        let Listeners { check, admin } = listeners;
        let (check_addr, admin_addr) = (
            check.local_addr().expect("addr"),
            admin.local_addr().expect("addr"),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(warden_verifier::run(
            Listeners { check, admin },
            state.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Verifier {
            check: check_addr,
            admin: admin_addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("run task"),
            None => Ok(()),
        }
    }

    pub async fn check(&self, body: serde_json::Value) -> Response {
        post_json(self.check, "/v1/check", &body, None).await
    }

    pub async fn admin_post(&self, path: &str, body: serde_json::Value) -> Response {
        post_json(self.admin, path, &body, Some(ADMIN_TOKEN)).await
    }

    pub async fn admin_get(&self, path: &str) -> Response {
        request(
            self.admin,
            "GET",
            path,
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            b"",
        )
        .await
    }

    pub async fn admin_delete(&self, path: &str) -> Response {
        request(
            self.admin,
            "DELETE",
            path,
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            b"",
        )
        .await
    }

    /// Creates a session and returns its sid.
    pub async fn new_session(&self, sub: &str) -> String {
        let r = self
            .admin_post("/v1/admin/sessions", serde_json::json!({ "sub": sub }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["sid"].as_str().expect("sid").to_owned()
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {:?} {}",
                self.status,
                self.text()
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a JSON error answer with this status and `error` code.
    /// A `/v1/check` allow (`what` names the case in a failure).
    pub fn assert_allow(&self, what: &str) {
        assert_eq!(self.status, 200, "{what}: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(self.json(), serde_json::json!({ "allow": true }), "{what}");
    }

    /// A `/v1/check` deny for `reason`.
    pub fn assert_deny(&self, reason: &str, what: &str) {
        assert_eq!(self.status, 200, "{what}: {}", self.text());
        assert_eq!(
            self.json(),
            serde_json::json!({ "allow": false, "reason": reason }),
            "{what}"
        );
    }

    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.text()
        );
        assert_eq!(self.json()["error"], code, "{}", self.text());
        assert!(self.json()["message"].is_string(), "{}", self.text());
    }
}

pub async fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
    token: Option<&str>,
) -> Response {
    let body = serde_json::to_vec(body).expect("json");
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    request(addr, "POST", path, &headers, &body).await
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), body sent with Content-Length.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    raw_request(addr, &raw).await
}

/// Sends raw bytes and parses the answer.
pub async fn raw_request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect to verifier");
    stream.write_all(raw).await.expect("send request");
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("verifier answered in time")
        .expect("read answer");
    parse_response(&answer)
}

fn parse_response(answer: &[u8]) -> Response {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = answer[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Polls `probe` until it returns true or PATIENCE runs out.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !probe().await {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
