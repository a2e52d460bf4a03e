//! `POST /v1/check` against a real redis-server: every reason, the key layout, input limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, unix_now, RedisServer, Verifier};
use redis::AsyncCommands;
use serde_json::json;
use warden_verifier::store::keys::UserTag;

fn token(sub: &str, jti: &str) -> serde_json::Value {
    json!({ "sub": sub, "jti": jti, "iat": unix_now(), "exp": unix_now() + 600 })
}

#[tokio::test]
async fn fresh_token_is_allowed_and_needs_no_state() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    v.check(token("alice", "j1")).await.assert_allow("");
    // Optional fields absent, extra `iss` present: still fine.
    v.check(json!({ "sub": "alice", "jti": "j2", "exp": 0, "iss": "https://idp" }))
        .await
        .assert_allow("");
    // A check writes nothing when there is no session to touch.
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys("*").await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[tokio::test]
async fn revoked_jti_is_denied_only_for_that_user_and_jti() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let exp = unix_now() + 600;
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": exp }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["expires_at"], exp + 300);

    v.check(token("alice", "j1"))
        .await
        .assert_deny("revoked", "");
    v.check(token("alice", "j2")).await.assert_allow("");
    v.check(token("bob", "j1")).await.assert_allow("");
}

#[tokio::test]
async fn revocation_key_has_a_bounded_ttl_in_the_users_slot() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let exp = unix_now() + 100;
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": exp }),
        )
        .await;
    assert_eq!(r.status, 200);

    let key = UserTag::of_sub("alice").revoked_jti_key("j1");
    assert!(key.starts_with(&format!(
        "warden:{{{}}}:jti:",
        UserTag::of_sub("alice").as_str()
    )));
    let mut conn = redis.connection().await;
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    // Present (not -2), expiring (not -1), and no later than exp + skew.
    assert!(ttl > 0 && ttl <= 100 + 300, "ttl {ttl}");
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, exp + 300);

    // Already past exp + skew: refused (every check refuses that token), nothing stored.
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "old", "exp": unix_now() - 1000 }),
        )
        .await;
    assert_eq!(r.status, 400);
    let exists: bool = conn
        .exists(UserTag::of_sub("alice").revoked_jti_key("old"))
        .await
        .unwrap();
    assert!(!exists);
}

#[tokio::test]
async fn revoke_user_bumps_the_version() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let issued = token("alice", "j1");
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({ "version": 1 }));

    // Without `ver`: judged by the user's not-before (tests/foreign_tokens.rs).
    v.check(issued.clone())
        .await
        .assert_deny("user_revoked", "");
    let mut with_ver = issued;
    with_ver["ver"] = json!(0);
    v.check(with_ver.clone())
        .await
        .assert_deny("stale_version", "");
    with_ver["ver"] = json!(1);
    v.check(with_ver.clone()).await.assert_allow("");
    with_ver["ver"] = json!(7);
    v.check(with_ver.clone()).await.assert_allow("");
    v.check(token("bob", "j1")).await.assert_allow("");

    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.json(), json!({ "version": 2 }));
    with_ver["ver"] = json!(1);
    v.check(with_ver).await.assert_deny("stale_version", "");

    // The version key never expires.
    let mut conn = redis.connection().await;
    let ttl: i64 = conn
        .ttl(UserTag::of_sub("alice").version_key())
        .await
        .unwrap();
    assert_eq!(ttl, -1);
}

#[tokio::test]
async fn sessions_live_until_deleted() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let before = unix_now();
    let r = v
        .admin_post(
            "/v1/admin/sessions",
            json!({ "sub": "alice", "device": "laptop", "ttl_seconds": 120 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sid = r.json()["sid"].as_str().unwrap().to_owned();
    let expires_at = r.json()["expires_at"].as_i64().unwrap();
    // At least ttl_seconds from now: the start is rounded up to the next second.
    assert!(expires_at >= before + 120 && expires_at <= unix_now() + 121);
    assert!(sid.len() <= warden_core::protocol::MAX_ID_BYTES);

    let mut with_sid = token("alice", "j1");
    with_sid["sid"] = json!(sid);
    v.check(with_sid.clone()).await.assert_allow("");

    // Stored in alice's slot with a TTL bounded by the session lifetime.
    let mut conn = redis.connection().await;
    let record_key = UserTag::of_sub("alice").session_key(&sid);
    let ttl: i64 = conn.ttl(&record_key).await.unwrap();
    assert!(ttl > 0 && ttl <= 121, "ttl {ttl}");
    let index_ttl: i64 = conn
        .ttl(UserTag::of_sub("alice").sessions_key())
        .await
        .unwrap();
    assert!(index_ttl > 0 && index_ttl <= 121, "index ttl {index_ttl}");

    let r = v.admin_get("/v1/admin/users/alice/sessions").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    assert_eq!(listed["sub"], "alice");
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["sid"], sid.as_str());
    assert_eq!(sessions[0]["device"], "laptop");
    assert_eq!(sessions[0]["expires_at"], expires_at);
    let created = sessions[0]["created"].as_i64().unwrap();
    assert!(created >= before && created <= unix_now());
    assert!(sessions[0]["last_seen"].as_i64().unwrap() >= created);

    let r = v.admin_delete(&format!("/v1/admin/sessions/{sid}")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    v.check(with_sid).await.assert_deny("session_missing", "");
    v.admin_delete(&format!("/v1/admin/sessions/{sid}"))
        .await
        .assert_error(404, "not_found");
    v.admin_delete("/v1/admin/sessions/not-a-sid")
        .await
        .assert_error(404, "not_found");
    let r = v.admin_get("/v1/admin/users/alice/sessions").await;
    assert_eq!(r.json()["sessions"], json!([]));
}

#[tokio::test]
async fn sessions_without_device_and_default_ttl() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let r = v
        .admin_post("/v1/admin/sessions", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.status, 201);
    let expires_at = r.json()["expires_at"].as_i64().unwrap();
    assert!(expires_at >= unix_now() + 86_400 - 5 && expires_at <= unix_now() + 86_401);
    let listed = v.admin_get("/v1/admin/users/alice/sessions").await.json();
    assert_eq!(listed["sessions"][0]["device"], serde_json::Value::Null);
    // Percent-encoded subs in the path.
    let r = v
        .admin_post("/v1/admin/sessions", json!({ "sub": "user/with space" }))
        .await;
    assert_eq!(r.status, 201);
    let listed = v
        .admin_get("/v1/admin/users/user%2Fwith%20space/sessions")
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn session_reasons() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let alice_sid = v.new_session("alice").await;

    // Alice's sid in Bob's token: the session exists, but not for him.
    let mut bob = token("bob", "j1");
    bob["sid"] = json!(alice_sid);
    v.check(bob.clone())
        .await
        .assert_deny("session_mismatch", "");

    // Sids that name no live session.
    for sid in ["made-up", "x", &"a".repeat(256)] {
        let mut t = token("alice", "j1");
        t["sid"] = json!(sid);
        v.check(t).await.assert_deny("session_missing", "");
    }
    let mut conn = redis.connection().await;
    let _: () = conn
        .del(UserTag::of_sub("alice").session_key(&alice_sid))
        .await
        .unwrap();
    v.check(bob).await.assert_deny("session_missing", "");

    // A record in alice's slot that names another sub (as a tag collision would): mismatch.
    let alice = UserTag::of_sub("alice");
    let forged = warden_verifier::store::sid::new_sid(&alice).unwrap();
    let _: () = conn
        .hset_multiple(
            alice.session_key(&forged),
            &[("sub", "mallory"), ("last_seen", "0")],
        )
        .await
        .unwrap();
    let mut t = token("alice", "j1");
    t["sid"] = json!(forged);
    v.check(t).await.assert_deny("session_mismatch", "");
}

#[tokio::test]
async fn revoke_user_ends_all_sessions() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let s1 = v.new_session("alice").await;
    let s2 = v.new_session("alice").await;
    let bob_sid = v.new_session("bob").await;
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.json(), json!({ "version": 1 }));
    for sid in [&s1, &s2] {
        let mut t = token("alice", "j1");
        t["ver"] = json!(1);
        t["sid"] = json!(sid);
        v.check(t).await.assert_deny("session_missing", "");
    }
    assert_eq!(
        v.admin_get("/v1/admin/users/alice/sessions").await.json()["sessions"],
        json!([])
    );
    let mut t = token("bob", "j1");
    t["sid"] = json!(bob_sid);
    v.check(t).await.assert_allow("");
}

#[tokio::test]
async fn last_seen_is_refreshed_at_most_every_few_seconds() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await; // interval 5 s
    let sid = v.new_session("alice").await;
    let key = UserTag::of_sub("alice").session_key(&sid);
    let mut conn = redis.connection().await;
    let mut t = token("alice", "j1");
    t["sid"] = json!(sid);

    // Seen 2 s ago: inside the interval, left alone.
    let recent = unix_now() - 2;
    let _: () = conn.hset(&key, "last_seen", recent).await.unwrap();
    v.check(t.clone()).await.assert_allow("");
    let seen: i64 = conn.hget(&key, "last_seen").await.unwrap();
    assert_eq!(seen, recent);

    // Seen 60 s ago: rewritten to now.
    let _: () = conn.hset(&key, "last_seen", unix_now() - 60).await.unwrap();
    let before = unix_now();
    v.check(t).await.assert_allow("");
    let seen: i64 = conn.hget(&key, "last_seen").await.unwrap();
    assert!(seen >= before && seen <= unix_now(), "{seen}");
}

#[tokio::test]
async fn revoke_all_denies_tokens_issued_up_to_now() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    v.check(token("alice", "j1")).await.assert_allow(""); // caches "no not-before"
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let not_before = r.json()["not_before"].as_i64().unwrap();
    assert!((unix_now() - 5..=unix_now()).contains(&not_before));

    let with_iat = |iat: i64| json!({ "sub": "alice", "jti": "j1", "iat": iat, "exp": iat + 600 });
    v.check(with_iat(not_before - 10))
        .await
        .assert_deny("revoked_all", "");
    v.check(with_iat(not_before))
        .await
        .assert_deny("revoked_all", "");
    v.check(json!({ "sub": "alice", "jti": "j1", "exp": unix_now() + 60 }))
        .await
        .assert_deny("revoked_all", "");
    v.check(with_iat(not_before + 1)).await.assert_allow("");

    // A verifier that did not make the call reads it from Redis (no cached value yet).
    let other = Verifier::start(&redis.url()).await;
    other
        .check(with_iat(not_before - 1))
        .await
        .assert_deny("revoked_all", "");
    other.check(with_iat(not_before + 1)).await.assert_allow("");

    // revoked_all is answered before the per-user reasons.
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "j1", "exp": unix_now() + 60 }),
        )
        .await;
    assert_eq!(r.status, 200);
    v.check(with_iat(not_before - 1))
        .await
        .assert_deny("revoked_all", "");
    v.check(with_iat(not_before + 1))
        .await
        .assert_deny("revoked", "");

    // The not-before never moves backwards.
    let mut conn = redis.connection().await;
    let _: () = conn
        .set("warden:global:not_before", not_before + 1000)
        .await
        .unwrap();
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.json()["not_before"], not_before + 1000);
}

#[tokio::test]
async fn precedence_revoked_before_stale_before_session() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let exp = unix_now() + 600;
    v.admin_post(
        "/v1/admin/revoke/token",
        json!({ "sub": "alice", "jti": "j1", "exp": exp }),
    )
    .await;
    let iat = unix_now();
    v.admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    let t = json!({ "sub": "alice", "jti": "j1", "sid": "missing", "exp": exp, "iat": iat });
    v.check(t).await.assert_deny("revoked", "");
    let t = json!({ "sub": "alice", "jti": "j2", "sid": "missing", "exp": exp, "iat": iat });
    v.check(t).await.assert_deny("user_revoked", "");
    let t =
        json!({ "sub": "alice", "jti": "j2", "sid": "missing", "ver": 0, "exp": exp, "iat": iat });
    v.check(t).await.assert_deny("stale_version", "");
    let t = json!({ "sub": "alice", "jti": "j2", "sid": "missing", "ver": 1, "exp": exp, "iat": unix_now() });
    v.check(t).await.assert_deny("session_missing", "");
}

#[tokio::test]
async fn malformed_checks_get_400_json() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let long = "a".repeat(257);
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[\"alice\",\"j1\",null,null,null,9]".to_vec(),
        br#"{"jti":"j1","exp":9}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1"}"#.to_vec(),
        br#"{"sub":5,"jti":"j1","exp":9}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":"9"}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":1e300}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":9,"ver":"1"}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":9,"ver":-1}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":9,"iat":"x"}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":9,"sid":7}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","exp":9,"surprise":1}"#.to_vec(),
        br#"{"sub":"","jti":"j1","exp":9}"#.to_vec(),
        br#"{"sub":"alice","jti":"","exp":9}"#.to_vec(),
        br#"{"sub":"alice","jti":"j1","sid":"","exp":9}"#.to_vec(),
        format!(r#"{{"sub":"{long}","jti":"j1","exp":9}}"#).into_bytes(),
        format!(r#"{{"sub":"alice","jti":"{long}","exp":9}}"#).into_bytes(),
        format!(r#"{{"sub":"alice","jti":"j1","sid":"{long}","exp":9}}"#).into_bytes(),
        b"{\"sub\":\"al\xffice\",\"jti\":\"j1\",\"exp\":9}".to_vec(),
        b"\xfe\xff{}".to_vec(),
    ];
    for body in bodies {
        let r = request(
            v.check,
            "POST",
            "/v1/check",
            &[("content-type", "application/json")],
            &body,
        )
        .await;
        r.assert_error(400, "bad_request");
        assert!(!r.text().contains("redis"), "{}", r.text());
    }
    // No `jti` (a provider with `require_jti: false`): checked without the revoked-jti lookup.
    let r = v.check(json!({ "sub": "alice", "exp": 0 })).await;
    assert_eq!(
        (r.status, r.json()["allow"].clone()),
        (200, json!(true)),
        "{}",
        r.text()
    );
    // A fractional date is a NumericDate (RFC 7519 §2), truncated as the filter reads it: exp
    // 9.5 is second 9, long past.
    let r = v
        .check(json!({ "sub": "alice", "jti": "j1", "iat": 1.25, "exp": 9.5 }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["reason"], "token_expired", "{}", r.text());
    // Exactly 256 bytes is fine, in bytes not characters.
    let at_limit = "a".repeat(256);
    let r = v
        .check(json!({ "sub": at_limit, "jti": at_limit, "sid": at_limit, "exp": 9 }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = v
        .check(json!({ "sub": "é".repeat(129), "jti": "j1", "exp": 9 }))
        .await;
    r.assert_error(400, "bad_request");
}

#[tokio::test]
async fn bodies_over_8_kib_get_413() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let base = br#"{"sub":"alice","jti":"j1","exp":9}"#;
    let padded = |total: usize| {
        let mut body = base.to_vec();
        body.resize(total, b' ');
        body
    };
    let r = request(v.check, "POST", "/v1/check", &[], &padded(8192)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = request(v.check, "POST", "/v1/check", &[], &padded(8193)).await;
    r.assert_error(413, "payload_too_large");
    let r = request(v.check, "POST", "/v1/check", &[], &padded(1 << 20)).await;
    r.assert_error(413, "payload_too_large");

    // Without a Content-Length (chunked), the limit holds too.
    let body = padded(9000);
    let mut raw = b"POST /v1/check HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
    for chunk in body.chunks(1000) {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    common::raw_request(v.check, &raw)
        .await
        .assert_error(413, "payload_too_large");

    // The admin listener has the same limit.
    let mut big = serde_json::to_vec(&json!({ "sub": "alice" })).unwrap();
    big.resize(9000, b' ');
    let auth = format!("Bearer {}", common::ADMIN_TOKEN);
    let r = request(
        v.admin,
        "POST",
        "/v1/admin/revoke/user",
        &[("authorization", &auth)],
        &big,
    )
    .await;
    r.assert_error(413, "payload_too_large");
}

/// Finding: `require_expiration: false` makes the filter send `exp: 0`; revoking such a token
/// answered 200 but stored nothing.
#[tokio::test]
async fn a_token_without_exp_is_revoked_for_good() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    for (jti, body) in [
        ("no-exp", json!({ "sub": "alice", "jti": "no-exp" })),
        (
            "exp-zero",
            json!({ "sub": "alice", "jti": "exp-zero", "exp": 0 }),
        ),
    ] {
        let r = v.admin_post("/v1/admin/revoke/token", body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["expires_at"], serde_json::Value::Null);
        v.check(json!({ "sub": "alice", "jti": jti, "exp": 0 }))
            .await
            .assert_deny("revoked", "");
        let key = UserTag::of_sub("alice").revoked_jti_key(jti);
        let ttl: i64 = redis.connection().await.ttl(&key).await.unwrap();
        assert_eq!(ttl, -1, "{key} must not expire");
    }
}

/// An `exp` so far past that no check accepts the token is refused, not acknowledged.
#[tokio::test]
async fn revoking_past_the_revocation_window_is_a_clear_400() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "old", "exp": unix_now() - 3600 }),
        )
        .await;
    r.assert_error(400, "bad_request");
    assert!(r.text().contains("exp"), "{}", r.text());
    // Just past exp but inside the window: stored until exp + skew.
    let exp = unix_now() - 10;
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "alice", "jti": "recent", "exp": exp }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["expires_at"], exp + 300);
}

/// Finding: re-revoking with a smaller `exp` shortened the entry.
#[tokio::test]
async fn re_revoking_never_shortens_an_entry() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let key = UserTag::of_sub("alice").revoked_jti_key("j");
    let later = unix_now() + 7200;
    let revoke = |exp: Option<i64>| {
        let body = match exp {
            Some(exp) => json!({ "sub": "alice", "jti": "j", "exp": exp }),
            None => json!({ "sub": "alice", "jti": "j" }),
        };
        v.admin_post("/v1/admin/revoke/token", body)
    };
    assert_eq!(revoke(Some(later)).await.status, 200);
    assert_eq!(revoke(Some(unix_now() + 60)).await.status, 200);
    let mut conn = redis.connection().await;
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!(ttl > 7000, "shortened to {ttl}");
    // A longer one lengthens it; no exp makes it permanent; a later finite one keeps it so.
    assert_eq!(revoke(Some(later + 3600)).await.status, 200);
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert!(ttl > 10_000, "not lengthened: {ttl}");
    assert_eq!(revoke(None).await.status, 200);
    assert_eq!(revoke(Some(later)).await.status, 200);
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert_eq!(ttl, -1);
}

/// Finding: with a filter skew above the revocation skew, a revoked token could be accepted once
/// its entry lapsed. Checks past `exp` + skew are refused by the verifier itself.
#[tokio::test]
async fn a_check_past_the_revocation_window_is_refused() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let now = unix_now();
    v.check(json!({ "sub": "alice", "jti": "j", "exp": now - 301 }))
        .await
        .assert_deny("token_expired", "");
    v.check(json!({ "sub": "alice", "jti": "j", "exp": now - 200 }))
        .await
        .assert_allow("");
    v.check(json!({ "sub": "alice", "jti": "j", "exp": 0 }))
        .await
        .assert_allow("");
}
