//! The binary: `keygen` → `mint` round trips checked with the public JWKS; `serve`'s flags,
//! environment variables and refusals; `serve` with signing keys: the issuer flags and their
//! `WARDEN_*` variables, the refusals (HS256, short RSA, no issuer or audience, a cookie name
//! without `__Host-`), and the served JWKS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, RedisServer, ADMIN_TOKEN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use warden_testkit::verify::{verify_signature, verify_token};
use warden_testkit::Algorithm;

const BIN: &str = env!("CARGO_BIN_EXE_warden-verifier");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run warden-verifier")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("warden-verifier-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks `token`'s signature with the single key of `jwks`, independently of the minting code.
fn verify(token: &str, jwks: &Value) -> (Value, Value) {
    let key = &jwks["keys"][0];
    let (header, claims) =
        verify_token(token, key).unwrap_or_else(|e| panic!("{token} under {key}: {e}"));
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], key["alg"]);
    let alg = Algorithm::from_name(header["alg"].as_str().unwrap()).unwrap();
    let signature = warden_testkit::unb64(token.rsplit('.').next().unwrap());
    assert!(verify_signature(key, alg, b"other", &signature).is_err());
    match alg {
        Algorithm::RS256 => {
            assert_eq!(warden_testkit::unb64(key["n"].as_str().unwrap()).len(), 256)
        }
        Algorithm::HS256 => assert!(warden_testkit::unb64(key["k"].as_str().unwrap()).len() >= 32),
        _ => {}
    }
    (header, claims)
}

#[test]
fn keygen_and_mint_round_trip_for_every_algorithm() {
    let dir = temp_dir("roundtrip");
    for (alg, kty) in [
        ("ES256", "EC"),
        ("EdDSA", "OKP"),
        ("RS256", "RSA"),
        ("HS256", "oct"),
    ] {
        let private = dir.join(format!("{alg}.jwk"));
        let jwks_path = dir.join(format!("{alg}.jwks.json"));
        let out = run(&[
            "keygen",
            "--alg",
            alg,
            "--private-out",
            private.to_str().unwrap(),
            "--jwks-out",
            jwks_path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let jwk = read_json(&private);
        let jwks = read_json(&jwks_path);
        assert_eq!(jwk["kty"], kty);
        assert_eq!(jwk["alg"], alg);
        assert_eq!(jwk["use"], "sig");
        let public = &jwks["keys"][0];
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(public["kid"], jwk["kid"]);
        assert_eq!(public["alg"], alg);
        assert_eq!(public["use"], "sig");
        for private_member in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                public.get(private_member).is_none(),
                "{alg}: public JWKS leaks `{private_member}`"
            );
        }
        if kty != "oct" {
            assert!(jwk.get("d").is_some());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{alg}: private key readable by others ({mode:o})"
            );
        }

        let out = run(&[
            "mint",
            "--key",
            private.to_str().unwrap(),
            "--sub",
            "alice",
            "--iss",
            "https://idp",
            "--aud",
            "api",
            "--sid",
            "s1",
            "--ver",
            "3",
            "--ttl",
            "120",
            "--jti",
            "j-1",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap();
        let token = token.trim_end();
        let (header, claims) = verify(token, &jwks);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], "https://idp");
        assert_eq!(claims["aud"], "api");
        assert_eq!(claims["sid"], "s1");
        assert_eq!(claims["ver"], 3);
        assert_eq!(claims["jti"], "j-1");
        let iat = claims["iat"].as_i64().unwrap();
        assert!((common::unix_now() - 60..=common::unix_now()).contains(&iat));
        assert_eq!(claims["exp"].as_i64().unwrap(), iat + 120);

        // A token signed by this key does not verify under another key of the same kind.
        let other_private = dir.join(format!("{alg}-other.jwk"));
        let other_jwks = dir.join(format!("{alg}-other.jwks.json"));
        let out = run(&[
            "keygen",
            "--alg",
            alg,
            "--kid",
            "other",
            "--private-out",
            other_private.to_str().unwrap(),
            "--jwks-out",
            other_jwks.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        assert_eq!(read_json(&other_jwks)["keys"][0]["kid"], "other");
        let mut other = read_json(&other_jwks);
        other["keys"][0]["kid"] = jwk["kid"].clone();
        let outcome = std::panic::catch_unwind(|| verify(token, &other));
        assert!(outcome.is_err(), "{alg}: verified under the wrong key");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mint_defaults_and_options() {
    let dir = temp_dir("mint");
    let private = dir.join("k.jwk");
    let jwks_path = dir.join("k.json");
    let out = run(&[
        "keygen",
        "--alg",
        "EdDSA",
        "--kid",
        "demo-1",
        "--private-out",
        private.to_str().unwrap(),
        "--jwks-out",
        jwks_path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let jwks = read_json(&jwks_path);
    let mint = |extra: &[&str]| {
        let mut args = vec!["mint", "--key", private.to_str().unwrap(), "--sub", "bob"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap();
        verify(token.trim_end(), &jwks)
    };

    let (header, first) = mint(&[]);
    assert_eq!(header["kid"], "demo-1");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    let (header, _) = mint(&["--typ", "at+jwt"]);
    assert_eq!(
        header["typ"], "at+jwt",
        "an access token of the verifier's kind"
    );
    let (_, second) = mint(&[]);
    assert_eq!(
        first["exp"].as_i64().unwrap() - first["iat"].as_i64().unwrap(),
        3600
    );
    assert!(first["jti"].as_str().unwrap().len() >= 16);
    assert_ne!(first["jti"], second["jti"], "jti must be random by default");
    for absent in ["iss", "aud", "sid", "ver"] {
        assert!(first.get(absent).is_none(), "{absent}");
    }

    let (_, claims) = mint(&[
        "--ttl",
        "-30",
        "--iat",
        "1000",
        "--claim",
        "roles=[\"admin\"]",
        "--claim",
        "email=bob@example.com",
        "--omit",
        "jti",
    ]);
    assert_eq!(claims["iat"], 1000);
    assert_eq!(claims["exp"], 970);
    assert_eq!(claims["roles"], serde_json::json!(["admin"]));
    assert_eq!(claims["email"], "bob@example.com");
    assert!(claims.get("jti").is_none());

    let out = run(&[
        "mint",
        "--key",
        dir.join("missing.jwk").to_str().unwrap(),
        "--sub",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the key file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_refuses_to_start_without_a_usable_admin_token() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env_remove("WARDEN_ADMIN_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no admin token") && stderr.contains("--admin-token-file"),
        "{stderr}"
    );

    let dir = temp_dir("serve-refuse");
    let weak = dir.join("weak");
    std::fs::write(&weak, "short\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .env("WARDEN_ADMIN_TOKEN_FILE", &weak)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 16"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = Command::new(BIN)
        .args([
            "serve",
            "--admin-token-file",
            dir.join("nope").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the admin token file"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_refuses_an_unusable_otlp_endpoint() {
    for endpoint in ["collector:4318", "http://c:4318?x=1"] {
        let out = Command::new(BIN)
            .args(["serve", "--otlp-endpoint", endpoint])
            .env_remove("WARDEN_ADMIN_TOKEN_FILE")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--otlp-endpoint") && stderr.contains("http://otel-collector:4318"),
            "{stderr}"
        );
    }
    let out = run(&["serve", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--otlp-endpoint",
        "WARDEN_OTLP_ENDPOINT",
        "--otlp-service-name",
        "WARDEN_OTLP_SERVICE_NAME",
        "--log-format",
    ] {
        assert!(help.contains(needle), "`{needle}` missing:\n{help}");
    }
}

#[test]
fn serve_help_documents_flags_and_environment() {
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "WARDEN_LISTEN",
        "127.0.0.1:8081",
        "--admin-listen",
        "WARDEN_ADMIN_LISTEN",
        "127.0.0.1:8082",
        "--redis-url",
        "WARDEN_REDIS_URL",
        "redis://127.0.0.1:6379",
        "--admin-token-file",
        "WARDEN_ADMIN_TOKEN_FILE",
        "--min-replicas-ack",
    ] {
        assert!(
            help.contains(needle),
            "`{needle}` missing from serve --help:\n{help}"
        );
    }
}

/// The real binary, configured through environment variables only: serves, answers, and exits 0
/// on SIGTERM.
#[cfg(unix)]
#[tokio::test]
async fn serve_binary_from_environment_and_sigterm() {
    let redis = common::RedisServer::start();
    let dir = temp_dir("serve-env");
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, format!("{}\n", common::ADMIN_TOKEN)).unwrap();
    let (check_port, admin_port) = (common::free_port(), common::free_port());
    let child = Command::new(BIN)
        .arg("serve")
        .env("WARDEN_LISTEN", format!("127.0.0.1:{check_port}"))
        .env("WARDEN_ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
        .env("WARDEN_REDIS_URL", redis.url())
        .env("WARDEN_ADMIN_TOKEN_FILE", &token_file)
        .env("WARDEN_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let check_addr: std::net::SocketAddr = format!("127.0.0.1:{check_port}").parse().unwrap();
    let admin_addr: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    common::eventually("the verifier binary to be ready", || async move {
        tokio::net::TcpStream::connect(admin_addr).await.is_ok()
            && common::request(check_addr, "GET", "/readyz", &[], b"")
                .await
                .status
                == 200
    })
    .await;
    let body = serde_json::json!({ "sub": "a", "jti": "j", "exp": 0 });
    let r = common::post_json(check_addr, "/v1/check", &body, None).await;
    assert_eq!(r.json(), serde_json::json!({ "allow": true }));
    let r = common::post_json(
        admin_addr,
        "/v1/admin/revoke/all",
        &serde_json::json!({}),
        Some(common::ADMIN_TOKEN),
    )
    .await;
    assert_eq!(r.status, 200);

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "exit {:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"warden-verifier listening"), "{logs}");
    assert!(messages.contains(&"stopped"), "{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default (pure Rust) build says clearly that `rediss://` needs the `tls` feature.
#[cfg(not(feature = "tls"))]
#[test]
fn rediss_without_the_tls_feature_is_a_clear_error() {
    let dir = temp_dir("no-tls");
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, common::ADMIN_TOKEN).unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--redis-url",
            "rediss://user:secret-pw@localhost:6380",
        ])
        .arg("--admin-token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--features tls"), "{stderr}");
    assert!(!stderr.contains("secret-pw"), "password leaked: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
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
    let dir = temp_dir("issuer-refuse");
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
    let dir = temp_dir("issuer-env");
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
    let dir = temp_dir("issuer-proxy-warning");
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

#[test]
fn serve_refuses_a_bad_identity_providers_file_naming_the_field() {
    let dir = temp_dir("idp-refuse");
    let file = dir.join("providers.json");
    for (text, field) in [
        (
            r#"{"providers": [{"name": "corp", "issuer": "https://idp.example", "client_ids": ["api"]}]}"#,
            "providers[0].jwks_uri",
        ),
        (
            r#"{"providers": [{"name": "corp", "issuer": "https://idp.example", "jwks_uri": "https://idp.example/k", "client_ids": []}]}"#,
            "providers[0].client_ids",
        ),
        (r#"{"providers": [{"nme": "corp"}]}"#, "nme"),
        ("not json", "--identity-providers"),
    ] {
        std::fs::write(&file, text).unwrap();
        // By flag and by environment variable alike.
        let by_flag = refused(serve(
            &dir,
            &["--identity-providers", file.to_str().unwrap()],
            &[],
        ));
        assert!(
            by_flag.contains(field) && by_flag.contains("--identity-providers"),
            "{text}: {by_flag}"
        );
        let by_env = refused(serve(
            &dir,
            &[],
            &[("WARDEN_IDENTITY_PROVIDERS", file.display().to_string())],
        ));
        assert!(by_env.contains(field), "{text}: {by_env}");
    }
    let missing = refused(serve(
        &dir,
        &[
            "--identity-providers",
            dir.join("absent.json").to_str().unwrap(),
        ],
        &[],
    ));
    assert!(missing.contains("cannot read"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
