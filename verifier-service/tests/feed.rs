//! The revocation feed on a real Redis: numbering, reads after a cursor, gaps (trimmed, unknown,
//! Redis data lost), bounded snapshots, one entry per acknowledged admin change, and the
//! `GET /v1/revocations` long-poll.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, test_store_options, unix_now, RedisServer, Verifier};
use serde_json::json;
use warden_core::revocation_view::wire::{Change, PollAnswer};
use warden_verifier::store::feed::{FeedRead, FEED_LOG};
use warden_verifier::Store;

fn store(redis: &RedisServer) -> Store {
    Store::new(
        redis::Client::open(redis.url()).unwrap(),
        test_store_options(),
    )
    .unwrap()
}

fn jti(sub: &str, jti: &str, until: Option<i64>) -> Change {
    Change::Jti {
        sub: sub.into(),
        jti: jti.into(),
        until,
    }
}

async fn changes_after(store: &Store, after: u64) -> Vec<(u64, Change)> {
    match store.read_feed(after, 1000).await.unwrap() {
        FeedRead::Changes(list) => list.into_iter().map(|e| (e.seq, e.change)).collect(),
        FeedRead::Gone => panic!("cursor {after} gone"),
    }
}

#[tokio::test]
async fn numbers_are_strictly_increasing_without_holes() {
    let redis = RedisServer::start();
    let store = store(&redis);
    let now = unix_now();
    let first = store
        .append_feed(&[jti("a", "1", Some(now + 60))], now)
        .await
        .unwrap();
    assert!(
        first > 1_000_000_000_000_000,
        "starts at ms × 1000: {first}"
    );
    let last = store
        .append_feed(
            &[jti("a", "2", None), Change::NotBefore { not_before: now }],
            now,
        )
        .await
        .unwrap();
    assert_eq!(last, first + 2);
    let after_first = changes_after(&store, first).await;
    assert_eq!(
        after_first,
        vec![
            (first + 1, jti("a", "2", None)),
            (first + 2, Change::NotBefore { not_before: now })
        ]
    );
    assert!(changes_after(&store, last).await.is_empty());
    // Numbers the feed never gave, or past its head, call for a snapshot.
    assert_eq!(store.read_feed(0, 10).await.unwrap(), FeedRead::Gone);
    assert_eq!(store.read_feed(last + 1, 10).await.unwrap(), FeedRead::Gone);
    assert_eq!(
        store.read_feed(first - 1, 10).await.unwrap(),
        FeedRead::Gone
    );
}

#[tokio::test]
async fn a_trimmed_cursor_or_lost_data_calls_for_a_snapshot() {
    let mut redis = RedisServer::start();
    let store = store(&redis);
    let now = unix_now();
    let a = store
        .append_feed(&[jti("a", "1", None)], now)
        .await
        .unwrap();
    let b = store
        .append_feed(&[jti("a", "2", None)], now)
        .await
        .unwrap();
    let mut conn = redis.connection().await;
    let _: i64 = redis::cmd("XTRIM")
        .arg(FEED_LOG)
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    // The head itself needs nothing; anything older is gone.
    assert!(changes_after(&store, b).await.is_empty());
    assert_eq!(store.read_feed(a, 10).await.unwrap(), FeedRead::Gone);
    let c = store
        .append_feed(&[jti("a", "3", None)], now)
        .await
        .unwrap();
    assert_eq!(c, b + 1);
    assert_eq!(store.read_feed(a, 10).await.unwrap(), FeedRead::Gone);
    let snapshot = store.feed_snapshot(now, 300, 0).await.unwrap();
    assert_eq!(snapshot.seq, c);
    assert_eq!(snapshot.jtis.len(), 3, "the state outlives the trimmed log");

    // Redis restarted empty: the new feed starts above every number given before.
    redis.restart();
    let d = store.append_feed(&[jti("a", "4", None)], now).await;
    let d = match d {
        Ok(d) => d,
        Err(_) => store
            .append_feed(&[jti("a", "4", None)], now)
            .await
            .unwrap(),
    };
    assert!(d > c, "{d} after {c}");
    assert_eq!(store.read_feed(c, 10).await.unwrap(), FeedRead::Gone);
}

#[tokio::test]
async fn snapshots_hold_what_can_still_deny() {
    let redis = RedisServer::start();
    let store = store(&redis);
    let now = unix_now();
    store
        .append_feed(
            &[
                jti("a", "lapsed", Some(now - 1)),
                jti("a", "live", Some(now + 60)),
                jti("a", "live", Some(now + 30)),
                jti("b", "forever", None),
                Change::User {
                    sub: "a".into(),
                    version: 3,
                },
                Change::User {
                    sub: "a".into(),
                    version: 2,
                },
                Change::Session {
                    sid: "old".into(),
                    until: now - 5,
                },
                Change::Session {
                    sid: "s1".into(),
                    until: now + 100,
                },
                Change::NotBefore { not_before: now },
                Change::NotBefore {
                    not_before: now - 50,
                },
            ],
            now,
        )
        .await
        .unwrap();
    let s = store.feed_snapshot(now, 300, 0).await.unwrap();
    assert_eq!(s.skew_seconds, 300);
    assert_eq!(s.not_before, Some(now));
    let mut jtis: Vec<_> = s
        .jtis
        .iter()
        .map(|j| (j.sub.as_str(), j.jti.as_str(), j.until))
        .collect();
    jtis.sort();
    assert_eq!(
        jtis,
        vec![("a", "live", Some(now + 60)), ("b", "forever", None)],
        "lapsed entries left out, never shortened"
    );
    assert_eq!(s.users.len(), 1);
    assert_eq!(s.users[0].version, 3);
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(s.sessions[0].sid, "s1");
}

async fn poll(v: &Verifier, query: &str) -> PollAnswer {
    let answer = request(v.check, "GET", &format!("/v1/revocations{query}"), &[], b"").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    serde_json::from_str(&answer.text()).unwrap()
}

#[tokio::test]
async fn every_acknowledged_admin_change_is_in_the_feed() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let PollAnswer::Snapshot(empty) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(empty.seq, 0);
    let sid = v.new_session("carol").await;
    let ended = v.new_session("dave").await;
    let exp = unix_now() + 600;
    assert_eq!(
        v.admin_post(
            "/v1/admin/revoke/token",
            json!({"sub":"alice","jti":"j1","exp":exp})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        v.admin_post("/v1/admin/revoke/user", json!({"sub":"carol"}))
            .await
            .status,
        200
    );
    assert_eq!(
        v.admin_delete(&format!("/v1/admin/sessions/{ended}"))
            .await
            .status,
        204
    );
    assert_eq!(
        v.admin_post("/v1/admin/revoke/all", json!({})).await.status,
        200
    );
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(s.jtis.len(), 1);
    assert_eq!(
        (s.jtis[0].sub.as_str(), s.jtis[0].until),
        ("alice", Some(exp + 300))
    );
    assert_eq!(s.users.len(), 1);
    assert_eq!((s.users[0].sub.as_str(), s.users[0].version), ("carol", 1));
    let mut sids: Vec<_> = s.sessions.iter().map(|x| x.sid.clone()).collect();
    sids.sort();
    let mut wanted = vec![sid, ended];
    wanted.sort();
    assert_eq!(
        sids, wanted,
        "both the revoked user's and the deleted session"
    );
    assert!(s.not_before.is_some());

    // From an old cursor: the changes in order, without holes.
    let PollAnswer::Changes(c) = poll(&v, &format!("?after={}&wait_ms=0", s.seq - 2)).await else {
        panic!("no changes")
    };
    assert_eq!(c.changes.len(), 2);
    assert_eq!(c.seq, s.seq);
    assert_eq!(c.changes[0].seq + 1, c.changes[1].seq);
}

#[tokio::test]
async fn a_long_poll_answers_with_the_change_it_waited_for() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    assert_eq!(
        v.admin_post("/v1/admin/revoke/all", json!({})).await.status,
        200
    );
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    let check = v.check;
    let waiting = tokio::spawn(async move {
        request(
            check,
            "GET",
            &format!("/v1/revocations?after={}&wait_ms=20000", s.seq),
            &[],
            b"",
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "answered before any change");
    assert_eq!(
        v.admin_post(
            "/v1/admin/revoke/token",
            json!({"sub":"alice","jti":"late"})
        )
        .await
        .status,
        200
    );
    let answer = waiting.await.unwrap();
    let PollAnswer::Changes(c) = serde_json::from_str(&answer.text()).unwrap() else {
        panic!("{}", answer.text())
    };
    assert_eq!(c.after, s.seq);
    assert_eq!(
        c.changes.iter().map(|e| &e.change).collect::<Vec<_>>(),
        vec![&jti("alice", "late", None)]
    );
    // And an empty answer once wait_ms passed.
    let PollAnswer::Changes(empty) = poll(&v, &format!("?after={}&wait_ms=50", c.seq)).await else {
        panic!("no changes")
    };
    assert!(empty.changes.is_empty());
    assert_eq!(empty.seq, c.seq);
}

#[tokio::test]
async fn bad_queries_and_redis_down() {
    let mut redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    for bad in ["?after=x", "?wait_ms=30001", "?after=1&after=2", "?since=1"] {
        let answer = request(v.check, "GET", &format!("/v1/revocations{bad}"), &[], b"").await;
        answer.assert_error(400, "bad_request");
    }
    redis.stop();
    let answer = request(v.check, "GET", "/v1/revocations?after=1", &[], b"").await;
    answer.assert_error(503, "unavailable");
    // Without the feed entry nothing is acknowledged.
    let answer = v
        .admin_post("/v1/admin/revoke/token", json!({"sub":"alice","jti":"j9"}))
        .await;
    assert_eq!(answer.status, 503);
}
