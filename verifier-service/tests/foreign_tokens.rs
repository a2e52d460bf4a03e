//! Tokens Warden did not issue, against a real redis-server: `revoke/user` judges tokens without
//! `ver` by their `iat` against the user's not-before (never locking the user out of later
//! tokens), and the sessions of configured identity providers are theirs: allowed whatever their
//! sid, refused once `POST /v1/admin/revoke/session` revoked them, in `/v1/check` and the feed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, unix_now, RedisServer, Verifier};
use redis::AsyncCommands;
use serde_json::{json, Value};
use warden_core::protocol::feed::{Change, PollAnswer};
use warden_verifier::store::keys::{idp_session_key, UserTag};

const IDP: &str = "https://idp.example";
const PARTNER: &str = "https://partner.example";
const IDP_LIFETIME: i64 = 900;
const SKEW: i64 = 300;

/// A verifier whose `--identity-providers` document names `IDP` (tokens live at most
/// `IDP_LIFETIME`) and `PARTNER`.
async fn start_with_providers(redis: &RedisServer) -> Verifier {
    let document = json!({"providers": [
        {"name": "corp", "issuer": IDP, "jwks_uri": "https://idp.example/jwks",
         "client_ids": ["api"], "max_token_lifetime_seconds": IDP_LIFETIME},
        {"name": "partner", "issuer": PARTNER,
         "discovery_url": "https://partner.example/.well-known/openid-configuration",
         "client_ids": ["api"]}
    ]});
    let settings = common::settings_with_identity_providers(&document);
    assert_eq!(settings.revocation_skew_seconds, SKEW as u64);
    Verifier::start_with(&redis.url(), common::test_store_options(), settings).await
}

fn claims(sub: &str, jti: &str, iat: Option<i64>) -> Value {
    let mut claims = json!({ "sub": sub, "jti": jti, "exp": unix_now() + 600 });
    if let Some(iat) = iat {
        claims["iat"] = json!(iat);
    }
    claims
}

fn idp_token(iss: Option<&str>, sid: &str) -> Value {
    let mut token = claims("idp-user", "j1", Some(unix_now()));
    token["sid"] = json!(sid);
    if let Some(iss) = iss {
        token["iss"] = json!(iss);
    }
    token
}

async fn user_not_before(redis: &RedisServer, sub: &str) -> Option<i64> {
    let mut conn = redis.connection().await;
    conn.get(UserTag::of_sub(sub).not_before_key())
        .await
        .unwrap()
}

#[tokio::test]
async fn revoke_user_refuses_tokens_without_ver_issued_at_or_before_it_and_no_later() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let before = unix_now();
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.json(), json!({ "version": 1 }), "the answer is unchanged");
    let not_before = user_not_before(&redis, "alice").await.expect("not-before");
    assert!((before..=unix_now()).contains(&not_before), "{not_before}");

    let cases = [
        (Some(not_before - 60), Some("user_revoked"), "issued before"),
        (
            Some(not_before),
            Some("user_revoked"),
            "issued in the same second",
        ),
        (Some(not_before + 1), None, "issued after"),
        (None, Some("user_revoked"), "without iat"),
    ];
    for (iat, reason, what) in cases {
        let answer = v.check(claims("alice", "j1", iat)).await;
        match reason {
            Some(reason) => answer.assert_deny(reason, what),
            None => answer.assert_allow(what),
        }
    }
    // With `ver`: the version alone decides, as before.
    let mut with_ver = claims("alice", "j1", Some(not_before + 60));
    with_ver["ver"] = json!(0);
    v.check(with_ver.clone())
        .await
        .assert_deny("stale_version", "older ver, issued after");
    with_ver["ver"] = json!(1);
    with_ver["iat"] = json!(not_before - 60);
    v.check(with_ver.clone())
        .await
        .assert_allow("current ver, issued before");
    // Another user is untouched, with or without iat.
    v.check(claims("bob", "j1", None))
        .await
        .assert_allow("another user");

    // The not-before never expires and is only raised.
    let mut conn = redis.connection().await;
    let key = UserTag::of_sub("alice").not_before_key();
    let ttl: i64 = conn.ttl(&key).await.unwrap();
    assert_eq!(ttl, -1);
    let _: () = conn.set(&key, not_before + 1000).await.unwrap();
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "alice" }))
        .await;
    assert_eq!(r.json(), json!({ "version": 2 }));
    assert_eq!(
        user_not_before(&redis, "alice").await,
        Some(not_before + 1000)
    );
}

#[tokio::test]
async fn a_user_revoked_before_not_befores_existed_stays_revoked_until_revoked_again() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    // A version without a not-before: the moment of that revocation is unknown.
    let mut conn = redis.connection().await;
    let _: () = conn
        .set(UserTag::of_sub("carol").version_key(), 1)
        .await
        .unwrap();
    v.check(claims("carol", "j1", Some(unix_now() + 5)))
        .await
        .assert_deny("user_revoked", "legacy revocation, token without ver");
    let mut with_ver = claims("carol", "j1", None);
    with_ver["ver"] = json!(1);
    v.check(with_ver)
        .await
        .assert_allow("legacy revocation, current ver");
    // The next revocation stores one: later tokens pass again.
    v.admin_post("/v1/admin/revoke/user", json!({ "sub": "carol" }))
        .await;
    let not_before = user_not_before(&redis, "carol").await.expect("not-before");
    v.check(claims("carol", "j1", Some(not_before + 1)))
        .await
        .assert_allow("issued after the new revocation");
}

#[tokio::test]
async fn a_providers_session_is_its_own_allowed_until_revoked_by_issuer_and_sid() {
    let redis = RedisServer::start();
    let v = start_with_providers(&redis).await;
    let uuid = "0b5e1c1e-6a8f-4d55-9b1f-3f6a2d0c9e11";
    let ours = v.new_session("someone-else").await;
    // Any sid of a provider's token passes while not revoked, even a Warden session's of another
    // user (as a Warden session it would be `session_mismatch`).
    for sid in ["idp-s-1", uuid, ours.as_str()] {
        v.check(idp_token(Some(IDP), sid))
            .await
            .assert_allow(&format!("provider sid {sid}"));
    }
    // Another issuer's (or no issuer's) sid is a Warden session, as before.
    for iss in [Some("https://elsewhere.example"), None] {
        v.check(idp_token(iss, "idp-s-1"))
            .await
            .assert_deny("session_missing", &format!("{iss:?}"));
    }

    let before = unix_now();
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": IDP, "sid": "idp-s-1" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let until = r.json()["until"].as_i64().expect("until");
    assert!(
        (before + IDP_LIFETIME + SKEW..=unix_now() + IDP_LIFETIME + SKEW).contains(&until),
        "{until}"
    );
    assert_eq!(
        r.json(),
        json!({ "iss": IDP, "sid": "idp-s-1", "until": until })
    );
    v.check(idp_token(Some(IDP), "idp-s-1"))
        .await
        .assert_deny("session_revoked", "the revoked session");
    v.check(idp_token(Some(IDP), uuid))
        .await
        .assert_allow("another sid of the provider");
    v.check(idp_token(Some(PARTNER), "idp-s-1"))
        .await
        .assert_allow("the same sid of another provider");
    v.check(idp_token(Some("https://elsewhere.example"), "idp-s-1"))
        .await
        .assert_deny("session_missing", "a non-provider issuer's sid");

    // Kept until `until`, in the issuer's own slot.
    let mut conn = redis.connection().await;
    let key = idp_session_key(IDP, "idp-s-1");
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, until);

    // With `exp`: exp + skew; a shorter revocation never shortens a longer one.
    let exp = unix_now() + 60;
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": IDP, "sid": "idp-s-1", "exp": exp }),
        )
        .await;
    assert_eq!(r.json()["until"], exp + SKEW);
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, until, "never shortened");
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": PARTNER, "sid": uuid, "exp": exp }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let expire_at: i64 = redis::cmd("EXPIRETIME")
        .arg(idp_session_key(PARTNER, uuid))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(expire_at, exp + SKEW);
    v.check(idp_token(Some(PARTNER), uuid))
        .await
        .assert_deny("session_revoked", "revoked with exp");
    v.check(idp_token(Some(IDP), uuid))
        .await
        .assert_allow("same sid, the other provider");

    // The audit event names the session, not a token.
    let events = common::issuer::stream_entries(&redis).await;
    let revoked: Vec<_> = events
        .iter()
        .filter(|e| e.iter().any(|(k, v)| k == "detail" && v == "idp_session"))
        .collect();
    assert_eq!(revoked.len(), 3, "{events:?}");
    assert!(revoked[0]
        .iter()
        .any(|(k, v)| k == "event" && v == "session_revoked"));
    assert!(revoked[0].iter().any(|(k, v)| k == "sid" && v == "idp-s-1"));
}

#[tokio::test]
async fn answers_keep_their_order_for_provider_tokens() {
    let redis = RedisServer::start();
    let v = start_with_providers(&redis).await;
    let before = unix_now();
    let mut token = idp_token(Some(IDP), "idp-s-2");
    token["iat"] = json!(before);
    let exp = token["exp"].as_i64().unwrap();
    v.admin_post(
        "/v1/admin/revoke/session",
        json!({ "iss": IDP, "sid": "idp-s-2" }),
    )
    .await;
    v.check(token.clone())
        .await
        .assert_deny("session_revoked", "session alone");
    v.admin_post("/v1/admin/revoke/user", json!({ "sub": "idp-user" }))
        .await;
    v.check(token.clone())
        .await
        .assert_deny("user_revoked", "the user's answer first");
    v.admin_post(
        "/v1/admin/revoke/token",
        json!({ "sub": "idp-user", "jti": "j1", "exp": exp }),
    )
    .await;
    v.check(token)
        .await
        .assert_deny("revoked", "the jti's answer first");
}

#[tokio::test]
async fn revoke_session_refuses_bad_input_and_answers_503_without_redis() {
    let mut redis = RedisServer::start();
    let v = start_with_providers(&redis).await;
    let cases = [
        (
            json!({ "iss": "https://elsewhere.example", "sid": "s" }),
            "`iss`",
        ),
        (json!({ "iss": IDP }), "sid"),
        (json!({ "sid": "s" }), "iss"),
        (json!({ "iss": IDP, "sid": "" }), "`sid`"),
        (json!({ "iss": IDP, "sid": "a".repeat(257) }), "`sid`"),
        (
            json!({ "iss": IDP, "sid": "s", "exp": "soon" }),
            "invalid type",
        ),
        (json!({ "iss": IDP, "sid": "s", "exp": -1 }), "`exp`"),
        (
            json!({ "iss": IDP, "sid": "s", "exp": unix_now() - 2 * SKEW }),
            "revocation window",
        ),
        (json!({ "iss": IDP, "sid": "s", "sub": "x" }), "sub"),
    ];
    for (body, names) in cases {
        let r = v.admin_post("/v1/admin/revoke/session", body.clone()).await;
        r.assert_error(400, "bad_request");
        let message = r.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(names), "{body}: {message}");
    }
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": "https://elsewhere.example", "sid": "s" }),
        )
        .await;
    assert!(
        r.text().contains("DELETE /v1/admin/sessions/"),
        "{}",
        r.text()
    );
    let auth = format!("Bearer {}", common::ADMIN_TOKEN);
    let r = request(
        v.admin,
        "POST",
        "/v1/admin/revoke/session",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        b"{\"iss\": ",
    )
    .await;
    r.assert_error(400, "bad_request");
    let r = request(
        v.admin,
        "POST",
        "/v1/admin/revoke/session",
        &[("content-type", "application/json")],
        json!({ "iss": IDP, "sid": "s" }).to_string().as_bytes(),
    )
    .await;
    r.assert_error(401, "unauthorized");
    // Nothing was stored by any of them.
    let mut conn = redis.connection().await;
    let keys: Vec<String> = conn.keys("*").await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");

    redis.stop();
    v.admin_post(
        "/v1/admin/revoke/session",
        json!({ "iss": IDP, "sid": "s" }),
    )
    .await
    .assert_error(503, "unavailable");
}

async fn poll(v: &Verifier, query: &str) -> PollAnswer {
    let answer = request(v.check, "GET", &format!("/v1/revocations{query}"), &[], b"").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_str(&answer.text()).unwrap()
}

#[tokio::test]
async fn the_feed_carries_not_befores_provider_sessions_and_issuers() {
    let redis = RedisServer::start();
    let v = start_with_providers(&redis).await;
    // One entry first, so the cursor names an entry of the feed.
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "x", "jti": "x", "exp": unix_now() + 60 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let PollAnswer::Snapshot(first) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(first.idp_issuers, vec![IDP, PARTNER]);
    assert!(first.idp_sessions.is_empty());

    v.admin_post("/v1/admin/revoke/user", json!({ "sub": "dora" }))
        .await;
    let not_before = user_not_before(&redis, "dora").await.expect("not-before");
    let r = v
        .admin_post(
            "/v1/admin/revoke/session",
            json!({ "iss": IDP, "sid": "idp-s-1" }),
        )
        .await;
    let until = r.json()["until"].as_i64().unwrap();

    let PollAnswer::Changes(c) = poll(&v, &format!("?after={}&wait_ms=0", first.seq)).await else {
        panic!("no changes")
    };
    assert_eq!(c.idp_issuers, vec![IDP, PARTNER]);
    let changes: Vec<Change> = c.changes.into_iter().map(|e| e.change).collect();
    assert_eq!(
        changes,
        vec![
            Change::User {
                sub: "dora".into(),
                version: 1,
                not_before: Some(not_before),
            },
            Change::IdpSession {
                iss: IDP.into(),
                sid: "idp-s-1".into(),
                until,
            },
        ]
    );

    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert_eq!(s.idp_issuers, vec![IDP, PARTNER]);
    assert_eq!(s.users.len(), 1);
    assert_eq!(
        (
            s.users[0].sub.as_str(),
            s.users[0].version,
            s.users[0].not_before
        ),
        ("dora", 1, Some(not_before))
    );
    assert_eq!(s.idp_sessions.len(), 1);
    assert_eq!(
        (
            s.idp_sessions[0].iss.as_str(),
            s.idp_sessions[0].sid.as_str(),
            s.idp_sessions[0].until
        ),
        (IDP, "idp-s-1", until)
    );
}

#[tokio::test]
async fn without_providers_the_feed_names_no_issuers() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let PollAnswer::Snapshot(s) = poll(&v, "").await else {
        panic!("no snapshot")
    };
    assert!(s.idp_issuers.is_empty());
    // And every issuer's sid is a Warden session; revoke/session has no provider to name.
    v.check(idp_token(Some(IDP), "idp-s-1"))
        .await
        .assert_deny("session_missing", "no providers configured");
    v.admin_post(
        "/v1/admin/revoke/session",
        json!({ "iss": IDP, "sid": "idp-s-1" }),
    )
    .await
    .assert_error(400, "bad_request");
}
