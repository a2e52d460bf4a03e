//! TLS on the verifier's own listeners, on the real binary: serving over TLS, plaintext refused,
//! client certificates on the check listener, certificate reload (SIGHUP and file change, a bad new
//! file keeping the old certificate), and the refusal of a plaintext admin listener on a
//! non-loopback address. Certificates are made with the `openssl` command line tool.
#![cfg(all(feature = "tls", unix))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{free_port, RedisServer, ADMIN_TOKEN, PATIENCE};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const BIN: &str = env!("CARGO_BIN_EXE_warden-verifier");

// --- certificates -------------------------------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "warden-verifier-tls-listeners-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect(
            "the `openssl` command line tool is needed for this test (apt-get install -y openssl)",
        );
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// A self-signed CA: `{name}.crt`, `{name}.key`.
fn make_ca(dir: &Path, name: &str) {
    let (key, crt, subj) = (
        format!("{name}.key"),
        format!("{name}.crt"),
        format!("/CN={name}"),
    );
    let mut args = vec!["req", "-x509"];
    args.extend(EC_KEY);
    args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
    openssl(dir, &args);
}

/// A leaf certificate `{name}.crt` (key `{name}.key`) signed by CA `ca`: a server certificate for
/// `localhost`/127.0.0.1, or a client certificate.
fn make_leaf(dir: &Path, ca: &str, name: &str, server: bool) {
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    let subj = format!("/CN={name}");
    let mut args = vec!["req"];
    args.extend(EC_KEY);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(dir, &args);
    let extensions = if server {
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    } else {
        "extendedKeyUsage=clientAuth\n"
    };
    std::fs::write(dir.join(&ext), extensions).unwrap();
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

/// CA `ca`, a server certificate `server` and a client certificate `envoy` signed by it, and a
/// second CA `rogue` with a client certificate `intruder`.
fn make_pki(dir: &Path) {
    make_ca(dir, "ca");
    make_leaf(dir, "ca", "server", true);
    make_leaf(dir, "ca", "envoy", false);
    make_ca(dir, "rogue");
    make_leaf(dir, "rogue", "intruder", false);
}

fn der_of(path: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(path)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// Replaces `to` with `from` by rename, as deployment tools do.
fn replace_file(from: &Path, to: &Path) {
    let staged = to.with_extension("staged");
    std::fs::copy(from, &staged).unwrap();
    std::fs::rename(&staged, to).unwrap();
}

// --- a TLS client -------------------------------------------------------------------------------

fn client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    Arc::new(match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(cert).unwrap()],
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    })
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    /// DER of the certificate the server presented.
    server_cert: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request over TLS on a fresh connection. Any failure (handshake refused, connection
/// closed without an answer) is an `Err` describing it.
async fn tls_request(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let connector = TlsConnector::from(config.clone());
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(PATIENCE, connector.connect(name, tcp))
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| format!("handshake: {e}"))?;
    let server_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    tls.write_all(&raw)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut answer))
        .await
        .map_err(|_| "no answer in time".to_string())?;
    if answer.is_empty() {
        return Err(match read {
            Err(e) => format!("read: {e}"),
            Ok(_) => "connection closed without an answer".into(),
        });
    }
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP head in {:?}", String::from_utf8_lossy(&answer)))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok(Answer {
        status,
        body: answer[split + 4..].to_vec(),
        server_cert,
    })
}

async fn tls_get(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    path: &str,
) -> Result<Answer, String> {
    tls_request(addr, config, "GET", path, &[], b"").await
}

async fn tls_check(addr: SocketAddr, config: &Arc<ClientConfig>, body: Value) -> Answer {
    let body = serde_json::to_vec(&body).unwrap();
    tls_request(
        addr,
        config,
        "POST",
        "/v1/check",
        &[("content-type", "application/json")],
        &body,
    )
    .await
    .unwrap()
}

async fn tls_admin_post(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    path: &str,
    body: Value,
) -> Answer {
    let body = serde_json::to_vec(&body).unwrap();
    let auth = format!("Bearer {ADMIN_TOKEN}");
    tls_request(
        addr,
        config,
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        &body,
    )
    .await
    .unwrap()
}

/// Sends a plaintext HTTP request and returns whatever comes back before the connection closes.
async fn plaintext_exchange(addr: SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the listener closed the plaintext connection in time");
    answer
}

// --- the verifier process -----------------------------------------------------------------------

struct VerifierProcess {
    child: Child,
    log: PathBuf,
    check: SocketAddr,
    admin: SocketAddr,
}

impl VerifierProcess {
    /// Starts `serve` with `args` after the listener, Redis and admin token flags; `env` is added to
    /// the environment.
    fn spawn(dir: &Path, redis_url: &str, args: &[&str], env: &[(&str, &str)]) -> VerifierProcess {
        let admin = format!("127.0.0.1:{}", free_port());
        VerifierProcess::spawn_with_admin(dir, redis_url, &admin, args, env)
    }

    /// As `spawn`, with the admin listener bound to `admin_listen` (reached through 127.0.0.1).
    fn spawn_with_admin(
        dir: &Path,
        redis_url: &str,
        admin_listen: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> VerifierProcess {
        let token_file = dir.join("admin-token");
        std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
        let check: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let port = admin_listen.rsplit(':').next().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = dir.join(format!("verifier-{}.log", check.port()));
        let mut command = Command::new(BIN);
        command
            .arg("serve")
            .args(["--listen", &check.to_string()])
            .args(["--admin-listen", admin_listen])
            .args(["--redis-url", redis_url])
            .arg("--admin-token-file")
            .arg(&token_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn warden-verifier");
        VerifierProcess {
            child,
            log,
            check,
            admin,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the verifier exited ({status}):\n{}", self.log_text());
        }
    }

    /// Waits until both listeners answer `/healthz` over TLS with `config`.
    async fn wait_ready(&mut self, config: &Arc<ClientConfig>) {
        self.wait_until("both listeners to answer over TLS", |v| {
            let (check, admin, config) = (v.check, v.admin, config.clone());
            async move {
                let ok = |r: Result<Answer, String>| r.is_ok_and(|a| a.status == 200);
                ok(tls_get(check, &config, "/healthz").await)
                    && ok(tls_get(admin, &config, "/healthz").await)
            }
        })
        .await;
    }

    async fn wait_until<F, Fut>(&mut self, what: &str, mut probe: F)
    where
        F: FnMut(&VerifierProcess) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.assert_running();
            if probe(self).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; verifier log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    async fn served_cert(&self, addr: SocketAddr, config: &Arc<ClientConfig>) -> Vec<u8> {
        tls_get(addr, config, "/healthz")
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log_text()))
            .server_cert
    }
}

impl Drop for VerifierProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path_str(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

fn tls_flags(dir: &Path) -> Vec<String> {
    vec![
        "--tls-cert-file".into(),
        path_str(dir, "server.crt"),
        "--tls-key-file".into(),
        path_str(dir, "server.key"),
    ]
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Runs `serve` expecting it to refuse to start; returns its stderr.
fn refused_start(args: &[&str], env: &[(&str, &str)]) -> String {
    let dir = temp_dir("refused");
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--redis-url", "redis://127.0.0.1:1"])
        .arg("--admin-token-file")
        .arg(&token_file)
        .args(args)
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out: Output = child.wait_with_output().unwrap();
            panic!(
                "serve {args:?} did not refuse to start:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "exit 0 for {args:?}: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    stderr
}

// --- tests --------------------------------------------------------------------------------------

#[tokio::test]
async fn both_listeners_serve_tls_and_refuse_plaintext() {
    let dir = temp_dir("serve");
    make_pki(&dir);
    let redis = RedisServer::start();
    let flags = tls_flags(&dir);
    let mut v = VerifierProcess::spawn(&dir, &redis.url(), &as_strs(&flags), &[]);
    let client = client_config(&dir.join("ca.crt"), None);
    v.wait_ready(&client).await;

    // The check API and the admin API over TLS, with the certificate from the files.
    let good = json!({ "sub": "tls-alice", "jti": "t1", "exp": common::unix_now() + 600 });
    let r = tls_check(v.check, &client, good.clone()).await;
    assert_eq!((r.status, r.json()), (200, json!({ "allow": true })));
    assert_eq!(r.server_cert, der_of(&dir.join("server.crt")));
    let r = tls_admin_post(v.admin, &client, "/v1/admin/revoke/token", good.clone()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.server_cert, der_of(&dir.join("server.crt")));
    let r = tls_check(v.check, &client, good).await;
    assert_eq!(r.json(), json!({ "allow": false, "reason": "revoked" }));

    // Plain HTTP on a TLS listener gets no HTTP answer: the handshake fails and the connection
    // closes.
    for addr in [v.check, v.admin] {
        let answer = plaintext_exchange(addr).await;
        assert!(
            !answer.starts_with(b"HTTP/"),
            "plaintext answered on {addr}: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    // A client that does not trust the issuing CA does not get through either.
    let untrusting = client_config(&dir.join("rogue.crt"), None);
    let refused = tls_get(v.check, &untrusting, "/healthz").await.unwrap_err();
    assert!(refused.contains("handshake"), "{refused}");

    // The service is still serving after those failed handshakes, and logged the refusals.
    let r = tls_get(v.check, &client, "/readyz").await.unwrap();
    assert_eq!(r.status, 200);
    v.assert_running();
    assert!(
        v.log_text().contains("TLS handshake refused"),
        "{}",
        v.log_text()
    );

    // SIGTERM still drains and exits 0 with TLS listeners.
    v.signal("TERM");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = v.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}: {}", v.log_text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn client_ca_makes_the_check_listener_require_a_client_certificate() {
    let dir = temp_dir("mtls");
    make_pki(&dir);
    let redis = RedisServer::start();
    let mut flags = tls_flags(&dir);
    flags.extend(["--client-ca-file".into(), path_str(&dir, "ca.crt")]);
    let mut v = VerifierProcess::spawn(&dir, &redis.url(), &as_strs(&flags), &[]);
    let ca = dir.join("ca.crt");
    let envoy = client_config(&ca, Some((&dir.join("envoy.crt"), &dir.join("envoy.key"))));
    let anonymous = client_config(&ca, None);
    let intruder = client_config(
        &ca,
        Some((&dir.join("intruder.crt"), &dir.join("intruder.key"))),
    );
    v.wait_ready(&envoy).await;

    // Signed by the client CA: served.
    let body = json!({ "sub": "mtls-bob", "jti": "m1", "exp": common::unix_now() + 600 });
    let r = tls_check(v.check, &envoy, body.clone()).await;
    assert_eq!((r.status, r.json()), (200, json!({ "allow": true })));

    // No client certificate, or one from another CA: refused during the handshake, no answer.
    let body_bytes = serde_json::to_vec(&body).unwrap();
    let refusals = [
        ("no certificate", &anonymous, "CertificateRequired"),
        ("wrong CA", &intruder, "UnknownCA"),
    ];
    for (who, config, alert) in refusals {
        let refused = tls_request(v.check, config, "POST", "/v1/check", &[], &body_bytes)
            .await
            .map(|a| a.status)
            .expect_err(who);
        assert!(
            refused.contains(&format!("received fatal alert: {alert}")),
            "{who}: {refused}"
        );
    }
    v.wait_until("the refusals to be logged", |v| {
        let log = v.log_text();
        async move { log.matches("TLS handshake refused").count() >= 2 }
    })
    .await;

    // The admin listener keeps TLS without client certificates: its bearer token guards it.
    let r = tls_admin_post(
        v.admin,
        &anonymous,
        "/v1/admin/revoke/token",
        json!({ "sub": "mtls-bob", "jti": "m1", "exp": common::unix_now() + 600 }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = tls_check(v.check, &envoy, body).await;
    assert_eq!(r.json(), json!({ "allow": false, "reason": "revoked" }));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_a_bad_file_keeps_the_old_one() {
    let dir = temp_dir("sighup");
    make_pki(&dir);
    make_leaf(&dir, "ca", "server2", true);
    let redis = RedisServer::start();
    let mut flags = tls_flags(&dir);
    // No polling: only the signal can reload.
    flags.extend(["--tls-reload-interval-seconds".into(), "0".into()]);
    let mut v = VerifierProcess::spawn(&dir, &redis.url(), &as_strs(&flags), &[]);
    let client = client_config(&dir.join("ca.crt"), None);
    v.wait_ready(&client).await;
    let (first, second) = (
        der_of(&dir.join("server.crt")),
        der_of(&dir.join("server2.crt")),
    );
    assert_eq!(v.served_cert(v.check, &client).await, first);

    // New files in place: nothing changes until SIGHUP.
    replace_file(&dir.join("server2.key"), &dir.join("server.key"));
    replace_file(&dir.join("server2.crt"), &dir.join("server.crt"));
    assert_eq!(v.served_cert(v.check, &client).await, first);
    v.signal("HUP");
    v.wait_until("the new certificate on the check listener", |v| {
        let (addr, client, second) = (v.check, client.clone(), second.clone());
        async move {
            tls_get(addr, &client, "/healthz")
                .await
                .is_ok_and(|a| a.server_cert == second)
        }
    })
    .await;
    assert_eq!(v.served_cert(v.admin, &client).await, second);
    assert!(
        v.log_text().contains("TLS certificate reloaded"),
        "{}",
        v.log_text()
    );

    // A broken certificate file: the reload fails, is logged, and the last good one keeps serving.
    std::fs::write(
        dir.join("server.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64\n",
    )
    .unwrap();
    v.signal("HUP");
    v.wait_until("the failed reload to be logged", |v| {
        let log = v.log_text();
        async move { log.contains("TLS reload failed") }
    })
    .await;
    assert_eq!(v.served_cert(v.check, &client).await, second);
    assert_eq!(v.served_cert(v.admin, &client).await, second);
    // A key that does not match the certificate: refused the same way.
    replace_file(&dir.join("server2.crt"), &dir.join("server.crt"));
    replace_file(&dir.join("envoy.key"), &dir.join("server.key"));
    v.signal("HUP");
    v.wait_until("the second failed reload to be logged", |v| {
        let log = v.log_text();
        async move { log.matches("TLS reload failed").count() >= 2 }
    })
    .await;
    assert_eq!(v.served_cert(v.check, &client).await, second);
    v.assert_running();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_changed_file_is_picked_up_without_a_signal() {
    let dir = temp_dir("poll");
    make_pki(&dir);
    make_leaf(&dir, "ca", "server2", true);
    let redis = RedisServer::start();
    // Configured through the environment this time.
    let (cert, key) = (path_str(&dir, "server.crt"), path_str(&dir, "server.key"));
    let env = [
        ("WARDEN_TLS_CERT_FILE", cert.as_str()),
        ("WARDEN_TLS_KEY_FILE", key.as_str()),
        ("WARDEN_TLS_RELOAD_INTERVAL_SECONDS", "1"),
    ];
    let mut v = VerifierProcess::spawn(&dir, &redis.url(), &[], &env);
    let client = client_config(&dir.join("ca.crt"), None);
    v.wait_ready(&client).await;
    assert_eq!(
        v.served_cert(v.check, &client).await,
        der_of(&dir.join("server.crt"))
    );
    let second = der_of(&dir.join("server2.crt"));
    replace_file(&dir.join("server2.key"), &dir.join("server.key"));
    replace_file(&dir.join("server2.crt"), &dir.join("server.crt"));
    v.wait_until("the changed certificate to be served", |v| {
        let (addr, client, second) = (v.check, client.clone(), second.clone());
        async move {
            tls_get(addr, &client, "/healthz")
                .await
                .is_ok_and(|a| a.server_cert == second)
        }
    })
    .await;
    assert!(v.log_text().contains("file change"), "{}", v.log_text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_flags_are_checked_before_starting() {
    let dir = temp_dir("flags");
    make_pki(&dir);
    let p = |name: &str| path_str(&dir, name);

    let stderr = refused_start(&["--tls-cert-file", &p("server.crt")], &[]);
    assert!(stderr.contains("--tls-key-file"), "{stderr}");
    let stderr = refused_start(&[], &[("WARDEN_TLS_KEY_FILE", &p("server.key"))]);
    assert!(stderr.contains("--tls-cert-file"), "{stderr}");
    let stderr = refused_start(&["--client-ca-file", &p("ca.crt")], &[]);
    assert!(stderr.contains("--client-ca-file needs TLS"), "{stderr}");

    let stderr = refused_start(
        &[
            "--tls-cert-file",
            &p("missing.crt"),
            "--tls-key-file",
            &p("server.key"),
        ],
        &[],
    );
    assert!(stderr.contains("cannot read --tls-cert-file"), "{stderr}");
    let stderr = refused_start(
        &[
            "--tls-cert-file",
            &p("server.key"),
            "--tls-key-file",
            &p("server.key"),
        ],
        &[],
    );
    assert!(stderr.contains("no certificate"), "{stderr}");
    let stderr = refused_start(
        &[
            "--tls-cert-file",
            &p("server.crt"),
            "--tls-key-file",
            &p("server.crt"),
        ],
        &[],
    );
    assert!(stderr.contains("no usable private key"), "{stderr}");
    let stderr = refused_start(
        &[
            "--tls-cert-file",
            &p("server.crt"),
            "--tls-key-file",
            &p("envoy.key"),
        ],
        &[],
    );
    assert!(
        stderr.contains("--tls-cert-file") && stderr.contains("--tls-key-file"),
        "{stderr}"
    );
    let mut args = tls_flags(&dir);
    args.extend(["--client-ca-file".into(), p("server.key")]);
    let stderr = refused_start(&as_strs(&args), &[]);
    assert!(stderr.contains("--client-ca-file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn plaintext_admin_on_a_non_loopback_address_needs_consent() {
    let dir = temp_dir("exposed");
    make_pki(&dir);
    let exposed = format!("0.0.0.0:{}", free_port());

    let stderr = refused_start(&["--admin-listen", &exposed], &[]);
    assert!(
        stderr.contains("--allow-plaintext-admin") && stderr.contains(&exposed),
        "{stderr}"
    );
    // A false value is no consent.
    let stderr = refused_start(
        &["--admin-listen", &exposed],
        &[("WARDEN_ALLOW_PLAINTEXT_ADMIN", "false")],
    );
    assert!(stderr.contains("--allow-plaintext-admin"), "{stderr}");

    // Consent by flag or environment: it starts and serves plain HTTP there.
    type Env<'a> = &'a [(&'a str, &'a str)];
    let consents: [(&[&str], Env); 2] = [
        (&["--allow-plaintext-admin"], &[]),
        (&[], &[("WARDEN_ALLOW_PLAINTEXT_ADMIN", "true")]),
    ];
    for (flags, env) in consents {
        let listen = format!("0.0.0.0:{}", free_port());
        let mut v =
            VerifierProcess::spawn_with_admin(&dir, "redis://127.0.0.1:1", &listen, flags, env);
        let admin = v.admin;
        let healthy = move |_: &VerifierProcess| async move {
            TcpStream::connect(admin).await.is_ok()
                && common::request(admin, "GET", "/healthz", &[], b"")
                    .await
                    .status
                    == 200
        };
        v.wait_until("the plaintext admin listener", healthy).await;
        // Without TLS, SIGHUP has nothing to reload and leaves the service running.
        v.signal("HUP");
        v.wait_until("SIGHUP to be logged", |v| {
            let log = v.log_text();
            async move { log.contains("SIGHUP: no TLS files to reload") }
        })
        .await;
        v.wait_until("the admin listener after SIGHUP", healthy)
            .await;
    }

    // With TLS no consent is needed.
    let listen = format!("0.0.0.0:{}", free_port());
    let args = tls_flags(&dir);
    let mut v = VerifierProcess::spawn_with_admin(
        &dir,
        "redis://127.0.0.1:1",
        &listen,
        &as_strs(&args),
        &[],
    );
    v.wait_ready(&client_config(&dir.join("ca.crt"), None))
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_help_names_the_tls_flags_and_variables() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--tls-cert-file",
        "WARDEN_TLS_CERT_FILE",
        "--tls-key-file",
        "WARDEN_TLS_KEY_FILE",
        "--client-ca-file",
        "WARDEN_CLIENT_CA_FILE",
        "--allow-plaintext-admin",
        "WARDEN_ALLOW_PLAINTEXT_ADMIN",
        "--tls-reload-interval-seconds",
        "WARDEN_TLS_RELOAD_INTERVAL_SECONDS",
    ] {
        assert!(help.contains(needle), "`{needle}` missing:\n{help}");
    }
}
