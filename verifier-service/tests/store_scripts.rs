//! The store's Lua script registry on real Redis: every file under `store/src/lua/` is a script
//! of the registry, and `load_scripts` leaves every one of them cached (on every master of a Redis
//! Cluster: `scale.rs::redis_cluster_suite`). The session record's expiry as the refresh script sets it is the one
//! `session_record_expiry` computes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{test_store_options, unix_now, RedisServer};
use warden_core::Reason;
use warden_verifier::store::keys::UserTag;
use warden_verifier::store::scripts::LuaScript;
use warden_verifier::store::sessions::{
    session_record_expiry, NewFamily, RefreshCall, RefreshOutcome,
};
use warden_verifier::store::{IdpSession, UserCheck, UserVerdict};
use warden_verifier::Store;

/// The `.lua` files directly under `store/src/lua/` (the prelude lives in a subdirectory).
fn lua_files() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("store/src/lua");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("store/src/lua")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "lua"))
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

async fn script_exists(conn: &mut impl redis::aio::ConnectionLike, hashes: &[String]) -> Vec<i64> {
    redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(hashes)
        .query_async(conn)
        .await
        .expect("SCRIPT EXISTS")
}

#[test]
fn the_registry_lists_every_lua_file_once() {
    let mut registered: Vec<String> = LuaScript::ALL
        .iter()
        .map(|s| s.file_name().to_owned())
        .collect();
    registered.sort();
    assert_eq!(registered, lua_files());
    assert_eq!(LuaScript::ALL.len(), lua_files().len());
}

#[tokio::test]
async fn load_scripts_caches_every_script_on_one_redis() {
    let redis = RedisServer::start();
    let store = Store::new(
        redis::Client::open(redis.url()).unwrap(),
        test_store_options(),
    )
    .unwrap();
    let mut conn = redis.connection().await;
    let expected: Vec<String> = LuaScript::ALL
        .iter()
        .map(|s| store.script_hash(*s))
        .collect();
    assert_eq!(
        script_exists(&mut conn, &expected).await,
        vec![0; expected.len()],
        "a fresh Redis caches none"
    );
    let hashes = store.load_scripts().await.unwrap();
    assert_eq!(hashes, expected);
    assert_eq!(hashes.len(), lua_files().len());
    assert_eq!(
        script_exists(&mut conn, &hashes).await,
        vec![1; hashes.len()]
    );
}

#[tokio::test]
async fn the_refresh_script_sets_the_record_expiry_the_formula_gives() {
    let redis = RedisServer::start();
    let store = Store::new(
        redis::Client::open(redis.url()).unwrap(),
        test_store_options(),
    )
    .unwrap();
    let mut conn = redis.connection().await;
    let now = unix_now();
    // (idle TTL, access TTL, session lifetime): the idle expiry wins, the access TTL wins, the
    // session's own expiry caps both.
    for (n, (idle, access, lifetime)) in [
        (600u64, 300u64, 86_400i64),
        (60, 300, 86_400),
        (600, 300, 400),
    ]
    .into_iter()
    .enumerate()
    {
        let tag = UserTag::of_sub("formula");
        let sid = format!("{}.s{n}", tag.as_str());
        let expires_at = now + lifetime;
        let first = format!("{n}-first");
        store
            .create_session_with_refresh(&NewFamily {
                tag: &tag,
                sid: &sid,
                sub: "formula",
                device: None,
                now,
                expires_at,
                refresh_hash: &first,
                refresh_idle_until: now + idle as i64,
                record_until: session_record_expiry(now, idle, access, expires_at),
                claims_json: "{}",
            })
            .await
            .unwrap();
        let later = now + 10;
        let outcome = store
            .refresh(&RefreshCall {
                tag: &tag,
                sid: &sid,
                presented_hash: &first,
                successor_hash: &format!("{n}-second"),
                successor_sealed: "sealed",
                now: later,
                now_ms: later * 1000,
                idle_ttl_seconds: idle,
                retry_grace_seconds: 5,
                retry_max_uses: 0,
                access_ttl_seconds: access,
                not_before: None,
                rate_per_minute: 0,
            })
            .await
            .unwrap();
        assert!(matches!(outcome, RefreshOutcome::Rotated(_)), "{outcome:?}");
        let expiry: i64 = redis::cmd("EXPIRETIME")
            .arg(tag.session_key(&sid))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            expiry,
            session_record_expiry(later, idle, access, expires_at),
            "case {n}"
        );
    }
}

async fn verdict(store: &Store, check: UserCheck<'_>) -> UserVerdict {
    store.check(&check, false).await.unwrap().0
}

fn user_check<'a>(
    tag: &'a UserTag,
    version: Option<u64>,
    iat: Option<i64>,
    jti: Option<&'a str>,
) -> UserCheck<'a> {
    UserCheck {
        tag,
        sub: "nora",
        jti,
        version,
        iat,
        sid: None,
        idp_session: None,
        now: unix_now(),
        last_seen_interval_seconds: 60,
    }
}

#[tokio::test]
async fn the_check_script_judges_tokens_without_ver_by_the_users_not_before() {
    let redis = RedisServer::start();
    let store = Store::new(
        redis::Client::open(redis.url()).unwrap(),
        test_store_options(),
    )
    .unwrap();
    let tag = &UserTag::of_sub("nora");
    // Never revoked: no not-before, any token passes.
    assert_eq!(
        verdict(&store, user_check(tag, None, None, Some("j"))).await,
        UserVerdict::Allow
    );

    let revoked = store.revoke_user(tag, 1_800_000_000).await.unwrap();
    assert_eq!((revoked.version, revoked.not_before), (1, 1_800_000_000));
    let user_revoked = UserVerdict::Deny(Reason::UserRevoked);
    for (iat, want) in [
        (Some(1_799_999_999), user_revoked),
        (Some(1_800_000_000), user_revoked),
        (Some(1_800_000_001), UserVerdict::Allow),
        (None, user_revoked),
    ] {
        assert_eq!(
            verdict(&store, user_check(tag, None, iat, Some("j"))).await,
            want,
            "{iat:?}"
        );
    }
    assert_eq!(
        verdict(
            &store,
            user_check(tag, Some(0), Some(1_800_000_001), Some("j"))
        )
        .await,
        UserVerdict::Deny(Reason::StaleVersion)
    );
    assert_eq!(
        verdict(&store, user_check(tag, Some(1), None, Some("j"))).await,
        UserVerdict::Allow
    );

    // An earlier revocation moment never lowers the not-before.
    let again = store.revoke_user(tag, 1_700_000_000).await.unwrap();
    assert_eq!((again.version, again.not_before), (2, 1_800_000_000));
    let mut conn = redis.connection().await;
    let held: i64 = redis::AsyncCommands::get(&mut conn, tag.not_before_key())
        .await
        .unwrap();
    assert_eq!(held, 1_800_000_000);

    // A token without jti skips the revoked-jti lookup; one with it does not.
    store.revoke_token(tag, "j", None).await.unwrap();
    assert_eq!(
        verdict(&store, user_check(tag, Some(2), None, Some("j"))).await,
        UserVerdict::Deny(Reason::Revoked)
    );
    assert_eq!(
        verdict(&store, user_check(tag, Some(2), None, None)).await,
        UserVerdict::Allow
    );
}

#[tokio::test]
async fn a_revoked_provider_session_is_read_beside_the_users_script() {
    let redis = RedisServer::start();
    let store = Store::new(
        redis::Client::open(redis.url()).unwrap(),
        test_store_options(),
    )
    .unwrap();
    let tag = UserTag::of_sub("nora");
    let now = unix_now();
    store
        .revoke_idp_session("https://idp.example", "idp-s-1", now + 60)
        .await
        .unwrap();
    let check = |iss: &'static str, sid: &'static str, version: Option<u64>| {
        let mut check = user_check(&tag, version, Some(now), Some("j"));
        check.idp_session = Some(IdpSession { iss, sid });
        check
    };
    for read_not_before in [false, true] {
        let (verdict, not_before) = store
            .check(
                &check("https://idp.example", "idp-s-1", None),
                read_not_before,
            )
            .await
            .unwrap();
        assert_eq!(verdict, UserVerdict::Deny(Reason::SessionRevoked));
        assert_eq!(not_before, read_not_before.then_some(None));
    }
    for (iss, sid) in [
        ("https://idp.example", "idp-s-2"),
        ("https://other.example", "idp-s-1"),
    ] {
        let (verdict, _) = store.check(&check(iss, sid, None), true).await.unwrap();
        assert_eq!(verdict, UserVerdict::Allow, "{iss} {sid}");
    }
    // The user's answer comes first.
    store.revoke_user(&tag, now).await.unwrap();
    let (verdict, _) = store
        .check(&check("https://idp.example", "idp-s-1", Some(0)), false)
        .await
        .unwrap();
    assert_eq!(verdict, UserVerdict::Deny(Reason::StaleVersion));
    // A shorter revocation never shortens the stored one.
    store
        .revoke_idp_session("https://idp.example", "idp-s-1", now + 10)
        .await
        .unwrap();
    let mut conn = redis.connection().await;
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(warden_verifier::store::keys::idp_session_key(
            "https://idp.example",
            "idp-s-1",
        ))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, now + 60);
}
