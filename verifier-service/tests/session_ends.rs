//! How session ends reach the revocation feed, on a real Redis: for how long each way of ending a
//! session announces the end (as long as a token it denies may be valid, not the session's TTL),
//! no repeated announcements, and ends decided inside a refresh script made durable through the
//! user's outbox: stored atomically with the end, relayed at once or, when the feed cannot take
//! them, by the background relay; never listed as live by a snapshot meanwhile. On one Redis (the
//! feed refused by an ACL) and on a Redis Cluster whose `{feed}` master is paused, then down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::topology::Cluster;
use common::{eventually, request, unix_now, RedisServer, Response, Verifier};
use serde_json::{json, Value};
use std::time::Duration;
use warden_core::protocol::feed::{Change, PollAnswer};
use warden_testkit::Algorithm;
use warden_verifier::store::feed::FeedRead;
use warden_verifier::store::keys::{outbox_key, UserTag, FEED_LIVE, FEED_SEQ};
use warden_verifier::{Store, StoreOptions};

const ACCESS_TTL: i64 = 60;
/// `Settings::default().revocation_skew_seconds`.
const SKEW: i64 = 300;

fn token_settings() -> TokenSettings {
    let mut settings = common::issuer::token_settings();
    settings.access_ttl_seconds = ACCESS_TTL as u64;
    // Requests name their client address in X-Forwarded-For (the Cluster test picks its slot).
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    settings
}

async fn start_on(store: Store) -> Verifier {
    start_issuer_on(store, token_settings(), vec![signing_key(Algorithm::ES256)]).await
}

async fn start(url: &str) -> Verifier {
    start_issuer(url, token_settings(), vec![signing_key(Algorithm::ES256)]).await
}

/// A refresh from client 10.0.0.1.
async fn refresh(v: &Verifier, token: &str) -> Response {
    refresh_with(v, token, &forwarded_for("10.0.0.1")).await
}

async fn create(v: &Verifier, sub: &str) -> Value {
    create_session(v, json!({ "sub": sub })).await
}

fn sid_of(session: &Value) -> String {
    session["sid"].as_str().unwrap().to_owned()
}

/// The ends announced after `cursor`: sid → until.
async fn ends_after(store: &Store, cursor: u64) -> Vec<(String, i64)> {
    let FeedRead::Changes { entries: list, .. } =
        store.read_feed(cursor, None, 1000).await.unwrap()
    else {
        panic!("cursor {cursor} gone")
    };
    list.into_iter()
        .filter_map(|e| match e.change {
            Change::Session { sid, until } => Some((sid, until)),
            _ => None,
        })
        .collect()
}

/// The one end of `sid` announced after `cursor`.
async fn end_of(store: &Store, cursor: u64, sid: &str) -> i64 {
    let ends: Vec<i64> = ends_after(store, cursor)
        .await
        .into_iter()
        .filter(|(s, _)| s == sid)
        .map(|(_, until)| until)
        .collect();
    assert_eq!(ends.len(), 1, "one end of {sid}: {ends:?}");
    ends[0]
}

/// The end of a session ended between `before` and `after` (unix s) is announced for the access
/// TTL + skew, not for the session's lifetime.
fn assert_short(until: i64, before: i64, after: i64, what: &str) {
    assert!(
        (before + ACCESS_TTL + SKEW..=after + ACCESS_TTL + SKEW).contains(&until),
        "{what}: announced until {until}, {} s after the end; expected {} s",
        until - before,
        ACCESS_TTL + SKEW
    );
}

async fn pending_metric(v: &Verifier) -> i64 {
    let r = request(v.admin, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix("warden_verifier_feed_outbox_pending "))
        .unwrap_or_else(|| panic!("no outbox gauge in {}", r.text()))
        .trim()
        .parse()
        .unwrap()
}

async fn snapshot_live(v: &Verifier) -> Option<Vec<String>> {
    let r = request(v.check, "GET", "/v1/revocations?max_live=1000", &[], b"").await;
    if r.status != 200 {
        return None;
    }
    let PollAnswer::Snapshot(s) = serde_json::from_slice(&r.body).unwrap() else {
        panic!("not a snapshot: {}", r.text())
    };
    Some(s.live.into_iter().map(|l| l.sid).collect())
}

#[tokio::test]
async fn every_session_end_is_announced_only_while_its_tokens_may_be_valid() {
    let redis = RedisServer::start();
    let v = start(&redis.url()).await;
    let store = &v.state.0.store;
    let cursor = store
        .append_feed(&[Change::NotBefore { not_before: 1 }], unix_now())
        .await
        .unwrap();

    // Logout with the refresh token (RFC 7009): a 1-day session.
    let before = unix_now();
    let a = create(&v, "ann").await;
    let r = logout(
        &v,
        a["refresh_token"].as_str().unwrap(),
        &forwarded_for("10.0.0.1"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_short(
        end_of(store, cursor, &sid_of(&a)).await,
        before,
        unix_now(),
        "logout",
    );

    // Reuse of a rotated refresh token.
    rotate_twice_then_reuse_the_first(&v, "bob").await;

    // Revoke-all: the next refresh ends the session, once; more attempts announce nothing.
    let c = create(&v, "cat").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let before = unix_now();
    assert_eq!(
        refresh(&v, c["refresh_token"].as_str().unwrap())
            .await
            .status,
        400
    );
    assert_short(
        end_of(store, cursor, &sid_of(&c)).await,
        before,
        unix_now(),
        "revoke-all",
    );
    let head = store.feed_seq().await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            refresh(&v, c["refresh_token"].as_str().unwrap())
                .await
                .status,
            400
        );
    }
    assert_eq!(
        store.feed_seq().await.unwrap(),
        head,
        "no entry per attempt"
    );

    // Admin delete of a live session; of a missing one: 404 and nothing announced.
    let before = unix_now();
    let d = create(&v, "dan").await;
    let r = v
        .admin_delete(&format!("/v1/admin/sessions/{}", sid_of(&d)))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_short(
        end_of(store, cursor, &sid_of(&d)).await,
        before,
        unix_now(),
        "delete",
    );
    let head = store.feed_seq().await.unwrap();
    for _ in 0..3 {
        let r = v
            .admin_delete(&format!("/v1/admin/sessions/{}", sid_of(&d)))
            .await;
        assert_eq!(r.status, 404, "{}", r.text());
    }
    assert_eq!(
        store.feed_seq().await.unwrap(),
        head,
        "a missing session is not announced"
    );

    // revoke/user.
    let before = unix_now();
    let e = create(&v, "eve").await;
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({"sub": "eve"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_short(
        end_of(store, cursor, &sid_of(&e)).await,
        before,
        unix_now(),
        "revoke/user",
    );

    // Once every token these sessions handed out is past exp + skew, no end is held any more.
    let later = unix_now() + ACCESS_TTL + SKEW + 2;
    let snapshot = store.feed_snapshot(later, SKEW as u64, 0).await.unwrap();
    assert!(snapshot.sessions.is_empty(), "{:?}", snapshot.sessions);
}

/// Creates a session for `sub`, refreshes twice, and presents the first refresh token again (two
/// rotations old, so outside any retry grace: a reuse). The reuse's end is announced briefly.
async fn rotate_twice_then_reuse_the_first(v: &Verifier, sub: &str) {
    let store = &v.state.0.store;
    let s = create(v, sub).await;
    let first = s["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(v, &first).await.json();
    let second = second["refresh_token"].as_str().unwrap().to_owned();
    let third = refresh(v, &second).await;
    assert_eq!(third.status, 200, "{}", third.text());
    let cursor = store.feed_seq().await.unwrap();
    let before = unix_now();
    let r = refresh(v, &first).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_short(
        end_of(store, cursor, &sid_of(&s)).await,
        before,
        unix_now(),
        "reuse",
    );
}

/// Lets the verifier's ACL user only read the feed's log (a script needs read and write access to
/// each of its KEYS, so every feed append is refused up front, while snapshots, feed reads and the
/// users' keys keep working).
fn refuse_feed_appends(conn: &mut redis::Connection) {
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("warden")
        .arg("resetkeys")
        .arg("%R~*")
        .arg(format!("~warden:{{{}}}:*", "?".repeat(22)))
        .arg("~warden:{feed}:[^l]*")
        .arg("~warden:{feed}:li*")
        .arg("~warden:rl:*")
        .arg("~warden:events")
        .arg("~warden:global:*")
        .query(conn)
        .unwrap();
}

fn allow_everything(conn: &mut redis::Connection) {
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("warden")
        .arg("on")
        .arg(">s3cret")
        .arg("resetkeys")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .query(conn)
        .unwrap();
}

#[tokio::test]
async fn an_end_the_feed_refuses_waits_in_the_outbox_and_no_snapshot_lists_it_live() {
    let redis = RedisServer::start();
    let mut admin = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    allow_everything(&mut admin);
    let v = start(&format!("redis://warden:s3cret@127.0.0.1:{}", redis.port)).await;
    let store = &v.state.0.store;
    let s = create(&v, "fay").await;
    let sid = sid_of(&s);
    let access = s["access_token"].as_str().unwrap().to_owned();
    let cursor = store.feed_seq().await.unwrap();
    let live: Option<f64> = redis::cmd("ZSCORE")
        .arg(FEED_LIVE)
        .arg(&sid)
        .query(&mut admin)
        .unwrap();
    assert!(live.is_some(), "the start is in the feed");

    refuse_feed_appends(&mut admin);
    let before = unix_now();
    let r = logout(
        &v,
        s["refresh_token"].as_str().unwrap(),
        &forwarded_for("10.0.0.1"),
    )
    .await;
    // The end is stored (with its outbox entry): the holder's logout succeeded.
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(pending_metric(&v).await, 1);
    let tag = UserTag::of_sub("fay");
    let outbox: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(outbox_key(&tag))
        .query(&mut admin)
        .unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].0, sid);
    assert_eq!(
        check_reason(&v, &access).await.as_deref(),
        Some("session_missing")
    );
    // The feed has no end yet and its live set still names the session, but snapshots do not.
    assert_eq!(store.feed_seq().await.unwrap(), cursor);
    let live: Option<f64> = redis::cmd("ZSCORE")
        .arg(FEED_LIVE)
        .arg(&sid)
        .query(&mut admin)
        .unwrap();
    assert!(live.is_some());
    let listed = snapshot_live(&v).await.expect("snapshots are readable");
    assert!(!listed.contains(&sid), "{listed:?}");

    // The background relay keeps trying; once the feed takes writes again, the end is in it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(pending_metric(&v).await, 1);
    allow_everything(&mut admin);
    eventually("the relay delivers the end", || async {
        !ends_after(store, cursor).await.is_empty()
    })
    .await;
    assert_short(
        end_of(store, cursor, &sid).await,
        before,
        unix_now(),
        "relayed",
    );
    eventually("nothing pending", || async {
        pending_metric(&v).await == 0
    })
    .await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(outbox_key(&tag))
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        exists, 0,
        "the outbox is emptied after the feed took the end"
    );
}

#[tokio::test]
async fn outboxes_left_by_a_crashed_instance_are_relayed_by_another() {
    let redis = RedisServer::start();
    let mut conn = redis.connection().await;
    let now = unix_now();
    let mut sids = Vec::new();
    for sub in ["gus", "hal", "ivy"] {
        let tag = UserTag::of_sub(sub);
        let sid = format!("{}.{}", "C".repeat(22), tag.as_str());
        let _: () = redis::cmd("HSET")
            .arg(outbox_key(&tag))
            .arg(&sid)
            .arg(format!("{now} {}", now + 86_400))
            .query_async(&mut conn)
            .await
            .unwrap();
        sids.push(sid);
    }
    let v = start(&redis.url()).await;
    let store = &v.state.0.store;
    eventually("the start-up scan relays every outbox", || async {
        let snapshot = store.feed_snapshot(unix_now(), 0, 0).await.unwrap();
        sids.iter()
            .all(|sid| snapshot.sessions.iter().any(|s| &s.sid == sid))
    })
    .await;
    let snapshot = store.feed_snapshot(unix_now(), 0, 0).await.unwrap();
    for ended in &snapshot.sessions {
        assert_short(ended.until, now, now, "crash leftover");
    }
    eventually("the outboxes are emptied", || async {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("warden:*:feedout")
            .query_async(&mut redis.connection().await)
            .await
            .unwrap();
        keys.is_empty()
    })
    .await;
}

fn cluster_options() -> StoreOptions {
    StoreOptions {
        timeout: Duration::from_millis(500),
        min_replicas_ack: 0,
        replica_ack_timeout: Duration::from_millis(200),
    }
}

async fn start_on_cluster(cluster: &Cluster) -> Verifier {
    start_on(common::open_store(&cluster.url(), None, cluster_options())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_logout_while_the_feed_shard_is_paused_or_down_is_relayed_when_it_returns() {
    let mut cluster = Cluster::start();
    // While one master is paused: no failover, and the other masters keep serving their slots.
    cluster.on_every_node(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-replica-no-failover")
            .arg("yes"),
    );
    cluster.on_every_node(
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-require-full-coverage")
            .arg("no"),
    );
    let feed = cluster.master_of(FEED_SEQ);
    let sub = (0..)
        .map(|i| format!("kim{i}"))
        .find(|s| cluster.master_of(&UserTag::of_sub(s).version_key()) != feed)
        .unwrap();
    let client = (1..250)
        .map(|i| format!("10.0.0.{i}"))
        .find(|ip| cluster.master_of(&format!("warden:rl:addr:{{{ip}}}")) != feed)
        .unwrap();
    let v = start_on_cluster(&cluster).await;
    let store = &v.state.0.store;
    let s = create(&v, &sub).await;
    let sid = sid_of(&s);
    let access = s["access_token"].as_str().unwrap().to_owned();
    let cursor = store.feed_seq().await.unwrap();
    assert!(snapshot_live(&v).await.unwrap().contains(&sid));

    cluster.nodes[feed].pause();
    let before = unix_now();
    let r = logout(
        &v,
        s["refresh_token"].as_str().unwrap(),
        &forwarded_for(&client),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(pending_metric(&v).await, 1);
    let tag = UserTag::of_sub(&sub);
    let owner = cluster.master_of(&outbox_key(&tag));
    let outbox: Vec<(String, String)> = cluster.nodes[owner]
        .query(redis::cmd("HGETALL").arg(outbox_key(&tag)))
        .unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(
        check_reason(&v, &access).await.as_deref(),
        Some("session_missing")
    );
    assert_eq!(
        snapshot_live(&v).await,
        None,
        "no snapshot without the feed's shard"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        pending_metric(&v).await,
        1,
        "still pending while the shard is paused"
    );

    cluster.nodes[feed].resume();
    // From the moment snapshots can be read again until the end is in the feed, none lists the
    // session as live.
    eventually("the relay delivers the end", || async {
        if let Some(live) = snapshot_live(&v).await {
            assert!(!live.contains(&sid), "listed as live: {live:?}");
        }
        matches!(store.read_feed(cursor, None, 1000).await, Ok(FeedRead::Changes { entries: list, .. })
            if list.iter().any(|e| matches!(&e.change, Change::Session { sid: s, .. } if *s == sid)))
    })
    .await;
    // Appends sent while the master was paused may run when it resumes, besides the one that
    // succeeded: the same end more than once, which is harmless.
    let relayed = ends_after(store, cursor).await;
    assert!(!relayed.is_empty());
    for (ended, until) in relayed {
        assert_eq!(ended, sid);
        assert_short(until, before, unix_now(), "relayed");
    }
    eventually("nothing pending", || async {
        pending_metric(&v).await == 0
    })
    .await;
    let left: i64 = cluster.nodes[owner]
        .query(redis::cmd("EXISTS").arg(outbox_key(&tag)))
        .unwrap();
    assert_eq!(left, 0);

    // Down rather than paused: the feed's master is killed (so nothing sent to it runs later)
    // and started again empty. The end waits in the outbox and is relayed once it is back.
    let s = create(&v, &sub).await;
    let sid = sid_of(&s);
    cluster.nodes[feed].kill();
    let before = unix_now();
    let r = logout(
        &v,
        s["refresh_token"].as_str().unwrap(),
        &forwarded_for(&client),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(pending_metric(&v).await, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        pending_metric(&v).await,
        1,
        "still pending while the master is down"
    );
    cluster.nodes[feed].restart();
    eventually(
        "the relay delivers the end to the restarted feed",
        || async {
            let Ok(snapshot) = store.feed_snapshot(unix_now(), 0, 0).await else {
                return false;
            };
            if let Some(ended) = snapshot.sessions.iter().find(|e| e.sid == sid) {
                assert_short(ended.until, before, unix_now(), "relayed after a restart");
                return true;
            }
            false
        },
    )
    .await;
    eventually("nothing pending", || async {
        pending_metric(&v).await == 0
    })
    .await;

    // Outboxes on every master, left by an instance that crashed, among enough other keys that
    // the scan of each master takes several pages: another verifier relays them all.
    let masters = cluster.masters();
    let now = unix_now();
    let mut leftovers = Vec::new();
    for i in 0.. {
        let sub = format!("crash{i}");
        let tag = UserTag::of_sub(&sub);
        let node = cluster.master_of(&outbox_key(&tag));
        if leftovers.iter().any(|(n, _)| *n == node) {
            continue;
        }
        let sid = format!("{}.{}", "D".repeat(22), tag.as_str());
        let mut fill = redis::pipe();
        for k in 0..2500 {
            fill.cmd("SET")
                .arg(format!("warden:{{{}}}:filler:{k}", tag.as_str()))
                .arg(1)
                .ignore();
        }
        fill.cmd("HSET")
            .arg(outbox_key(&tag))
            .arg(&sid)
            .arg(format!("{now} {}", now + 3600))
            .ignore();
        let client = redis::Client::open(cluster.nodes[node].url()).unwrap();
        let mut conn = client.get_connection().unwrap();
        let _: () = fill.query(&mut conn).unwrap();
        leftovers.push((node, sid));
        if leftovers.len() == masters.len() {
            break;
        }
    }
    let other = start_on_cluster(&cluster).await;
    eventually("every master's outbox is relayed", || async {
        let Ok(snapshot) = store.feed_snapshot(unix_now(), 0, 0).await else {
            return false;
        };
        leftovers
            .iter()
            .all(|(_, sid)| snapshot.sessions.iter().any(|s| &s.sid == sid))
    })
    .await;
    drop(other);
}
