//! The admin API, its auth, the route split between listeners, and the operational routes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, unix_now, RedisServer, Verifier, ADMIN_TOKEN};
use serde_json::json;
use std::time::Duration;
use warden_verifier::{Settings, StoreOptions};

/// Every admin route with a body that would succeed.
fn admin_routes() -> Vec<(&'static str, String, Vec<u8>)> {
    let sid = warden_verifier::store::sid::new_sid(&warden_verifier::store::keys::UserTag::of_sub(
        "alice",
    ))
    .unwrap();
    vec![
        (
            "POST",
            "/v1/admin/revoke/token".into(),
            br#"{"sub":"alice","jti":"j1","exp":4000000000}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/admin/revoke/user".into(),
            br#"{"sub":"alice"}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/admin/sessions".into(),
            br#"{"sub":"alice"}"#.to_vec(),
        ),
        ("GET", "/v1/admin/users/alice/sessions".into(), vec![]),
        ("DELETE", format!("/v1/admin/sessions/{sid}"), vec![]),
        ("POST", "/v1/admin/revoke/all".into(), vec![]),
    ]
}

#[tokio::test]
async fn admin_routes_need_the_bearer_token() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let wrong = [
        None,
        Some("Bearer wrong-token-0123456789".to_owned()),
        Some(format!("Bearer {ADMIN_TOKEN}x")),
        Some(format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1])),
        Some(format!("Basic {ADMIN_TOKEN}")),
        Some(ADMIN_TOKEN.to_owned()),
        Some("Bearer ".to_owned()),
    ];
    for (method, path, body) in admin_routes() {
        for auth in &wrong {
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let r = request(v.admin, method, &path, &headers, &body).await;
            r.assert_error(401, "unauthorized");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"warden-admin\"")
            );
        }
    }
    // Nothing was written by the refused calls.
    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut conn, "*").await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    for (method, path, body) in admin_routes() {
        let auth = format!("bearer {ADMIN_TOKEN}");
        let r = request(v.admin, method, &path, &[("authorization", &auth)], &body).await;
        assert!(
            [200, 201, 204, 404].contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.text()
        );
    }
    let metrics = request(v.admin, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains(&format!(
            "warden_verifier_admin_unauthorized_total {}",
            6 * wrong.len()
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn routes_live_on_their_own_listener() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let check = br#"{"sub":"alice","jti":"j1","exp":0}"#;
    request(v.admin, "POST", "/v1/check", &[], check)
        .await
        .assert_error(404, "not_found");
    let auth = format!("Bearer {ADMIN_TOKEN}");
    for (method, path, body) in admin_routes() {
        let r = request(v.check, method, &path, &[("authorization", &auth)], &body).await;
        r.assert_error(404, "not_found");
    }
    request(v.check, "GET", "/nope", &[], b"")
        .await
        .assert_error(404, "not_found");
    request(v.check, "GET", "/v1/check", &[], b"")
        .await
        .assert_error(405, "method_not_allowed");
    request(
        v.admin,
        "GET",
        "/v1/admin/revoke/all",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn admin_input_is_validated() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let long = "a".repeat(257);
    let cases = [
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": -1 }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "exp": 9 }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": "9" }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": -1 }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": 9_000_000_000_000_i64 }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "", "jti": "j1", "exp": 9 }),
        ),
        (
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": long, "exp": 9 }),
        ),
        ("/v1/admin/revoke/user", json!({})),
        ("/v1/admin/revoke/user", json!({ "sub": long })),
        (
            "/v1/admin/revoke/user",
            json!({ "sub": "alice", "extra": true }),
        ),
        ("/v1/admin/sessions", json!({ "device": "x" })),
        (
            "/v1/admin/sessions",
            json!({ "sub": "alice", "ttl_seconds": 0 }),
        ),
        (
            "/v1/admin/sessions",
            json!({ "sub": "alice", "ttl_seconds": -5 }),
        ),
        (
            "/v1/admin/sessions",
            json!({ "sub": "alice", "ttl_seconds": 30 * 86_400 + 1 }),
        ),
        (
            "/v1/admin/sessions",
            json!({ "sub": "alice", "device": "d".repeat(257) }),
        ),
        ("/v1/admin/sessions", json!({ "sub": "alice", "device": 5 })),
    ];
    for (path, body) in cases {
        let r = v.admin_post(path, body.clone()).await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text());
        r.assert_error(400, "bad_request");
    }
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let r = request(
        v.admin,
        "POST",
        "/v1/admin/revoke/user",
        &[("authorization", &auth)],
        b"\xff\xfe",
    )
    .await;
    r.assert_error(400, "bad_request");
    v.admin_get(&format!("/v1/admin/users/{long}/sessions"))
        .await
        .assert_error(400, "bad_request");
    v.admin_get("/v1/admin/users/%FF/sessions")
        .await
        .assert_error(400, "bad_request");
    v.admin_delete(&format!("/v1/admin/sessions/{long}"))
        .await
        .assert_error(400, "bad_request");
    // The longest accepted session lifetime is accepted.
    let r = v
        .admin_post(
            "/v1/admin/sessions",
            json!({ "sub": "alice", "ttl_seconds": 30 * 86_400 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn health_ready_and_metrics_on_both_listeners() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    for addr in [v.check, v.admin] {
        let r = request(addr, "GET", "/healthz", &[], b"").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json(), json!({ "status": "ok" }));
        let r = request(addr, "GET", "/readyz", &[], b"").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["status"], "ready");
        let r = request(addr, "GET", "/metrics", &[], b"").await;
        assert_eq!(r.status, 200);
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        assert!(r
            .text()
            .contains("# TYPE warden_verifier_checks_total counter"));
    }

    assert_eq!(
        v.check(json!({ "sub": "a", "jti": "j", "exp": 0 }))
            .await
            .status,
        200
    );
    v.admin_post(
        "/v1/admin/revoke/token",
        json!({ "sub": "a", "jti": "j", "exp": unix_now() + 60 }),
    )
    .await;
    assert_eq!(
        v.check(json!({ "sub": "a", "jti": "j", "exp": 0 }))
            .await
            .json()["reason"],
        "revoked"
    );
    assert_eq!(
        request(v.check, "POST", "/v1/check", &[], b"{")
            .await
            .status,
        400
    );

    let text = request(v.check, "GET", "/metrics", &[], b"").await.text();
    for line in [
        "warden_verifier_checks_total{outcome=\"allow\"} 1",
        "warden_verifier_checks_total{outcome=\"deny\",reason=\"revoked\"} 1",
        "warden_verifier_checks_total{outcome=\"deny\",reason=\"stale_version\"} 0",
        "warden_verifier_checks_total{outcome=\"invalid\"} 1",
        "warden_verifier_checks_total{outcome=\"unavailable\"} 0",
        "warden_verifier_check_duration_seconds_count 2",
        "warden_verifier_check_duration_seconds_bucket{le=\"+Inf\"} 2",
        "warden_verifier_redis_errors_total 0",
        "warden_verifier_admin_actions_total{action=\"revoke_token\",result=\"ok\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
}

#[tokio::test]
async fn min_replicas_ack_waits_for_replicas() {
    let primary = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
    let options = StoreOptions {
        min_replicas_ack: 1,
        ..common::test_store_options()
    };
    let v = Verifier::start_with(&primary.url(), options, Settings::default()).await;

    // No replica: the feed entry (written first) reaches the primary but is not acknowledged →
    // 503, and the revocation itself is not made.
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    r.assert_error(503, "replication_timeout");
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    r.assert_error(503, "replication_timeout");

    // With a real replica in sync, writes are acknowledged.
    let port = primary.port.to_string();
    let _replica = common::RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    let conn = primary.connection().await;
    common::eventually("the replica to sync", || {
        let mut conn = conn.clone();
        async move {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .unwrap();
            info.contains("connected_slaves:1") && info.contains("state=online")
        }
    })
    .await;
    let replica_conn = _replica.connection().await;
    common::eventually("the replica's link to be up", || {
        let mut conn = replica_conn.clone();
        async move {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut conn)
                .await
                .unwrap();
            info.contains("master_link_status:up")
        }
    })
    .await;
    // A generous WAIT bound for the positive case: a busy machine must not make it flaky.
    let options = StoreOptions {
        min_replicas_ack: 1,
        replica_ack_timeout: Duration::from_secs(10),
        ..common::test_store_options()
    };
    let v = Verifier::start_with(&primary.url(), options, Settings::default()).await;
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "version": 1 }));
    let r = v
        .admin_post("/v1/admin/sessions", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
}

#[tokio::test]
async fn redis_acl_user_and_password() {
    let redis = RedisServer::start_with(&[
        "--user",
        "warden",
        "on",
        ">s3cret-pw",
        "~*",
        "&*",
        "+@all",
        "--user",
        "default",
        "off",
    ]);
    let v = Verifier::start(&format!(
        "redis://warden:s3cret-pw@127.0.0.1:{}",
        redis.port
    ))
    .await;
    assert_eq!(
        request(v.check, "GET", "/readyz", &[], b"").await.status,
        200
    );
    assert_eq!(
        v.check(json!({ "sub": "a", "jti": "j", "exp": 0 }))
            .await
            .json(),
        json!({ "allow": true })
    );

    let bad = Verifier::start(&format!("redis://warden:wrong@127.0.0.1:{}", redis.port)).await;
    let r = request(bad.check, "GET", "/readyz", &[], b"").await;
    assert_eq!(r.status, 503);
    bad.check(json!({ "sub": "a", "jti": "j", "exp": 0 }))
        .await
        .assert_error(503, "unavailable");
}

#[tokio::test]
async fn graceful_shutdown_stops_both_listeners() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let (check, admin) = (v.check, v.admin);
    assert_eq!(
        request(check, "GET", "/healthz", &[], b"").await.status,
        200
    );
    tokio::time::timeout(Duration::from_secs(30), v.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(check).await.is_err());
    assert!(tokio::net::TcpStream::connect(admin).await.is_err());
}

#[tokio::test]
async fn shutdown_drains_a_request_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let check_addr = v.check;
    let body = br#"{"sub":"alice","jti":"j1","exp":0}"#;
    let (first, rest) = body.split_at(10);

    // A request whose body is only half sent when shutdown begins.
    let mut stream = tokio::net::TcpStream::connect(check_addr).await.unwrap();
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    // Let the server read the head, so the request is in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shutdown = tokio::spawn(v.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // No new connections once shutdown has begun.
    assert!(tokio::net::TcpStream::connect(check_addr).await.is_err());
    assert!(
        !shutdown.is_finished(),
        "run returned before the request in flight was answered"
    );

    stream.write_all(rest).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"allow":true}"#), "{answer}");
    tokio::time::timeout(Duration::from_secs(30), shutdown)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
