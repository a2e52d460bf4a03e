//! `POST /v1/token` (refresh grant) against a real Redis: rotation, reuse detection, the retry
//! grace, concurrent refreshes, idle and absolute expiry, RFC 6749 errors, cookie mode, and the
//! session starts the feed learns from a rotation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::{request, unix_now, RedisServer};
use serde_json::json;
use warden_testkit::Algorithm;

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_family() {
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_retry_grace_seconds = 0;
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice", "claims": {"role": "r1"}})).await;
    let first_access = created["access_token"].as_str().unwrap().to_owned();
    let first_refresh = created["refresh_token"].as_str().unwrap().to_owned();
    let other_device = create_session(&v, json!({"sub": "alice", "device": "phone"})).await;

    let r = refresh(&v, &first_refresh).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let second_access = body["access_token"].as_str().unwrap().to_owned();
    let second_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    let (_, claims) = decode(&second_access);
    assert_eq!(claims["sid"], created["sid"]);
    assert_eq!(claims["role"], "r1", "extra claims survive the refresh");
    assert_ne!(claims["jti"], decode(&first_access).1["jti"]);
    assert_eq!(check_reason(&v, &second_access).await, None);

    // The replay: theft. The whole family ends, and both access tokens with the session.
    let r = refresh(&v, &first_refresh).await;
    r.assert_oauth_error(400, "invalid_grant");
    let r = refresh(&v, &second_refresh).await;
    r.assert_oauth_error(400, "invalid_grant");
    for access in [&first_access, &second_access] {
        assert_eq!(
            check_reason(&v, access).await.as_deref(),
            Some("session_missing")
        );
    }
    // The other device is untouched.
    let other = other_device["access_token"].as_str().unwrap();
    assert_eq!(check_reason(&v, other).await, None);
    let r = refresh(&v, other_device["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let entries = stream_entries(&redis).await;
    assert_eq!(events_named(&entries, "reuse_detected"), 1, "{entries:?}");
    assert_eq!(events_named(&entries, "session_created"), 2, "{entries:?}");
    assert_eq!(events_named(&entries, "refreshed"), 2, "{entries:?}");
    let everything = format!("{entries:?}");
    for secret in [
        &first_refresh,
        &second_refresh,
        &first_access,
        &second_access,
    ] {
        let tail = secret.rsplit_once('.').unwrap().1;
        assert!(
            !everything.contains(tail),
            "a token value in the audit stream"
        );
    }
    let metrics = request(v.check, "GET", "/metrics", &[], b"").await.text();
    assert!(
        metrics.contains("warden_verifier_security_events_total{event=\"reuse_detected\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_immediate_predecessor_within_the_grace_gets_the_same_successor() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let first = refresh(&v, &a).await.json();
    let b = first["refresh_token"].as_str().unwrap().to_owned();
    // The retry: same successor, no second chain.
    let retry = refresh(&v, &a).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    let retry = retry.json();
    assert_eq!(retry["refresh_token"], b);
    assert_eq!(
        check_reason(&v, retry["access_token"].as_str().unwrap()).await,
        None
    );
    // The chain goes on from b; then a is two steps back: theft.
    let second = refresh(&v, &b).await;
    assert_eq!(second.status, 200, "{}", second.text());
    let c = second.json()["refresh_token"].as_str().unwrap().to_owned();
    refresh(&v, &a)
        .await
        .assert_oauth_error(400, "invalid_grant");
    refresh(&v, &c)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let access = second.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        check_reason(&v, &access).await.as_deref(),
        Some("session_missing")
    );

    // The successor is kept for the grace only sealed: b is nowhere in Redis in clear.
    let created = create_session(&v, json!({"sub": "bob"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let b = refresh(&v, &a).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut conn, "*").await.unwrap();
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let secret = b.rsplit_once('.').unwrap().1;
        assert!(!String::from_utf8_lossy(&dump).contains(secret), "{key}");
    }
}

#[tokio::test]
async fn fifty_concurrent_refreshes_with_one_token_yield_one_successor() {
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_rate_per_minute = 30;
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (addr, a) = (v.check, a.clone());
        tasks.push(tokio::spawn(async move {
            post_form(
                addr,
                "/v1/token",
                &format!("grant_type=refresh_token&refresh_token={a}"),
                &[],
            )
            .await
        }));
    }
    let mut successors = std::collections::BTreeSet::new();
    let (mut ok, mut limited) = (0, 0);
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            200 => {
                ok += 1;
                successors.insert(r.json()["refresh_token"].as_str().unwrap().to_owned());
            }
            429 => {
                limited += 1;
                assert!(r.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", r.text()),
        }
    }
    assert!(ok >= 1, "{ok} ok, {limited} limited");
    assert_eq!(ok + limited, 50);
    assert_eq!(successors.len(), 1, "two live chains: {successors:?}");
    // The one successor is live and works.
    let b = successors.into_iter().next().unwrap();
    let mut conn = redis.connection().await;
    let sid = created["sid"].as_str().unwrap();
    let tag = sid.split_once('.').unwrap().1;
    let rt: String =
        redis::AsyncCommands::hget(&mut conn, format!("warden:{{{tag}}}:session:{sid}"), "rt")
            .await
            .unwrap();
    let b_hash: String = refresh_hash(&b);
    assert_eq!(rt, b_hash);
}

#[tokio::test]
async fn idle_and_absolute_expiry_end_the_family() {
    use warden_verifier::store::keys::UserTag;
    use warden_verifier::store::sessions::{RefreshCall, RefreshOutcome};
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let created = create_session(&v, json!({"sub": "alice", "ttl_seconds": 3600})).await;
    let store = &v.state.0.store;
    let a =
        warden_verifier::issuer::RefreshToken::parse(created["refresh_token"].as_str().unwrap())
            .unwrap();
    let sid = a.sid().to_owned();
    let tag = UserTag::of_sub("alice");
    let now = unix_now();
    let expires_at = created["expires_at"].as_i64().unwrap();
    fn call<'a>(
        tag: &'a UserTag,
        sid: &'a str,
        presented: &'a str,
        successor: &'a str,
        now: i64,
        idle: u64,
    ) -> RefreshCall<'a> {
        RefreshCall {
            tag,
            sid,
            presented_hash: presented,
            successor_hash: successor,
            successor_sealed: "sealed",
            now,
            now_ms: now * 1000,
            idle_ttl_seconds: idle,
            retry_grace_seconds: 10,
            retry_max_uses: 0,
            access_ttl_seconds: 900,
            not_before: None,
            rate_per_minute: 0,
        }
    }
    // Time is passed in: a refresh at now + 100 with a 200 s idle TTL rotates...
    let outcome = store
        .refresh(&call(&tag, &sid, &a.hash(), "h2", now + 100, 200))
        .await
        .unwrap();
    assert!(matches!(outcome, RefreshOutcome::Rotated(_)), "{outcome:?}");
    // ...and its successor, unused for more than 200 s, is dead, and so is the session.
    let outcome = store
        .refresh(&call(&tag, &sid, "h2", "h3", now + 301, 200))
        .await
        .unwrap();
    assert!(
        matches!(outcome, RefreshOutcome::Expired { .. }),
        "{outcome:?}"
    );
    let outcome = store
        .refresh(&call(&tag, &sid, "h2", "h3", now + 302, 200))
        .await
        .unwrap();
    assert_eq!(outcome, RefreshOutcome::Invalid);
    let access = created["access_token"].as_str().unwrap();
    assert_eq!(
        check_reason(&v, access).await.as_deref(),
        Some("session_missing")
    );

    // Absolute: the session's end is the family's end, however fresh the token.
    let created = create_session(&v, json!({"sub": "alice", "ttl_seconds": 60})).await;
    let a =
        warden_verifier::issuer::RefreshToken::parse(created["refresh_token"].as_str().unwrap())
            .unwrap();
    let sid2 = a.sid().to_owned();
    let expires_at2 = created["expires_at"].as_i64().unwrap();
    let hash2 = a.hash();
    let late = call(&tag, &sid2, &hash2, "x2", expires_at2, 1_000_000);
    let outcome = store.refresh(&late).await.unwrap();
    assert!(
        matches!(outcome, RefreshOutcome::Expired { .. }),
        "{outcome:?}"
    );
    // An access token never outlives its session.
    let created = create_session(&v, json!({"sub": "alice", "ttl_seconds": 60})).await;
    let (_, claims) = decode(created["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"], created["expires_at"]);
    assert!(expires_at > now);
}

#[tokio::test]
async fn oauth_errors_follow_rfc6749() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let cases: [(&str, &str); 6] = [
        ("", "invalid_request"),
        ("refresh_token=x", "invalid_request"),
        ("grant_type=password&username=a", "unsupported_grant_type"),
        ("grant_type=refresh_token", "invalid_request"),
        (
            "grant_type=refresh_token&refresh_token=unknown",
            "invalid_grant",
        ),
        (
            "grant_type=refresh_token&grant_type=refresh_token",
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let r = post_form(v.check, "/v1/token", body, &[]).await;
        r.assert_oauth_error(400, code);
    }
    // A forged token of the right shape for a real session: invalid_grant, and nothing ends.
    let s = create_session(&v, json!({"sub": "alice"})).await;
    let sid = s["sid"].as_str().unwrap();
    let forged = format!("{sid}.{}", "A".repeat(43));
    refresh(&v, &forged)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let r = post_form(v.check, "/v1/token/revoke", &format!("token={forged}"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        check_reason(&v, s["access_token"].as_str().unwrap()).await,
        None
    );
    assert_eq!(
        refresh(&v, s["refresh_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    // JSON is not a form.
    let r = common::post_json(
        v.check,
        "/v1/token",
        &json!({"grant_type": "refresh_token"}),
        None,
    )
    .await;
    r.assert_oauth_error(400, "invalid_request");
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_in_a_host_cookie() {
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_cookie = Some("__Host-warden-rt".into());
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let refresh_token = created["refresh_token"].as_str().unwrap().to_owned();
    let set_cookie = created["set_cookie"].as_str().unwrap();
    assert!(
        set_cookie.starts_with(&format!("__Host-warden-rt={refresh_token};")),
        "{set_cookie}"
    );
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    let cookie = vec![("cookie", format!("__Host-warden-rt={refresh_token}"))];
    let r = post_form(v.check, "/v1/token", "grant_type=refresh_token", &cookie).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
    let set = r.header("set-cookie").unwrap().to_owned();
    let successor = set
        .strip_prefix("__Host-warden-rt=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    assert_ne!(successor, refresh_token);
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    // Cookie mode reads the cookie only; two copies of it are refused.
    let r = post_form(
        v.check,
        "/v1/token",
        &format!("grant_type=refresh_token&refresh_token={successor}"),
        &[],
    )
    .await;
    r.assert_oauth_error(400, "invalid_request");
    let twice = vec![(
        "cookie",
        format!("__Host-warden-rt={successor}; __Host-warden-rt=x"),
    )];
    let r = post_form(v.check, "/v1/token", "grant_type=refresh_token", &twice).await;
    r.assert_oauth_error(400, "invalid_request");
    // Revoke by cookie: the session ends and the cookie is cleared.
    let cookie = vec![("cookie", format!("__Host-warden-rt={successor}"))];
    let r = post_form(v.check, "/v1/token/revoke", "", &cookie).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        check_reason(&v, access).await.as_deref(),
        Some("session_missing")
    );
}

#[tokio::test]
async fn session_starts_and_their_extension_by_rotation_are_in_the_feed() {
    use warden_core::protocol::feed::Change;
    use warden_verifier::store::feed::FeedRead;
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_idle_ttl_seconds = 100;
    tokens.access_ttl_seconds = 60;
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let store = &v.state.0.store;
    let cursor = store
        .append_feed(&[Change::NotBefore { not_before: 1 }], unix_now())
        .await
        .unwrap();
    let created = create_session(&v, json!({"sub": "gina", "ttl_seconds": 3600})).await;
    let sid = created["sid"].as_str().unwrap().to_owned();
    let starts = || async {
        let FeedRead::Changes { entries: list, .. } =
            store.read_feed(cursor, None, 100).await.unwrap()
        else {
            panic!("cursor gone")
        };
        list.into_iter()
            .filter_map(|e| match e.change {
                Change::SessionStart { sid: s, until } if s == sid => Some(until),
                _ => None,
            })
            .collect::<Vec<i64>>()
    };
    let first = starts().await;
    assert_eq!(first.len(), 1, "one start at creation");
    // The record lives until the refresh token's idle expiry (the session's own end is later).
    let ttl = record_ttl(&redis, &sid).await;
    assert!(
        (first[0] - unix_now() - ttl).abs() <= 1,
        "{first:?} vs ttl {ttl}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = refresh(&v, created["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let all = starts().await;
    assert_eq!(
        all.len(),
        2,
        "the rotation announced the extension: {all:?}"
    );
    assert!(all[1] > all[0], "{all:?}");
    let ttl = record_ttl(&redis, &sid).await;
    assert!(
        (all[1] - unix_now() - ttl).abs() <= 1,
        "{all:?} vs ttl {ttl}"
    );
    let snapshot = store.feed_snapshot(unix_now(), 300, 10).await.unwrap();
    assert_eq!(snapshot.live.len(), 1);
    assert_eq!(
        (snapshot.live[0].sid.as_str(), snapshot.live[0].until),
        (sid.as_str(), all[1])
    );
}

/// Finding 9: `--refresh-retry-max-uses 1` makes the retry grace single-use; a second replay of
/// the predecessor is reuse of a rotated token (RFC 9700 §4.14.2): the family ends. Without a
/// bound (the default) every replay within the grace gets the same successor.
#[tokio::test]
async fn the_retry_grace_can_be_made_single_use() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let b = refresh(&v, &a).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        let retry = refresh(&v, &a).await;
        assert_eq!(retry.status, 200, "{}", retry.text());
        assert_eq!(retry.json()["refresh_token"], b);
    }

    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_retry_max_uses = 1;
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let first = refresh(&v, &a).await.json();
    let b = first["refresh_token"].as_str().unwrap().to_owned();
    let retry = refresh(&v, &a).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["refresh_token"], b, "the one retry");
    refresh(&v, &a)
        .await
        .assert_oauth_error(400, "invalid_grant");
    // The family ended: the current token and its access tokens are dead too.
    refresh(&v, &b)
        .await
        .assert_oauth_error(400, "invalid_grant");
    assert_eq!(
        check_reason(&v, first["access_token"].as_str().unwrap())
            .await
            .as_deref(),
        Some("session_missing")
    );
    // Each rotation gives its predecessor a fresh single use.
    let created = create_session(&v, json!({"sub": "bob"})).await;
    let a = created["refresh_token"].as_str().unwrap().to_owned();
    let b = refresh(&v, &a).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(refresh(&v, &a).await.status, 200);
    let c = refresh(&v, &b).await.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let retry = refresh(&v, &b).await;
    assert_eq!(retry.status, 200, "{}", retry.text());
    assert_eq!(retry.json()["refresh_token"], c);
}

/// The TTL of the session record of `sid` (its key from the store's one key builder).
async fn record_ttl(redis: &RedisServer, sid: &str) -> i64 {
    let owner = warden_verifier::store::sid::owner_tag(sid).expect("a sid of ours");
    redis::cmd("TTL")
        .arg(owner.session_key(sid))
        .query_async(&mut redis.connection().await)
        .await
        .unwrap()
}
