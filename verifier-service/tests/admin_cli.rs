//! `warden-verifier admin …` (the binary) against the real service on a real Redis: each
//! subcommand's effect seen through the API, `--output json` equal to the API's answer, the table's
//! key fields, and the exit codes (1 refused, 2 usage, 3 unreachable).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::{free_port, unix_now, RedisServer, Verifier, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

const BIN: &str = env!("CARGO_BIN_EXE_warden-verifier");

/// A temporary directory holding the admin token file.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new(name: &str) -> Files {
        let dir =
            std::env::temp_dir().join(format!("warden-admin-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
        Files { dir }
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn token_file(&self) -> String {
        self.dir.join("admin-token").to_str().unwrap().to_owned()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `admin <args>` against `v`'s admin listener.
async fn admin(v: &Verifier, files: &Files, args: &[&str]) -> Output {
    let url = format!("http://{}", v.admin);
    run(
        &[
            "--admin-url",
            &url,
            "--admin-token-file",
            &files.token_file(),
        ],
        args,
    )
    .await
}

/// Runs the binary off the runtime's thread, so the in-process verifier keeps serving.
async fn run(common: &[&str], args: &[&str]) -> Output {
    let mut command = std::process::Command::new(BIN);
    command
        .arg("admin")
        .args(common)
        .args(args)
        .env_remove("WARDEN_ADMIN_URL")
        .env_remove("WARDEN_ADMIN_TOKEN_FILE")
        .env_remove("WARDEN_ADMIN_CA_FILE")
        .env_remove("WARDEN_FEED_TOKEN_FILE")
        .env_remove("WARDEN_CHECK_URL");
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(
        code(out),
        0,
        "stdout {} stderr {}",
        stdout(out),
        stderr(out)
    );
    serde_json::from_str(&stdout(out)).unwrap()
}

fn ok_table(out: &Output) -> String {
    assert_eq!(
        code(out),
        0,
        "stdout {} stderr {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// A real access token of a new session of `sub`, and its claims.
async fn access_token(v: &Verifier, sub: &str) -> (String, Value) {
    let created = create_session(v, json!({ "sub": sub })).await;
    let token = created["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = decode(&token);
    (token, claims)
}

/// The fields of `claims` that `/v1/check` takes.
fn check_body(claims: &Value) -> Value {
    let mut body = serde_json::Map::new();
    for name in ["sub", "jti", "sid", "ver", "iat", "exp", "iss"] {
        if let Some(value) = claims.get(name) {
            body.insert(name.to_owned(), value.clone());
        }
    }
    Value::Object(body)
}

#[tokio::test]
async fn revoke_token_from_the_token_itself_and_by_names() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let files = Files::new("revoke-token");
    let (token, claims) = access_token(&v, "alice").await;
    v.check(check_body(&claims)).await.assert_allow("before");
    let path = files.write("token", &format!("{token}\n"));
    let answer = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "revoke-token", "--token-file", &path],
        )
        .await,
    );
    assert_eq!(
        answer,
        json!({
            "sub": "alice",
            "jti": claims["jti"],
            // Kept until the token's exp + the default skew (300 s): the exp was sent.
            "expires_at": claims["exp"].as_i64().unwrap() + 300
        }),
        "the names and exp read from the token"
    );
    v.check(check_body(&claims))
        .await
        .assert_deny("revoked", "after revoke-token");

    // By names, as a table.
    let table = ok_table(
        &admin(
            &v,
            &files,
            &["revoke-token", "--sub", "bob", "--jti", "j-bob"],
        )
        .await,
    );
    assert!(table.contains("sub") && table.contains("bob"), "{table}");
    assert!(table.contains("j-bob"), "{table}");
    v.check(json!({ "sub": "bob", "jti": "j-bob", "exp": unix_now() + 60 }))
        .await
        .assert_deny("revoked", "by names");

    // A token without jti is refused locally, with a message, and nothing is sent.
    let no_jti = format!(
        "{}.{}.sig",
        warden_core::b64::encode(br#"{"alg":"ES256"}"#),
        warden_core::b64::encode(br#"{"sub":"carol"}"#)
    );
    let out = admin(&v, &files, &["revoke-token", "--token", &no_jti]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no `sub` or no `jti`"),
        "{}",
        stderr(&out)
    );
    let out = admin(&v, &files, &["revoke-token"]).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--sub and --jti"), "{}", stderr(&out));
}

#[tokio::test]
async fn revoke_user_bumps_the_version() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let files = Files::new("revoke-user");
    let (_, claims) = access_token(&v, "alice").await;
    let answer = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "revoke-user", "--sub", "alice"],
        )
        .await,
    );
    assert!(answer["version"].as_u64().unwrap() >= 1, "{answer}");
    let check = v.check(check_body(&claims)).await.json();
    assert_eq!(check["allow"], false, "{check}");
    let table = ok_table(&admin(&v, &files, &["revoke-user", "--sub", "alice"]).await);
    assert!(table.starts_with("version"), "{table}");
}

#[tokio::test]
async fn sessions_lists_and_revoke_session_ends_a_warden_session() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let files = Files::new("sessions");
    let sid = v.new_session("alice").await;
    let out = admin(
        &v,
        &files,
        &["--output", "json", "sessions", "--sub", "alice"],
    )
    .await;
    let api = v.admin_get("/v1/admin/users/alice/sessions").await.json();
    assert_eq!(ok_json(&out), api, "json output is the API's answer");
    let table = ok_table(&admin(&v, &files, &["sessions", "--sub", "alice"]).await);
    assert!(table.contains("sessions:"), "{table}");
    assert!(table.contains(&sid), "{table}");

    let answer = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "revoke-session", "--sid", &sid],
        )
        .await,
    );
    assert_eq!(answer, json!({ "sid": sid, "ended": true }));
    let left = v.admin_get("/v1/admin/users/alice/sessions").await.json();
    assert!(!left.to_string().contains(&sid), "{left}");
    // Again: the API's 404, exit 1 with its message.
    let out = admin(&v, &files, &["revoke-session", "--sid", &sid]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("refused (404)"), "{}", stderr(&out));
}

#[tokio::test]
async fn revoke_session_of_an_unknown_identity_provider_is_refused_by_the_api() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let files = Files::new("idp-session");
    let out = admin(
        &v,
        &files,
        &[
            "revoke-session",
            "--iss",
            "https://idp.example",
            "--sid",
            "s1",
            "--exp",
            "0",
        ],
    )
    .await;
    assert_eq!(code(&out), 1, "{} {}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).starts_with("warden-verifier admin: refused (4"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn revoke_all_needs_yes() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let files = Files::new("revoke-all");
    let out = admin(&v, &files, &["revoke-all"]).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let iat = unix_now() - 10;
    v.check(json!({ "sub": "a", "jti": "j", "iat": iat, "exp": iat + 600 }))
        .await
        .assert_allow("nothing sent without --yes");

    let answer = ok_json(&admin(&v, &files, &["--output", "json", "revoke-all", "--yes"]).await);
    assert!(answer["not_before"].as_i64().unwrap() >= iat, "{answer}");
    v.check(json!({ "sub": "a", "jti": "j", "iat": iat, "exp": iat + 600 }))
        .await
        .assert_deny("revoked_all", "after revoke-all");
    let table = ok_table(&admin(&v, &files, &["revoke-all", "--yes"]).await);
    assert!(table.starts_with("not_before"), "{table}");
}

#[tokio::test]
async fn introspect_a_token_from_the_command_line_and_a_file() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let files = Files::new("introspect");
    let (token, claims) = access_token(&v, "alice").await;
    let answer = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "introspect", "--token", &token],
        )
        .await,
    );
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["jti"], claims["jti"]);
    let path = files.write("token", &token);
    let table = ok_table(&admin(&v, &files, &["introspect", "--token-file", &path]).await);
    assert!(
        table.contains("active") && table.contains("true"),
        "{table}"
    );
    let answer = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "introspect", "--token", "nonsense"],
        )
        .await,
    );
    assert_eq!(answer, json!({ "active": false }));
}

#[tokio::test]
async fn feed_shows_the_head_and_the_outbox() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let files = Files::new("feed");
    let check_url = format!("http://{}", v.check);
    let before = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "feed", "--check-url", &check_url],
        )
        .await,
    );
    assert_eq!(before["seq"], 0, "{before}");
    ok_table(&admin(&v, &files, &["revoke-token", "--sub", "a", "--jti", "j"]).await);
    ok_table(&admin(&v, &files, &["revoke-user", "--sub", "b"]).await);
    let after = ok_json(
        &admin(
            &v,
            &files,
            &["--output", "json", "feed", "--check-url", &check_url],
        )
        .await,
    );
    assert!(
        after["seq"].as_u64().unwrap() > before["seq"].as_u64().unwrap(),
        "{before} {after}"
    );
    assert!(after["id"].is_string(), "{after}");
    assert_eq!(after["outbox_pending"], 0, "{after}");
    let table = ok_table(&admin(&v, &files, &["feed", "--check-url", &check_url]).await);
    assert!(
        table.contains("seq") && table.contains("outbox_pending"),
        "{table}"
    );
}

#[tokio::test]
async fn a_wrong_admin_token_is_the_apis_refusal_and_no_verifier_is_exit_3() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let files = Files::new("errors");
    let wrong = files.write("wrong", "not-the-admin-token-0123456789");
    let url = format!("http://{}", v.admin);
    let out = run(
        &["--admin-url", &url, "--admin-token-file", &wrong],
        &["revoke-user", "--sub", "a"],
    )
    .await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("refused (401)"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(unauthorized)"),
        "the API's error: {}",
        stderr(&out)
    );

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = run(
        &[
            "--admin-url",
            &nowhere,
            "--admin-token-file",
            &files.token_file(),
        ],
        &["sessions", "--sub", "a"],
    )
    .await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("connect"), "{}", stderr(&out));

    let out = run(&["--admin-url", &url], &["sessions", "--sub", "a"]).await;
    assert_eq!(code(&out), 2, "no token file: {}", stderr(&out));
    assert!(
        stderr(&out).contains("--admin-token-file"),
        "{}",
        stderr(&out)
    );
}

#[cfg(feature = "tls")]
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the `openssl` command line tool is needed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA (`ca.crt`) and a server certificate for localhost signed by it (`server.crt`,
/// `server.key`).
#[cfg(feature = "tls")]
fn make_pki(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ca",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=server",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// The `serve` binary on TLS listeners; killed on drop.
#[cfg(feature = "tls")]
struct Served(std::process::Child);

#[cfg(feature = "tls")]
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn https_with_a_private_ca_file() {
    let redis = RedisServer::start();
    let files = Files::new("tls");
    make_pki(&files.dir);
    let (check_port, admin_port) = (free_port(), free_port());
    let log = std::fs::File::create(files.dir.join("serve.log")).unwrap();
    let _served = Served(
        std::process::Command::new(BIN)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{check_port}")])
            .args(["--admin-listen", &format!("127.0.0.1:{admin_port}")])
            .args(["--redis-url", &redis.url()])
            .args(["--admin-token-file", &files.token_file()])
            .arg("--tls-cert-file")
            .arg(files.dir.join("server.crt"))
            .arg("--tls-key-file")
            .arg(files.dir.join("server.key"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("https://localhost:{admin_port}");
    let ca = files.dir.join("ca.crt").to_str().unwrap().to_owned();
    let with_ca = [
        "--admin-url",
        url.as_str(),
        "--admin-token-file",
        &files.token_file(),
        "--ca-file",
        &ca,
    ];
    // Ready when the command itself gets through.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let out = run(
            &with_ca,
            &["--output", "json", "sessions", "--sub", "alice"],
        )
        .await;
        if code(&out) == 0 {
            assert_eq!(ok_json(&out)["sub"], "alice");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never answered: {}\n{}",
            stderr(&out),
            std::fs::read_to_string(files.dir.join("serve.log")).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let check_url = format!("https://localhost:{check_port}");
    let head = ok_json(
        &run(
            &with_ca,
            &["--output", "json", "feed", "--check-url", &check_url],
        )
        .await,
    );
    assert_eq!(head["seq"], 0, "{head}");
    // Without the CA file the public roots do not know the certificate: unreachable, exit 3.
    let out = run(
        &[
            "--admin-url",
            &url,
            "--admin-token-file",
            &files.token_file(),
        ],
        &["sessions", "--sub", "alice"],
    )
    .await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("tls"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_admin_token_in_clear_beyond_loopback_is_warned_about() {
    let files = Files::new("clear");
    // TEST-NET-1: nothing answers; the warning comes before the attempt.
    let out = run(
        &[
            "--admin-url",
            "http://192.0.2.1:8082",
            "--admin-token-file",
            &files.token_file(),
        ],
        &["--timeout-seconds", "1", "sessions", "--sub", "a"],
    )
    .await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: the admin token goes over plain http"),
        "{}",
        stderr(&out)
    );
}
