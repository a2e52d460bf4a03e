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
use warden_core::protocol::feed::{Change, PollAnswer};
use warden_verifier::store::feed::FeedRead;
use warden_verifier::store::keys::FEED_LOG;
use warden_verifier::store::outbox::EndWindow;
use warden_verifier::Store;
use warden_verifier::{AdminToken, Settings};

/// Ends of sessions whose tokens no issuer of ours bounds: announced until expiry + 300 s.
const NO_ISSUER: EndWindow = EndWindow {
    access_ttl_seconds: None,
    skew_seconds: 300,
};

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
    match store.read_feed(after, None, 1000).await.unwrap() {
        FeedRead::Changes { entries, .. } => {
            entries.into_iter().map(|e| (e.seq, e.change)).collect()
        }
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
    assert_eq!(store.read_feed(0, None, 10).await.unwrap(), FeedRead::Gone);
    assert_eq!(
        store.read_feed(last + 1, None, 10).await.unwrap(),
        FeedRead::Gone
    );
    assert_eq!(
        store.read_feed(first - 1, None, 10).await.unwrap(),
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
    assert_eq!(store.read_feed(a, None, 10).await.unwrap(), FeedRead::Gone);
    let c = store
        .append_feed(&[jti("a", "3", None)], now)
        .await
        .unwrap();
    assert_eq!(c, b + 1);
    assert_eq!(store.read_feed(a, None, 10).await.unwrap(), FeedRead::Gone);
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
    assert_eq!(store.read_feed(c, None, 10).await.unwrap(), FeedRead::Gone);
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
                    not_before: Some(now - 10),
                },
                Change::User {
                    sub: "a".into(),
                    version: 2,
                    not_before: Some(now - 100),
                },
                Change::User {
                    sub: "c".into(),
                    version: 1,
                    not_before: None,
                },
                Change::IdpSession {
                    iss: "https://idp.example".into(),
                    sid: "lapsed".into(),
                    until: now - 1,
                },
                Change::IdpSession {
                    iss: "https://idp.example".into(),
                    sid: "idp-s-1".into(),
                    until: now + 90,
                },
                Change::IdpSession {
                    iss: "https://idp.example".into(),
                    sid: "idp-s-1".into(),
                    until: now + 40,
                },
                Change::IdpSession {
                    iss: "https://other.example".into(),
                    sid: "idp-s-1".into(),
                    until: now + 50,
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
    let mut users: Vec<_> = s
        .users
        .iter()
        .map(|u| (u.sub.as_str(), u.version, u.not_before))
        .collect();
    users.sort();
    assert_eq!(
        users,
        vec![("a", 3, Some(now - 10)), ("c", 1, None)],
        "versions and not-befores only ever raised"
    );
    assert_eq!(s.sessions.len(), 1);
    assert_eq!(s.sessions[0].sid, "s1");
    let mut idp: Vec<_> = s
        .idp_sessions
        .iter()
        .map(|x| (x.iss.as_str(), x.sid.as_str(), x.until))
        .collect();
    idp.sort();
    assert_eq!(
        idp,
        vec![
            ("https://idp.example", "idp-s-1", now + 90),
            ("https://other.example", "idp-s-1", now + 50)
        ],
        "keyed by issuer, lapsed ones left out, never shortened"
    );
    // Pruned from the state once lapsed, like ended sessions.
    store.append_feed(&[], now + 60).await.unwrap();
    let mut conn = redis.connection().await;
    let left: Vec<String> = redis::cmd("ZRANGE")
        .arg(warden_verifier::store::keys::FEED_IDP_SESSIONS)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, vec![r#"["https://idp.example","idp-s-1"]"#]);
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
    let not_before = s.users[0].not_before.expect("the user's not-before");
    assert!(
        (exp - 600..=unix_now()).contains(&not_before),
        "{not_before}"
    );
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

fn live_of(s: &warden_core::protocol::feed::Snapshot) -> Vec<(String, i64)> {
    s.live.iter().map(|x| (x.sid.clone(), x.until)).collect()
}

#[tokio::test]
async fn session_starts_are_announced_after_the_record_and_snapshots_list_live_sessions() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let now = unix_now();
    let first = store(&redis)
        .append_feed(&[Change::NotBefore { not_before: 1 }], now)
        .await
        .unwrap();
    let short = v
        .admin_post(
            "/v1/admin/sessions",
            json!({"sub": "erin", "ttl_seconds": 60}),
        )
        .await;
    assert_eq!(short.status, 201, "{}", short.text());
    let (short, short_until) = (
        short.json()["sid"].as_str().unwrap().to_owned(),
        short.json()["expires_at"].as_i64().unwrap(),
    );
    let long = v
        .admin_post(
            "/v1/admin/sessions",
            json!({"sub": "erin", "ttl_seconds": 600}),
        )
        .await;
    let (long, long_until) = (
        long.json()["sid"].as_str().unwrap().to_owned(),
        long.json()["expires_at"].as_i64().unwrap(),
    );
    // One start entry per session, with the record's expiry.
    let PollAnswer::Changes(c) = poll(&v, &format!("?after={first}&wait_ms=0")).await else {
        panic!("no changes")
    };
    let starts: Vec<_> = c.changes.iter().map(|e| e.change.clone()).collect();
    assert_eq!(
        starts,
        vec![
            Change::SessionStart {
                sid: short.clone(),
                until: short_until
            },
            Change::SessionStart {
                sid: long.clone(),
                until: long_until
            },
        ]
    );
    // The record exists when the start is announced: the check allows its tokens.
    let check = v
        .check(json!({"sub":"erin","jti":"j","sid":long,"exp":unix_now()+60}))
        .await;
    assert_eq!(check.json()["allow"], true, "{}", check.text());

    // A snapshot lists live sessions only when asked, latest-expiring first, at most max_live.
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert!(s.live.is_empty());
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=10").await else {
        panic!("no snapshot")
    };
    assert_eq!(
        live_of(&s),
        vec![(long.clone(), long_until), (short.clone(), short_until)]
    );
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=1").await else {
        panic!("no snapshot")
    };
    assert_eq!(live_of(&s), vec![(long.clone(), long_until)]);

    // Ended sessions leave the live set; a revoked user's too.
    assert_eq!(
        v.admin_delete(&format!("/v1/admin/sessions/{long}"))
            .await
            .status,
        204
    );
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=10").await else {
        panic!("no snapshot")
    };
    assert_eq!(live_of(&s), vec![(short.clone(), short_until)]);
    assert!(s.sessions.iter().any(|x| x.sid == long));
    assert_eq!(
        v.admin_post("/v1/admin/revoke/user", json!({"sub":"erin"}))
            .await
            .status,
        200
    );
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=10").await else {
        panic!("no snapshot")
    };
    assert!(s.live.is_empty(), "{:?}", s.live);
    // A start announced late (after the end) does not bring a session back.
    store(&redis)
        .append_feed(
            &[Change::SessionStart {
                sid: long.clone(),
                until: long_until,
            }],
            now,
        )
        .await
        .unwrap();
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=10").await else {
        panic!("no snapshot")
    };
    assert!(s.live.is_empty(), "{:?}", s.live);
}

#[tokio::test]
async fn a_session_created_during_a_user_revocation_is_announced_as_ended() {
    let redis = RedisServer::start();
    let store = store(&redis);
    let tag = warden_verifier::store::keys::UserTag::of_sub("frank");
    let now = unix_now();
    let early = format!("{}.{}", "E".repeat(22), tag.as_str());
    store
        .create_session(&tag, &early, "frank", None, now, now + 600)
        .await
        .unwrap();
    // The revocation's feed entries are written, then a session is created, then the revocation
    // runs: the script reports both sessions it deleted.
    let feed = store
        .feed_user_revocation(&tag, "frank", now, NO_ISSUER)
        .await
        .unwrap();
    assert_eq!(feed.sids, vec![early.clone()]);
    let late = format!("{}.{}", "L".repeat(22), tag.as_str());
    store
        .create_session(&tag, &late, "frank", None, now, now + 900)
        .await
        .unwrap();
    let revoked = store.revoke_user(&tag, now).await.unwrap();
    assert_eq!(revoked.version, 1);
    let mut ended = revoked.sessions.clone();
    ended.sort();
    assert_eq!(
        ended,
        vec![(early.clone(), now + 600), (late.clone(), now + 900)]
    );
    let head = store.feed_seq().await.unwrap();
    let seq = store
        .feed_missed_session_ends(&feed.sids, &revoked.sessions, now, NO_ISSUER)
        .await
        .unwrap();
    assert_eq!(seq, Some(head + 1));
    assert_eq!(
        changes_after(&store, head).await,
        vec![(
            head + 1,
            Change::Session {
                sid: late,
                until: now + 1200
            }
        )],
        "only the one the feed missed"
    );
    assert_eq!(
        store
            .feed_missed_session_ends(&feed.sids, &[(early, now + 600)], now, NO_ISSUER)
            .await
            .unwrap(),
        None
    );
}

async fn script_calls(redis: &RedisServer) -> u64 {
    let mut conn = redis.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split_once("calls=")?
                .1
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn a_flood_of_snapshot_requests_reads_the_state_once() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let now = unix_now();
    // The scripts are loaded once (a first EVALSHA may miss and fall back to EVAL).
    let _ = poll(&v, "?max_live=4").await;
    store(&redis)
        .append_feed(&[jti("a", "1", Some(now + 600))], now)
        .await
        .unwrap();
    let before = script_calls(&redis).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let addr = v.check;
        tasks.spawn(
            async move { request(addr, "GET", "/v1/revocations?max_live=5", &[], b"").await },
        );
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
        answers.push(serde_json::from_str::<PollAnswer>(&answer.text()).unwrap());
    }
    let after = script_calls(&redis).await;
    assert_eq!(after - before, 1, "one snapshot read for 40 requests");
    for answer in &answers {
        assert_eq!(answer, &answers[0]);
    }
    let PollAnswer::Snapshot(s) = &answers[0] else {
        panic!("no snapshot")
    };
    assert_eq!(s.jtis.len(), 1);
    // A change moves the head: the next snapshot is read afresh and holds it.
    store(&redis)
        .append_feed(&[jti("a", "2", Some(now + 600))], now)
        .await
        .unwrap();
    let PollAnswer::Snapshot(s) = poll(&v, "?max_live=5").await else {
        panic!("no snapshot")
    };
    assert_eq!(s.jtis.len(), 2);
}

#[tokio::test]
async fn a_revoke_all_from_before_the_feed_is_in_snapshots() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let mut conn = redis.connection().await;
    let before_feed = unix_now() - 100;
    let _: () = redis::cmd("SET")
        .arg("warden:global:not_before")
        .arg(before_feed)
        .query_async(&mut conn)
        .await
        .unwrap();
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(s.not_before, Some(before_feed));
    // A later revoke-all (in the feed too) wins.
    assert_eq!(
        v.admin_post("/v1/admin/revoke/all", json!({})).await.status,
        200
    );
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert!(s.not_before.unwrap() > before_feed);
}

/// Finding 7: the feed lists every revoked sub/jti and live sid, so `--feed-token-file` guards it;
/// and no caller's `max_live` reads more than the verifier's cap or more than once per head.
#[tokio::test]
async fn the_feed_token_guards_the_feed_and_max_live_neither_exceeds_the_cap_nor_defeats_the_cache()
{
    let redis = RedisServer::start();
    let token = "feed-token-0123456789abcdef";
    let settings = Settings {
        feed_token: Some(AdminToken::from_file_content(token.as_bytes()).unwrap()),
        feed_max_live: 3,
        ..Settings::default()
    };
    let v = Verifier::start_with(&redis.url(), test_store_options(), settings).await;
    let mut sessions = Vec::new();
    for minutes in 1..=5 {
        let r = v
            .admin_post(
                "/v1/admin/sessions",
                json!({"sub": "fay", "ttl_seconds": 60 * minutes}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        sessions.push(r.json()["sid"].as_str().unwrap().to_owned());
    }
    let wrong = format!("Bearer {token}x");
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789abcdef"),
        Some(wrong.as_str()),
        Some("Basic ZmVlZDp0b2tlbg=="),
        Some(token),
    ] {
        for query in ["?max_live=10", "?after=1&wait_ms=0"] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let r = request(
                v.check,
                "GET",
                &format!("/v1/revocations{query}"),
                &headers,
                b"",
            )
            .await;
            r.assert_error(401, "unauthorized");
            assert!(
                r.header("www-authenticate").unwrap().starts_with("Bearer "),
                "{auth:?}"
            );
        }
    }
    let auth = format!("Bearer {token}");
    let get = |query: String| {
        let auth = auth.clone();
        let addr = v.check;
        async move {
            let r = request(
                addr,
                "GET",
                &format!("/v1/revocations{query}"),
                &[("authorization", auth.as_str())],
                b"",
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            serde_json::from_str::<PollAnswer>(&r.text()).unwrap()
        }
    };
    // Above the cap: the cap, the latest-expiring first.
    let PollAnswer::Snapshot(s) = get("?max_live=10000000".into()).await else {
        panic!("no snapshot")
    };
    let listed: Vec<&str> = s.live.iter().map(|l| l.sid.as_str()).collect();
    let latest: Vec<&str> = sessions.iter().rev().take(3).map(String::as_str).collect();
    assert_eq!(listed, latest);
    // Many distinct values: no read beyond that one while the head stays.
    let before = script_calls(&redis).await;
    for n in 0..60u64 {
        let PollAnswer::Snapshot(s) = get(format!("?max_live={n}")).await else {
            panic!("no snapshot")
        };
        assert_eq!(s.live.len() as u64, n.min(3), "max_live={n}");
        let listed: Vec<&str> = s.live.iter().map(|l| l.sid.as_str()).collect();
        assert_eq!(listed, latest[..listed.len()], "a prefix of the list");
    }
    assert_eq!(script_calls(&redis).await - before, 0, "snapshot reads");
    // The long-poll answers with the token.
    let PollAnswer::Changes(_) = get(format!("?after={}&wait_ms=0", s.seq)).await else {
        panic!("no changes")
    };
}

// --- Redis loses its last writes: the feed rolls back and numbers are given again -------------

async fn redis_do(conn: &mut redis::aio::MultiplexedConnection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    let _: redis::Value = cmd.query_async(conn).await.unwrap();
}

/// A feed that will lose its last two entries: entry `before` saved (`SAVE`), then `lost-1` and
/// `lost-2` appended; [`Lossy::lose_last_writes`] brings Redis back to the save (`DEBUG RELOAD
/// NOSAVE`, as after a restart from an older RDB).
struct Lossy {
    // Held for its lifetime: the server stops on drop.
    _redis: RedisServer,
    v: Verifier,
    store: Store,
    conn: redis::aio::MultiplexedConnection,
    now: i64,
    /// The seq of `before`, the last saved entry.
    saved: u64,
    /// The seq of `lost-2`, the head before the loss.
    head: u64,
}

impl Lossy {
    async fn start() -> Lossy {
        let redis = RedisServer::start_with(&["--enable-debug-command", "yes"]);
        let v = Verifier::start(&redis.url()).await;
        let store = store(&redis);
        let now = unix_now();
        let mut conn = redis.connection().await;
        let saved = store
            .append_feed(&[jti("a", "before", None)], now)
            .await
            .unwrap();
        redis_do(&mut conn, &["SAVE"]).await;
        store
            .append_feed(&[jti("a", "lost-1", None)], now)
            .await
            .unwrap();
        let head = store
            .append_feed(&[jti("a", "lost-2", None)], now)
            .await
            .unwrap();
        Lossy {
            _redis: redis,
            v,
            store,
            conn,
            now,
            saved,
            head,
        }
    }

    async fn lose_last_writes(&mut self) {
        redis_do(&mut self.conn, &["DEBUG", "RELOAD", "NOSAVE"]).await;
    }
}

fn jtis_of(s: &warden_core::protocol::feed::Snapshot) -> Vec<String> {
    let mut jtis: Vec<String> = s.jtis.iter().map(|j| j.jti.clone()).collect();
    jtis.sort();
    jtis
}

/// `SAVE`, two more entries (a poller's cursor passes them), `DEBUG RELOAD NOSAVE` (Redis back
/// at the saved state, as after a restart from an older RDB), three new entries: the numbers of
/// the two lost ones are given again. A poll from the cursor passed before the loss gets a
/// snapshot, which holds the three; by its number alone the cursor looked valid and the answer
/// missed two of them.
#[tokio::test]
async fn a_rolled_back_feed_sends_a_cursor_on_a_reused_number_to_a_snapshot() {
    let mut feed = Lossy::start().await;
    let (saved, passed, now) = (feed.saved, feed.head, feed.now);
    let v = &feed.v;
    let PollAnswer::Snapshot(s) = poll(v, "?ids=1").await else {
        panic!("no snapshot")
    };
    assert_eq!(s.seq, passed);
    let cursor_id = s.id.clone().expect("the snapshot names its head entry");
    // The cursor is good: an empty answer that names the same entry.
    let PollAnswer::Changes(c) =
        poll(v, &format!("?after={passed}&after_id={cursor_id}&ids=1")).await
    else {
        panic!("not changes")
    };
    assert_eq!(
        (c.after_id.as_deref(), c.changes.len()),
        (Some(cursor_id.as_str()), 0)
    );

    feed.lose_last_writes().await;
    let (v, store) = (&feed.v, &feed.store);
    assert_eq!(store.feed_seq().await.unwrap(), saved, "rolled back");
    // Right after the loss the cursor is ahead of the head: a snapshot.
    let PollAnswer::Snapshot(_) =
        poll(v, &format!("?after={passed}&after_id={cursor_id}&ids=1")).await
    else {
        panic!("a cursor ahead of the head needs a snapshot")
    };
    let mut last = 0;
    for j in ["new-1", "new-2", "new-3"] {
        last = store.append_feed(&[jti("a", j, None)], now).await.unwrap();
    }
    assert_eq!(last, passed + 1, "the numbers were given again");

    assert_eq!(
        store.read_feed(passed, Some(&cursor_id), 10).await.unwrap(),
        FeedRead::Gone
    );
    for wait in ["0", "200"] {
        let answer = poll(
            v,
            &format!("?after={passed}&after_id={cursor_id}&ids=1&wait_ms={wait}"),
        )
        .await;
        let PollAnswer::Snapshot(s) = answer else {
            panic!("the reused number was answered with changes: {answer:?}")
        };
        assert_eq!(s.seq, last);
        assert_eq!(jtis_of(&s), ["before", "new-1", "new-2", "new-3"]);
        assert!(s.id.is_some());
    }
    // Checked by its number alone (a filter that sends no id), the cursor looks valid and the
    // answer misses two of the three acknowledged revocations: what the ids are for.
    let FeedRead::Changes { entries, .. } = store.read_feed(passed, None, 10).await.unwrap() else {
        panic!("gone")
    };
    assert_eq!(entries.len(), 1);
    // Without `ids=1` no ids are sent, the body older filters read.
    let bare = request(
        v.check,
        "GET",
        &format!("/v1/revocations?after={saved}"),
        &[],
        b"",
    )
    .await;
    assert!(!bare.text().contains("\"id\""), "{}", bare.text());
    let PollAnswer::Changes(c) = poll(v, &format!("?after={saved}&ids=1")).await else {
        panic!("not changes")
    };
    assert!(c.changes.iter().all(|e| e.id.is_some()));
}

/// The snapshot cache is keyed by the head entry (seq and id): after a rollback the same seq
/// names another state, and a body cached before it must not be served.
#[tokio::test]
async fn a_snapshot_cached_before_a_rollback_is_not_served_after_it() {
    let mut feed = Lossy::start().await;
    let (head, now) = (feed.head, feed.now);
    let PollAnswer::Snapshot(s) = poll(&feed.v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!((s.seq, jtis_of(&s).len()), (head, 3));
    feed.lose_last_writes().await;
    let (v, store) = (&feed.v, &feed.store);
    store
        .append_feed(&[jti("a", "new-1", None)], now)
        .await
        .unwrap();
    let again = store
        .append_feed(&[jti("a", "new-2", None)], now)
        .await
        .unwrap();
    assert_eq!(again, head);
    let PollAnswer::Snapshot(s) = poll(v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(jtis_of(&s), ["before", "new-1", "new-2"]);
}

async fn revoke_jti(v: &Verifier, sub: &str, jti: &str) -> u16 {
    v.admin_post(
        "/v1/admin/revoke/token",
        json!({ "sub": sub, "jti": jti, "exp": unix_now() + 600 }),
    )
    .await
    .status
}

/// A Sentinel failover to a replica that missed the last writes: the replica is frozen and cut
/// off from the master, two revocations reach only the master (a poller's cursor passes them),
/// the master dies, the replica is promoted, and three revocations are acknowledged on it,
/// reusing the lost numbers. The poller's cursor gets a snapshot holding the three.
#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_failover_to_a_lagging_replica_sends_pollers_to_a_snapshot() {
    use common::topology::{start_verifier, wait_until, Node, SentinelGroup};
    let mut group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .expect("sentinel group");
    let v = start_verifier(&group.url(), test_store_options()).await;
    assert_eq!(revoke_jti(&v, "rb", "kept").await, 200);
    let PollAnswer::Snapshot(s) = poll(&v, "?ids=1").await else {
        panic!("no snapshot")
    };
    let (seq, id) = (s.seq, s.id.clone().unwrap());
    // Everything so far is on the replica.
    let _: i64 = group.data[0]
        .query(redis::cmd("WAIT").arg(1).arg(5000))
        .unwrap();

    group.data[1].signal("STOP");
    let _: redis::Value = group.data[0]
        .query(redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica"))
        .unwrap();
    assert_eq!(revoke_jti(&v, "rb", "lost-1").await, 200);
    assert_eq!(revoke_jti(&v, "rb", "lost-2").await, 200);
    let PollAnswer::Changes(c) = poll(&v, &format!("?after={seq}&after_id={id}&ids=1")).await
    else {
        panic!("not changes")
    };
    assert_eq!(c.changes.len(), 2);
    let (passed, passed_id) = (c.seq, c.changes[1].id.clone().unwrap());

    let mut master = std::mem::replace(&mut group.data[0], Node::placeholder());
    master.kill();
    group.data[1].signal("CONT");
    let group = tokio::task::spawn_blocking(move || {
        let promoted = group.data[1].port;
        wait_until("the sentinels promote the replica", || {
            group.sentinels.iter().all(|s| {
                s.query::<(String, u16)>(
                    redis::cmd("SENTINEL")
                        .arg("GET-MASTER-ADDR-BY-NAME")
                        .arg(common::topology::MASTER_NAME),
                )
                .is_ok_and(|(_, port)| port == promoted)
            })
        });
        group
    })
    .await
    .unwrap();
    // The verifier follows the failover; the first writes may meet the dead master.
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while revoke_jti(&v, "rb", "new-1").await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "no write after the failover"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(revoke_jti(&v, "rb", "new-2").await, 200);
    assert_eq!(revoke_jti(&v, "rb", "new-3").await, 200);

    let answer = poll(&v, &format!("?after={passed}&after_id={passed_id}&ids=1")).await;
    let PollAnswer::Snapshot(s) = answer else {
        panic!("the reused number was answered with changes: {answer:?}")
    };
    assert_eq!(jtis_of(&s), ["kept", "new-1", "new-2", "new-3"]);
    // By its number alone the cursor looked valid, and the answer missed acknowledged ones.
    let PollAnswer::Changes(c) = poll(&v, &format!("?after={passed}")).await else {
        panic!("not changes")
    };
    assert!(c.changes.len() < 3, "{c:?}");
    drop(group);
}
