//! Redis going away and coming back: 503 while it is gone (never a 200 on doubt), normal answers
//! once it returns, without restarting the verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{eventually, request, unix_now, RedisServer, Verifier};
use serde_json::json;

#[tokio::test]
async fn redis_down_gives_503_and_recovery_needs_no_restart() {
    let mut redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let check = json!({ "sub": "alice", "jti": "j1", "iat": unix_now(), "exp": unix_now() + 600 });
    assert_eq!(
        v.check(check.clone()).await.json(),
        json!({ "allow": true })
    );

    redis.stop();
    // Several calls in a row: the first one finds the broken connection, the next ones the
    // reconnect attempts; none may answer 200.
    for _ in 0..3 {
        let r = v.check(check.clone()).await;
        r.assert_error(503, "unavailable");
        assert!(
            !r.text().to_lowercase().contains("connection refused"),
            "{}",
            r.text()
        );
    }
    // The per-second not-before cache must not turn an outage into an allow.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    v.check(check.clone())
        .await
        .assert_error(503, "unavailable");
    assert_eq!(
        request(v.check, "GET", "/readyz", &[], b"").await.status,
        503
    );
    assert_eq!(
        request(v.admin, "GET", "/readyz", &[], b"").await.status,
        503
    );
    assert_eq!(
        request(v.check, "GET", "/healthz", &[], b"").await.status,
        200
    );
    v.admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await
        .assert_error(503, "unavailable");
    v.admin_post("/v1/admin/sessions", json!({ "sub": "alice" }))
        .await
        .assert_error(503, "unavailable");
    v.admin_get("/v1/admin/users/alice/sessions")
        .await
        .assert_error(503, "unavailable");

    // Back on the same port (empty, and without the scripts loaded): answers resume.
    redis.restart();
    eventually("checks to succeed again", || {
        let v = &v;
        let check = check.clone();
        async move { v.check(check).await.status == 200 }
    })
    .await;
    assert_eq!(
        v.check(check.clone()).await.json(),
        json!({ "allow": true })
    );
    assert_eq!(
        request(v.check, "GET", "/readyz", &[], b"").await.status,
        200
    );
    // Every script works after Redis lost its script cache.
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.json(), json!({ "version": 1 }));
    assert_eq!(
        v.check(check).await.json(),
        json!({ "allow": false, "reason": "user_revoked" })
    );
    let sid = v.new_session("alice").await;
    let r = v.admin_get("/v1/admin/users/alice/sessions").await;
    assert_eq!(r.json()["sessions"][0]["sid"], sid.as_str());
    assert_eq!(
        v.admin_delete(&format!("/v1/admin/sessions/{sid}"))
            .await
            .status,
        204
    );
    assert_eq!(
        v.admin_post("/v1/admin/revoke/all", json!({})).await.status,
        200
    );

    let metrics = request(v.check, "GET", "/metrics", &[], b"").await.text();
    let unavailable = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_verifier_checks_total{outcome=\"unavailable\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(unavailable >= 4, "{metrics}");
    let redis_errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_verifier_redis_errors_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap();
    assert!(redis_errors >= 4, "{metrics}");
}

#[tokio::test]
async fn verifier_starts_while_redis_is_down() {
    let mut redis = RedisServer::start();
    redis.stop();
    let v = Verifier::start(&redis.url()).await;
    assert_eq!(
        request(v.check, "GET", "/healthz", &[], b"").await.status,
        200
    );
    assert_eq!(
        request(v.check, "GET", "/readyz", &[], b"").await.status,
        503
    );
    let check = json!({ "sub": "alice", "jti": "j1", "exp": unix_now() + 600 });
    v.check(check.clone())
        .await
        .assert_error(503, "unavailable");

    redis.restart();
    eventually("the verifier to reach redis", || {
        let v = &v;
        async move { request(v.check, "GET", "/readyz", &[], b"").await.status == 200 }
    })
    .await;
    assert_eq!(v.check(check).await.json(), json!({ "allow": true }));
}
