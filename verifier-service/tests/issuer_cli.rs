//! `serve` with signing keys: the flags and their `WARDEN_*` variables, the refusals (HS256, short
//! RSA, no issuer or audience, a cookie name without `__Host-`), and the served JWKS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, RedisServer, ADMIN_TOKEN};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_warden-verifier");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "warden-verifier-issuer-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn keygen(dir: &Path, alg: &str, name: &str) -> PathBuf {
    let private = dir.join(format!("{name}.jwk"));
    let out = Command::new(BIN)
        .args(["keygen", "--alg", alg, "--private-out"])
        .arg(&private)
        .arg("--jwks-out")
        .arg(dir.join(format!("{name}.jwks.json")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    private
}

fn serve(dir: &Path, args: &[&str], envs: &[(&str, String)]) -> Command {
    let token = dir.join("admin-token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--admin-token-file"])
        .arg(&token)
        .args(args)
        .env_remove("WARDEN_SIGNING_KEY_FILE")
        .env_remove("WARDEN_ISSUER")
        .env_remove("WARDEN_AUDIENCE");
    for (name, value) in envs {
        command.env(name, value);
    }
    command
}

fn refused(mut command: Command) -> String {
    let out = command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_refuses_unusable_issuer_settings() {
    let dir = temp_dir("refuse");
    let es = keygen(&dir, "ES256", "es");
    let hs = keygen(&dir, "HS256", "hs");
    let es = es.to_str().unwrap();

    let stderr = refused(serve(
        &dir,
        &[
            "--signing-key-file",
            hs.to_str().unwrap(),
            "--issuer",
            "i",
            "--audience",
            "a",
        ],
        &[],
    ));
    assert!(stderr.contains("HS256"), "{stderr}");
    let stderr = refused(serve(
        &dir,
        &["--signing-key-file", es, "--audience", "a"],
        &[],
    ));
    assert!(stderr.contains("--issuer"), "{stderr}");
    let stderr = refused(serve(
        &dir,
        &["--signing-key-file", es, "--issuer", "i"],
        &[],
    ));
    assert!(stderr.contains("--audience"), "{stderr}");
    let stderr = refused(serve(&dir, &["--issuer", "i"], &[]));
    assert!(stderr.contains("--signing-key-file"), "{stderr}");
    let stderr = refused(serve(
        &dir,
        &[
            "--signing-key-file",
            es,
            "--issuer",
            "i",
            "--audience",
            "a",
            "--refresh-cookie",
            "rt",
        ],
        &[],
    ));
    assert!(stderr.contains("__Host-"), "{stderr}");
    let stderr = refused(serve(
        &dir,
        &[
            "--signing-key-file",
            es,
            "--signing-key-file",
            es,
            "--issuer",
            "i",
            "--audience",
            "a",
        ],
        &[],
    ));
    assert!(stderr.contains("twice"), "{stderr}");
    let stderr = refused(serve(&dir, &["--trusted-proxy", "10.0.0.0/33"], &[]));
    assert!(stderr.contains("10.0.0.0/33"), "{stderr}");
    // A short RSA key (hand-made: keygen makes 2048 bits).
    let mut rsa: serde_json::Value =
        warden_testkit::keys().private_jwk(warden_testkit::Algorithm::RS256);
    rsa["n"] = serde_json::json!(warden_testkit::b64(&[0xc5; 128]));
    let short = dir.join("short.jwk");
    std::fs::write(&short, rsa.to_string()).unwrap();
    let stderr = refused(serve(
        &dir,
        &[
            "--signing-key-file",
            short.to_str().unwrap(),
            "--issuer",
            "i",
            "--audience",
            "a",
        ],
        &[],
    ));
    assert!(stderr.contains("2048"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn environment_variables_configure_the_issuer() {
    let redis = RedisServer::start();
    let dir = temp_dir("env");
    let first = keygen(&dir, "EdDSA", "first");
    let second = keygen(&dir, "RS256", "second");
    let (check, admin) = (common::free_port(), common::free_port());
    let envs = [
        (
            "WARDEN_SIGNING_KEY_FILE",
            format!("{},{}", first.display(), second.display()),
        ),
        ("WARDEN_ISSUER", "https://env.test".to_owned()),
        ("WARDEN_AUDIENCE", "one,two".to_owned()),
        ("WARDEN_ACCESS_TTL_SECONDS", "120".to_owned()),
        ("WARDEN_REFRESH_COOKIE", "__Host-rt".to_owned()),
    ];
    let mut command = serve(&dir, &[], &envs);
    command
        .args(["--listen", &format!("127.0.0.1:{check}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--redis-url", &redis.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _running = Running(command.spawn().unwrap());
    let check: std::net::SocketAddr = format!("127.0.0.1:{check}").parse().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin}").parse().unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    let jwks = loop {
        if tokio::net::TcpStream::connect(check).await.is_ok() {
            let r = request(check, "GET", "/.well-known/jwks.json", &[], b"").await;
            if r.status == 200 {
                break r.json();
            }
        }
        assert!(Instant::now() < deadline, "verifier did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[1]["alg"], "RS256");
    let created = common::post_json(
        admin,
        "/v1/admin/sessions",
        &serde_json::json!({"sub": "env-user"}),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let body = created.json();
    assert_eq!(body["expires_in"], 120);
    assert!(body["set_cookie"]
        .as_str()
        .unwrap()
        .starts_with("__Host-rt="));
    let token = body["access_token"].as_str().unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&warden_testkit::unb64(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["iss"], "https://env.test");
    assert_eq!(claims["aud"], serde_json::json!(["one", "two"]));
    let header: serde_json::Value =
        serde_json::from_slice(&warden_testkit::unb64(token.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], keys[0]["kid"], "the first key signs");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `serve` with a signing key and `extra`, waits until it answers, and returns its log.
async fn started_log(
    redis: &RedisServer,
    dir: &Path,
    extra: &[&str],
) -> (String, serde_json::Value) {
    let (check, admin) = (common::free_port(), common::free_port());
    let key = keygen(dir, "ES256", &format!("key-{check}"));
    let log = dir.join(format!("serve-{check}.log"));
    let mut command = serve(dir, &[], &[]);
    command
        .arg("--signing-key-file")
        .arg(&key)
        .args(["--issuer", "https://i.test", "--audience", "api.test"])
        .args(extra)
        .args(["--listen", &format!("127.0.0.1:{check}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        .args(["--redis-url", &redis.url()])
        .env_remove("WARDEN_TRUSTED_PROXY")
        .env_remove("WARDEN_CLIENT_ID")
        .env("WARDEN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let _running = Running(command.spawn().unwrap());
    let check: std::net::SocketAddr = format!("127.0.0.1:{check}").parse().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin}").parse().unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    while !(tokio::net::TcpStream::connect(check).await.is_ok()
        && request(check, "GET", "/readyz", &[], b"").await.status == 200)
    {
        assert!(Instant::now() < deadline, "verifier did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let created = common::post_json(
        admin,
        "/v1/admin/sessions",
        &serde_json::json!({"sub": "u"}),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let token = created.json()["access_token"].as_str().unwrap().to_owned();
    let claims: serde_json::Value =
        serde_json::from_slice(&warden_testkit::unb64(token.split('.').nth(1).unwrap())).unwrap();
    (std::fs::read_to_string(&log).unwrap(), claims)
}

/// Finding 9: with the token routes on and no `--trusted-proxy`, every client behind a proxy
/// shares its refresh budget: the verifier says so at start. `--client-id` sets the claim.
#[tokio::test]
async fn serve_warns_without_a_trusted_proxy_and_sets_client_id() {
    let redis = RedisServer::start();
    let dir = temp_dir("proxy-warning");
    let (log, claims) = started_log(&redis, &dir, &[]).await;
    assert!(log.contains("no --trusted-proxy"), "{log}");
    assert_eq!(
        claims["client_id"], "api.test",
        "the one audience by default"
    );
    let (log, claims) = started_log(
        &redis,
        &dir,
        &["--trusted-proxy", "127.0.0.1/32", "--client-id", "web-app"],
    )
    .await;
    assert!(!log.contains("no --trusted-proxy"), "{log}");
    assert_eq!(claims["client_id"], "web-app");
    let _ = std::fs::remove_dir_all(&dir);
}
