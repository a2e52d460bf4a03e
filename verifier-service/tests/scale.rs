//! The check and admin suite against a real Redis Cluster (3 masters, 3 replicas) and a real
//! Sentinel group (master, replica, three sentinels), each started once for its suite; two
//! verifier replicas sharing one Redis; failover under a steady stream of checks (503 while it
//! lasts, never a wrong allow; the same answers after it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::topology::{start_verifier, start_verifier_with, Cluster, SentinelGroup, MASTER_NAME};
use common::{unix_now, RedisServer, Verifier, PATIENCE};
use serde_json::json;
use std::time::{Duration, Instant};
use warden_verifier::service::NOT_BEFORE_CACHE_MAX_AGE;
use warden_verifier::store::keys::UserTag;
use warden_verifier::store::scripts::LuaScript;
use warden_verifier::StoreOptions;

fn options(min_replicas_ack: u32) -> StoreOptions {
    StoreOptions {
        timeout: Duration::from_millis(500),
        min_replicas_ack,
        replica_ack_timeout: Duration::from_millis(1000),
    }
}

fn token(sub: &str, jti: &str) -> serde_json::Value {
    json!({ "sub": sub, "jti": jti, "iat": unix_now(), "exp": unix_now() + 600 })
}

async fn revoke_token(v: &Verifier, sub: &str, jti: &str) {
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": sub, "jti": jti, "exp": unix_now() + 600 }),
        )
        .await;
    assert_eq!(r.status, 200, "revoke {sub}/{jti}: {}", r.text());
}

const IDP: &str = "https://idp.example";

/// A verifier for which `IDP` is an identity provider.
async fn start_verifier_with_idp(url: &str) -> Verifier {
    let document = json!({"providers": [{"name": "corp", "issuer": IDP,
        "jwks_uri": "https://idp.example/jwks", "client_ids": ["api"]}]});
    start_verifier_with(
        url,
        options(0),
        common::settings_with_identity_providers(&document),
    )
    .await
}

/// Tokens Warden did not issue: a revoked provider session (its own slot, read beside the user's
/// script) and a user's not-before for tokens without `ver`. Uses subs and sids under `p` only.
async fn foreign_tokens_case(v: &Verifier, p: &str) {
    let sub = format!("{p}-idp-user");
    let idp_token = |sid: &str| {
        let mut t = token(&sub, "j1");
        t["iss"] = json!(IDP);
        t["sid"] = json!(sid);
        t
    };
    let (revoked, other) = (format!("{p}-idp-s-1"), format!("{p}-idp-s-2"));
    v.check(idp_token(&revoked))
        .await
        .assert_allow("a provider's session");
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": IDP, "sid": revoked }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Past the not-before cache's age, so the global key is read beside both as well.
    tokio::time::sleep(NOT_BEFORE_CACHE_MAX_AGE + Duration::from_millis(100)).await;
    v.check(idp_token(&revoked))
        .await
        .assert_deny("session_revoked", "the revoked provider session");
    v.check(idp_token(&other))
        .await
        .assert_allow("another provider session");

    let issued = idp_token(&other);
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": sub }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    v.check(issued)
        .await
        .assert_deny("user_revoked", "issued before revoke/user");
    let mut later = idp_token(&other);
    later["iat"] = json!(unix_now() + 2);
    v.check(later)
        .await
        .assert_allow("issued after revoke/user");
}

/// The check and admin behaviour every topology must show. Uses subs under `p` only.
async fn check_and_admin_cases(v: &Verifier, p: &str) {
    let alice = format!("{p}-alice");
    let bob = format!("{p}-bob");
    v.check(token(&alice, "j1"))
        .await
        .assert_allow("fresh token");

    revoke_token(v, &alice, "j1").await;
    v.check(token(&alice, "j1"))
        .await
        .assert_deny("revoked", "revoked jti");
    v.check(token(&alice, "j2")).await.assert_allow("other jti");
    v.check(token(&bob, "j1")).await.assert_allow("other user");

    // Issued before the revocation: without `ver` refused by the user's not-before, with an
    // older `ver` by the version.
    let issued = token(&bob, "j9");
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": bob }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.json()["version"].as_u64().expect("version");
    v.check(issued.clone())
        .await
        .assert_deny("user_revoked", "issued before, without ver");
    let mut old = issued;
    old["ver"] = json!(version - 1);
    v.check(old)
        .await
        .assert_deny("stale_version", "old version");
    let mut current = token(&bob, "j9");
    current["ver"] = json!(version);
    v.check(current).await.assert_allow("current version");

    // Sessions: the record, its index and the check in the user's slot; a sid of another user
    // is looked up in that user's slot (a second call, in another slot).
    let sid = v.new_session(&alice).await;
    let mut with_sid = token(&alice, "s1");
    with_sid["sid"] = json!(sid);
    v.check(with_sid.clone()).await.assert_allow("live session");
    let listed = v
        .admin_get(&format!("/v1/admin/users/{alice}/sessions"))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()["sessions"][0]["sid"], json!(sid));
    let mut foreign = token(&format!("{p}-frank"), "s1");
    foreign["sid"] = json!(sid);
    v.check(foreign)
        .await
        .assert_deny("session_mismatch", "another user's sid");
    let deleted = v.admin_delete(&format!("/v1/admin/sessions/{sid}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    v.check(with_sid)
        .await
        .assert_deny("session_missing", "deleted session");
    let again = v.admin_delete(&format!("/v1/admin/sessions/{sid}")).await;
    assert_eq!(again.status, 404, "{}", again.text());

    // Many users: their keys spread over every slot range (on a cluster, every master).
    let many: Vec<String> = (0..24).map(|i| format!("{p}-user{i}")).collect();
    for sub in &many {
        revoke_token(v, sub, "bulk").await;
    }
    for sub in &many {
        v.check(token(sub, "bulk"))
            .await
            .assert_deny("revoked", sub);
        v.check(token(sub, "other")).await.assert_allow(sub);
    }
}

/// A verifier that logs in as an ACL user (the URL's credentials reach every node) works; one with
/// a wrong password answers 503.
async fn credentials_case(url_with: impl Fn(&str) -> String, p: &str) {
    let good = start_verifier(&url_with("warden:s3cret%21"), options(0)).await;
    let sub = format!("{p}-acl");
    revoke_token(&good, &sub, "j1").await;
    good.check(token(&sub, "j1"))
        .await
        .assert_deny("revoked", "as the ACL user");
    good.check(token(&sub, "j2"))
        .await
        .assert_allow("as the ACL user");
    let bad = start_verifier(&url_with("warden:wrong"), options(0)).await;
    bad.check(token(&sub, "j1"))
        .await
        .assert_error(503, "unavailable");
}

fn acl_user() -> redis::Cmd {
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg("warden")
        .arg("on")
        .arg(">s3cret!")
        .arg("~warden:*")
        .arg("+@all");
    cmd
}

/// Revoke-all: the global key, outside every user's slot.
async fn revoke_all_case(v: &Verifier, p: &str) {
    let sub = format!("{p}-carol");
    let issued = unix_now();
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let not_before = r.json()["not_before"].as_i64().expect("not_before");
    assert!(not_before >= issued);
    let mut old = token(&sub, "a1");
    old["iat"] = json!(issued);
    v.check(old)
        .await
        .assert_deny("revoked_all", "issued before revoke-all");
    let mut new = token(&sub, "a2");
    new["iat"] = json!(not_before + 1);
    v.check(new).await.assert_allow("issued after revoke-all");
}

/// Two verifiers on one Redis: what one writes, the other sees on the next request; revoke-all
/// within the not-before cache bound.
async fn two_replicas_case(a: &Verifier, b: &Verifier, p: &str) {
    let sub = format!("{p}-dave");
    b.check(token(&sub, "t1")).await.assert_allow("before");
    revoke_token(a, &sub, "t1").await;
    b.check(token(&sub, "t1"))
        .await
        .assert_deny("revoked", "revoked via a, seen by b");

    let issued = token(&sub, "t2");
    let r = b
        .admin_post("/v1/admin/revoke/user", json!({ "sub": sub }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    a.check(issued)
        .await
        .assert_deny("user_revoked", "user revoked via b");

    let sid = a.new_session(&sub).await;
    let mut with_sid = token(&sub, "t3");
    with_sid["sid"] = json!(sid);
    with_sid["ver"] = r.json()["version"].clone();
    b.check(with_sid.clone())
        .await
        .assert_allow("session made via a, seen by b");
    let deleted = b.admin_delete(&format!("/v1/admin/sessions/{sid}")).await;
    assert_eq!(deleted.status, 204);
    a.check(with_sid)
        .await
        .assert_deny("session_missing", "deleted via b");

    // b reads (and caches) the global not-before; a revokes all; b refuses old tokens once its
    // copy is older than the documented bound.
    let mut old = token(&format!("{p}-erin"), "t4");
    let issued = unix_now();
    old["iat"] = json!(issued);
    let first = b.check(old.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let r = a.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    a.check(old.clone())
        .await
        .assert_deny("revoked_all", "on the replica that revoked");
    tokio::time::sleep(NOT_BEFORE_CACHE_MAX_AGE + Duration::from_millis(100)).await;
    b.check(old)
        .await
        .assert_deny("revoked_all", "on the other replica, after the bound");
}

/// Checks sent round after round while `kill` runs: a revoked token is never allowed, a good one
/// never denied; some answers are 503 while the master is gone; afterwards, every answer is the
/// one from before the kill.
async fn failover_case(v: &Verifier, subs: &[String], kill: impl FnOnce() + Send + 'static) {
    // iat after any revoke-all of the earlier cases.
    let now = unix_now() + 60;
    let body = |sub: &str, jti: &str| json!({ "sub": sub, "jti": jti, "iat": now, "exp": unix_now() + 600 });
    for sub in subs {
        revoke_token(v, sub, "stolen").await;
    }
    for sub in subs {
        v.check(body(sub, "stolen"))
            .await
            .assert_deny("revoked", "before the kill");
        v.check(body(sub, "good"))
            .await
            .assert_allow("before the kill");
    }
    let killer = std::thread::spawn(kill);
    let deadline = Instant::now() + PATIENCE * 2;
    let (mut unavailable, mut answered, mut clean_rounds) = (0u32, 0u32, 0u32);
    let mut killed = false;
    while clean_rounds < 10 {
        assert!(
            Instant::now() < deadline,
            "no recovery after the failover ({unavailable} answers 503, {answered} answered)"
        );
        killed = killed || killer.is_finished();
        let mut clean = true;
        for sub in subs {
            for (jti, wanted) in [("stolen", Some("revoked")), ("good", None)] {
                let r = v.check(body(sub, jti)).await;
                match r.status {
                    503 => {
                        unavailable += 1;
                        clean = false;
                    }
                    200 => {
                        answered += 1;
                        let expected = match wanted {
                            Some(reason) => json!({ "allow": false, "reason": reason }),
                            None => json!({ "allow": true }),
                        };
                        assert_eq!(r.json(), expected, "{sub}/{jti} during the failover");
                    }
                    other => panic!("{sub}/{jti}: unexpected status {other}: {}", r.text()),
                }
            }
        }
        if killed && unavailable > 0 && clean {
            clean_rounds += 1;
        } else {
            clean_rounds = 0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killer.join().expect("kill");
    assert!(unavailable > 0, "the kill was never seen as a 503");
    for sub in subs {
        v.check(body(sub, "stolen"))
            .await
            .assert_deny("revoked", "after the failover");
        v.check(body(sub, "good"))
            .await
            .assert_allow("after the failover");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_redis_suite() {
    let redis = RedisServer::start();
    let a = start_verifier(&redis.url(), options(0)).await;
    let b = start_verifier(&redis.url(), options(0)).await;
    check_and_admin_cases(&a, "single").await;
    foreign_tokens_case(&start_verifier_with_idp(&redis.url()).await, "single").await;
    two_replicas_case(&a, &b, "single").await;
    revoke_all_case(&a, "single").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_suite() {
    let mut cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .expect("cluster");
    let url = cluster.url();
    let a = start_verifier(&url, options(0)).await;
    let b = start_verifier(&url, options(0)).await;
    check_and_admin_cases(&a, "cluster").await;
    foreign_tokens_case(&start_verifier_with_idp(&url).await, "cluster").await;

    // The users' keys landed on more than one master: the suite really crossed nodes.
    let with_keys = cluster
        .masters()
        .into_iter()
        .filter(|&i| {
            cluster.nodes[i]
                .query::<i64>(&mut redis::cmd("DBSIZE"))
                .unwrap()
                > 0
        })
        .count();
    assert!(with_keys >= 2, "keys on {with_keys} master(s) only");

    // Preloading sends every script to every master (flushed first: the cases above ran scripts
    // on every master already).
    cluster.on_every_node(redis::cmd("SCRIPT").arg("FLUSH"));
    let hashes = a.state.0.store.load_scripts().await.unwrap();
    assert_eq!(hashes.len(), LuaScript::ALL.len());
    for master in cluster.masters() {
        let exists: Vec<i64> = cluster.nodes[master]
            .query(redis::cmd("SCRIPT").arg("EXISTS").arg(&hashes))
            .unwrap();
        assert!(
            exists.iter().all(|&e| e == 1),
            "{exists:?} on master {master}"
        );
    }

    // Every node forgets the scripts (as after a restart): the next calls load them again.
    cluster.on_every_node(redis::cmd("SCRIPT").arg("FLUSH"));
    a.check(token("cluster-alice", "j1"))
        .await
        .assert_deny("revoked", "after SCRIPT FLUSH");
    revoke_token(&a, "cluster-user3", "after-flush").await;
    b.check(token("cluster-user3", "after-flush"))
        .await
        .assert_deny("revoked", "after SCRIPT FLUSH");

    cluster.on_every_node(&mut acl_user());
    let seeds = url.trim_start_matches("redis+cluster://").to_owned();
    credentials_case(|c| format!("redis+cluster://{c}@{seeds}"), "cluster").await;

    two_replicas_case(&a, &b, "cluster").await;
    revoke_all_case(&a, "cluster").await;

    // Failover: kill the master of the first victim's slot.
    let acked = start_verifier(&url, options(1)).await;
    let subs: Vec<String> = (0..6).map(|i| format!("cluster-victim{i}")).collect();
    let victim_key = UserTag::of_sub(&subs[0]).version_key();
    let doomed = cluster.master_of(&victim_key);
    let port = cluster.nodes[doomed].port;
    let mut node = std::mem::replace(
        &mut cluster.nodes[doomed],
        // A placeholder that owns nothing: the real node is moved into the killer thread.
        common::topology::Node::placeholder(),
    );
    failover_case(&acked, &subs, move || node.kill()).await;
    let now_master = cluster.master_of(&victim_key);
    assert_ne!(cluster.nodes[now_master].port, port, "a replica took over");
    // The other verifier, which saw none of it, gives the same answers.
    b.check(
        json!({ "sub": subs[0], "jti": "stolen", "iat": unix_now() + 60, "exp": unix_now() + 600 }),
    )
    .await
    .assert_deny("revoked", "via the other replica after the failover");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sentinel_suite() {
    let group = tokio::task::spawn_blocking(SentinelGroup::start)
        .await
        .expect("sentinel group");
    let url = group.url();
    let a = start_verifier(&url, options(0)).await;
    let b = start_verifier(&url, options(0)).await;
    check_and_admin_cases(&a, "sentinel").await;
    for node in &group.data {
        let _: redis::Value = node.query(redis::cmd("SCRIPT").arg("FLUSH")).unwrap();
    }
    a.check(token("sentinel-alice", "j1"))
        .await
        .assert_deny("revoked", "after SCRIPT FLUSH");
    for node in &group.data {
        let _: redis::Value = node.query(&mut acl_user()).unwrap();
    }
    let sentinels = url.trim_start_matches("redis+sentinel://").to_owned();
    credentials_case(|c| format!("redis+sentinel://{c}@{sentinels}"), "sentinel").await;
    two_replicas_case(&a, &b, "sentinel").await;
    revoke_all_case(&a, "sentinel").await;

    // A failover that breaks no connection (the old master stays up, demoted to replica): the
    // verifier's sentinel watch moves it to the new master before any write hits READONLY.
    let first = group.master();
    let _: redis::Value = group.sentinels[0]
        .query(redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER_NAME))
        .unwrap();
    let group = tokio::task::spawn_blocking(move || {
        common::topology::wait_until("the sentinels name the other node", || {
            group.master() != first
        });
        let second = group.master();
        group.wait_stable(second);
        group
    })
    .await
    .unwrap();
    let mut group = group;
    a.check(token("sentinel-moved", "m1"))
        .await
        .assert_allow("after a manual failover");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = a
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "sentinel-moved", "jti": "m1", "exp": unix_now() + 600 }),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "first write after a manual failover: {}",
        r.text()
    );
    b.check(token("sentinel-moved", "m1"))
        .await
        .assert_deny("revoked", "after a manual failover");

    let acked = start_verifier(&url, options(1)).await;
    let subs: Vec<String> = (0..3).map(|i| format!("sentinel-victim{i}")).collect();
    let doomed = group.master();
    let port = group.data[doomed].port;
    let mut node = std::mem::replace(
        &mut group.data[doomed],
        common::topology::Node::placeholder(),
    );
    failover_case(&acked, &subs, move || node.kill()).await;
    let promoted = group.master();
    assert_ne!(
        group.data[promoted].port, port,
        "the sentinels promoted the replica"
    );
    // `b` made no call since the kill: its first one may still reach the dead master and answer
    // 503 (a failed call is not retried, by design: store/sentinel.rs) unless its watcher noticed
    // the new master first. It fails closed meanwhile; within seconds it must answer "revoked".
    let stolen =
        json!({ "sub": subs[0], "jti": "stolen", "iat": unix_now() + 60, "exp": unix_now() + 600 });
    let mut answer = b.check(stolen.clone()).await;
    for _ in 0..50 {
        if answer.status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = b.check(stolen.clone()).await;
    }
    answer.assert_deny("revoked", "via the other replica after the failover");
    // Writes go to the new master (no replica left to acknowledge: the verifier without WAIT).
    revoke_token(&b, "sentinel-after", "x").await;
    a.check(token("sentinel-after", "x"))
        .await
        .assert_deny("revoked", "written after the failover");

    // Without the sentinels no failover can happen: the master in use keeps serving.
    for sentinel in &mut group.sentinels {
        sentinel.kill();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.check(token("sentinel-after", "x"))
        .await
        .assert_deny("revoked", "with every sentinel down");
    revoke_token(&b, "sentinel-after", "y").await;
}
