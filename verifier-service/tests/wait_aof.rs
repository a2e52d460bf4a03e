//! `--wait-aof`: admin writes acknowledged only once fsynced (Redis `WAITAOF`, 7.2+). A server
//! that cannot do it (older than 7.2, or without AOF) makes the verifier refuse to start, and a
//! write it cannot confirm is never acknowledged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{unix_now, RedisServer, Verifier, ADMIN_TOKEN};
use serde_json::json;
use std::process::Command;
use std::time::Duration;
use tokio::net::TcpListener;
use warden_verifier::{AdminToken, AppState, Listeners, Settings, Store, StoreOptions};

const BIN: &str = env!("CARGO_BIN_EXE_warden-verifier");

/// (major, minor) of the server, from `INFO server`.
async fn redis_version(redis: &RedisServer) -> (u32, u32) {
    let mut connection = redis.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await
        .unwrap();
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .expect("redis_version");
    let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

fn store(redis: &RedisServer) -> Store {
    let options = StoreOptions {
        timeout: Duration::from_millis(500),
        min_replicas_ack: 0,
        replica_ack_timeout: Duration::from_millis(200),
    };
    Store::new(redis::Client::open(redis.url()).unwrap(), options)
        .unwrap()
        .with_wait_aof(true)
}

async fn serve(store: Store) -> Verifier {
    let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).unwrap();
    let state = AppState::new(store, token, Settings::default());
    let check = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Verifier::from_parts(Listeners { check, admin }, state)
}

#[test]
fn the_binary_refuses_wait_aof_when_redis_cannot_fsync_ack() {
    // AOF off: no Redis version can confirm an fsync, so the flag is refused at start.
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("warden-wait-aof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("admin-token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--redis-url", &redis.url(), "--wait-aof"])
        .arg("--admin-token-file")
        .arg(&token_file)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "started with --wait-aof");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--wait-aof"), "{stderr}");
    assert!(stderr.contains("WAITAOF"), "{stderr}");
}

#[tokio::test]
async fn wait_aof_matches_what_the_server_can_do() {
    let redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let version = redis_version(&redis).await;
    let store = store(&redis);
    let probe = store.probe_wait_aof().await;
    let v = serve(store).await;
    let revoke = json!({ "sub": "alice", "jti": "j1", "exp": unix_now() + 600 });
    let r = v.admin_post("/v1/admin/revoke/token", revoke).await;
    if version < (7, 2) {
        // Redis 7.0 has no WAITAOF: a clear refusal, and no write is ever acknowledged.
        let refusal = probe.unwrap_err();
        assert!(refusal.contains("7.2"), "{refusal}");
        r.assert_error(503, "unavailable");
    } else {
        assert_eq!(probe, Ok(true));
        assert_eq!(r.status, 200, "{}", r.text());
    }
}
