//! Identity providers telling the verifier about logouts and security events, against a real
//! redis-server and a real local HTTP server publishing the provider's discovery document and
//! keys: `POST /v1/backchannel-logout/{name}` (OpenID Connect Back-Channel Logout 1.0) and
//! `POST /v1/ssf/{name}` (SETs pushed per RFC 8935). Tokens are signed with the test kit's keys.
//!
//! The tests that look at what a revocation does to `/v1/check` (`session_revoked`,
//! `user_revoked`) need wt-revoke's `revoke_idp_session` and per-user not-before (merged on this
//! branch); they are the ones named `..._reaches_check`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::{request, unix_now, RedisServer, Response, Verifier};
use redis::AsyncCommands;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use warden_testkit::sign::signing_input;
use warden_testkit::{b64, keys, Algorithm, Keys};
use warden_verifier::store::keys::{idp_event_jti_key, idp_session_key, UserTag};

const ISS: &str = "https://idp.example";
const BCL: &str = "http://schemas.openid.net/event/backchannel-logout";
const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/caep/event-type/credential-change";

/// The provider's published documents, and how often each was fetched.
#[derive(Clone)]
struct IdpServer {
    addr: SocketAddr,
    jwks: Arc<Mutex<Value>>,
    jwks_fetches: Arc<AtomicUsize>,
    discovery_fetches: Arc<AtomicUsize>,
    /// While set, `/jwks` answers 500.
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl IdpServer {
    async fn start() -> IdpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = IdpServer {
            addr: listener.local_addr().unwrap(),
            jwks: Arc::new(Mutex::new(
                json!({ "keys": [keys().jwk(Algorithm::ES256)] }),
            )),
            jwks_fetches: Arc::default(),
            discovery_fetches: Arc::default(),
            failing: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/jwks",
                get(|State(s): State<IdpServer>| async move {
                    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    if s.failing.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    let jwks = s.jwks.lock().unwrap().clone();
                    Ok(Json(jwks))
                }),
            )
            .route(
                "/.well-known/openid-configuration",
                get(|State(s): State<IdpServer>| async move {
                    s.discovery_fetches.fetch_add(1, Ordering::SeqCst);
                    Json(json!({
                        "issuer": ISS,
                        "jwks_uri": format!("http://{}/jwks", s.addr),
                        "backchannel_logout_supported": true,
                    }))
                }),
            )
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn discovery_url(&self) -> String {
        format!("http://{}/.well-known/openid-configuration", self.addr)
    }

    fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

/// The verifier with provider `corp` (issuer [`ISS`], client id `api`), its keys found through
/// `source` (`discovery_url` or `jwks_uri`).
async fn start_verifier(redis: &RedisServer, source: (&str, String)) -> Verifier {
    let mut provider = json!({ "name": "corp", "issuer": ISS, "client_ids": ["api", "web"] });
    provider[source.0] = json!(source.1);
    let settings = common::settings_with_identity_providers(&json!({ "providers": [provider] }));
    Verifier::start_with(&redis.url(), common::test_store_options(), settings).await
}

async fn start(redis: &RedisServer) -> (IdpServer, Verifier) {
    let idp = IdpServer::start().await;
    let v = start_verifier(redis, ("discovery_url", idp.discovery_url())).await;
    (idp, v)
}

/// A compact JWS over exactly `header` and `claims`, signed with `keys`' key for the header's alg.
fn sign_with(keys: &Keys, header: &Value, claims: &Value) -> String {
    let alg = Algorithm::from_name(header["alg"].as_str().unwrap()).unwrap();
    let input = signing_input(header.to_string().as_bytes(), claims.to_string().as_bytes());
    format!("{input}.{}", b64(&keys.signature(alg, input.as_bytes())))
}

fn header(typ: &str) -> Value {
    json!({ "alg": "ES256", "kid": "p256", "typ": typ })
}

fn sign(claims: &Value) -> String {
    sign_with(keys(), &header("logout+jwt"), claims)
}

fn logout_claims(jti: &str) -> Value {
    let now = unix_now();
    json!({
        "iss": ISS, "aud": "api", "iat": now, "exp": now + 120, "jti": jti,
        "sub": "alice", "sid": "s-1", "events": { BCL: {} }
    })
}

async fn post_logout(v: &Verifier, name: &str, token: &str) -> Response {
    request(
        v.check,
        "POST",
        &format!("/v1/backchannel-logout/{name}"),
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("logout_token={token}").as_bytes(),
    )
    .await
}

async fn push(v: &Verifier, name: &str, set: &str) -> Response {
    request(
        v.check,
        "POST",
        &format!("/v1/ssf/{name}"),
        &[("content-type", "application/secevent+jwt")],
        set.as_bytes(),
    )
    .await
}

fn assert_logout_refused(r: &Response, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(r.json()["error"], "invalid_request", "{what}");
    assert!(r.json()["error_description"].is_string(), "{what}");
}

fn assert_push_refused(r: &Response, err: &str, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    assert_eq!(r.json()["err"], err, "{what}: {}", r.text());
    assert!(r.json()["description"].is_string(), "{what}");
}

/// Whether anything was revoked for `sub` (version, not-before) or the provider's `sid`.
async fn revoked_anything(redis: &RedisServer, sub: &str, sid: &str) -> bool {
    let mut conn = redis.connection().await;
    let tag = UserTag::of_sub(sub);
    let keys = [
        tag.version_key(),
        tag.not_before_key(),
        idp_session_key(ISS, sid),
    ];
    let found: i64 = conn.exists(&keys[..]).await.unwrap();
    found > 0
}

/// A provider token as the filter sends it to `/v1/check` (no `ver`).
fn access_token(sub: &str, sid: &str, iat: i64) -> Value {
    json!({ "iss": ISS, "sub": sub, "sid": sid, "jti": format!("at-{iat}"),
            "iat": iat, "exp": unix_now() + 600 })
}

#[tokio::test]
async fn a_logout_with_sid_revokes_that_session_once_and_reaches_check() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let before = access_token("alice", "s-1", unix_now() - 10);
    v.check(before.clone())
        .await
        .assert_allow("before the logout");

    let token = sign(&logout_claims("j-1"));
    let r = post_logout(&v, "corp", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.body.is_empty());

    let mut conn = redis.connection().await;
    let stored: bool = conn.exists(idp_session_key(ISS, "s-1")).await.unwrap();
    assert!(stored, "the provider's session is revoked in Redis");
    let jti_ttl: i64 = conn.ttl(idp_event_jti_key(ISS, "j-1")).await.unwrap();
    assert!((1..=120 + 400).contains(&jti_ttl), "jti kept {jti_ttl} s");
    v.check(before)
        .await
        .assert_deny("session_revoked", "a token of the logged-out session");
    v.check(access_token("alice", "s-2", unix_now() - 10))
        .await
        .assert_allow("another session of the same user");
    let user = UserTag::of_sub("alice");
    let user_revoked: bool = conn.exists(user.not_before_key()).await.unwrap();
    assert!(!user_revoked, "a logout with sid revokes the session only");

    // The same token again: a replay.
    assert_logout_refused(&post_logout(&v, "corp", &token).await, "replayed jti");
    // The same jti of another provider would be another key: the jti is the issuer's.
    assert_ne!(
        idp_event_jti_key(ISS, "j-1"),
        idp_event_jti_key("https://other.example", "j-1")
    );
}

#[tokio::test]
async fn a_logout_with_only_sub_revokes_the_user_and_reaches_check() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let mut claims = logout_claims("j-user");
    claims.as_object_mut().unwrap().remove("sid");
    let r = post_logout(&v, "corp", &sign(&claims)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut conn = redis.connection().await;
    let not_before: Option<i64> = conn
        .get(UserTag::of_sub("alice").not_before_key())
        .await
        .unwrap();
    assert!(not_before.is_some(), "the user's not-before is stored");
    v.check(access_token("alice", "s-1", unix_now() - 10))
        .await
        .assert_deny("user_revoked", "a token issued before the logout");
}

#[tokio::test]
async fn every_failing_check_is_a_400_and_revokes_nothing() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let now = unix_now();
    let edit = |name: &str, value: Option<Value>| {
        let mut claims = logout_claims(&format!("j-{name}"));
        match value {
            Some(value) => claims[name] = value,
            None => {
                claims.as_object_mut().unwrap().remove(name);
            }
        }
        claims
    };
    let mut no_subject = logout_claims("j-nosub");
    no_subject.as_object_mut().unwrap().remove("sid");
    no_subject.as_object_mut().unwrap().remove("sub");
    let other_keys = Keys::from_seed_with_rsa("forger", &keys().rsa);
    let hs_header = json!({ "alg": "HS256", "kid": "p256", "typ": "logout+jwt" });
    let none_token = format!(
        "{}.{}.",
        b64(json!({ "alg": "none" }).to_string().as_bytes()),
        b64(logout_claims("j-none").to_string().as_bytes())
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by another key",
            sign_with(
                &other_keys,
                &header("logout+jwt"),
                &logout_claims("j-forged"),
            ),
        ),
        ("alg none", none_token),
        (
            "HS256 (no symmetric alg)",
            sign_with(keys(), &hs_header, &logout_claims("j-hs")),
        ),
        (
            "unknown kid",
            sign_with(
                keys(),
                &json!({ "alg": "ES256", "kid": "nope" }),
                &logout_claims("j-kid"),
            ),
        ),
        (
            "wrong iss",
            sign(&edit("iss", Some(json!("https://evil.example")))),
        ),
        ("wrong aud", sign(&edit("aud", Some(json!("someone-else"))))),
        ("no aud", sign(&edit("aud", None))),
        ("no iat", sign(&edit("iat", None))),
        (
            "iat in the future",
            sign(&edit("iat", Some(json!(now + 3_600)))),
        ),
        ("expired", sign(&edit("exp", Some(json!(now - 3_600))))),
        ("no jti", sign(&edit("jti", None))),
        ("no events", sign(&edit("events", None))),
        (
            "events without the logout event",
            sign(&edit("events", Some(json!({ SESSION_REVOKED: {} })))),
        ),
        (
            "logout event not an object",
            sign(&edit("events", Some(json!({ BCL: "yes" })))),
        ),
        ("neither sid nor sub", sign(&no_subject)),
        (
            "a sid no check could carry",
            sign(&edit("sid", Some(json!("s".repeat(300))))),
        ),
        ("nonce", sign(&edit("nonce", Some(json!("n-1"))))),
        (
            "typ of a SET",
            sign_with(keys(), &header("secevent+jwt"), &logout_claims("j-typ")),
        ),
        ("not a JWT", "not-a-jwt".into()),
    ];
    for (what, token) in &cases {
        assert_logout_refused(&post_logout(&v, "corp", token).await, what);
    }
    // The form itself.
    let r = request(
        v.check,
        "POST",
        "/v1/backchannel-logout/corp",
        &[("content-type", "application/x-www-form-urlencoded")],
        b"token=abc",
    )
    .await;
    assert_logout_refused(&r, "no logout_token parameter");
    let r = request(
        v.check,
        "POST",
        "/v1/backchannel-logout/corp",
        &[("content-type", "application/json")],
        br#"{"logout_token": "x"}"#,
    )
    .await;
    assert_logout_refused(&r, "not a form");
    assert!(!revoked_anything(&redis, "alice", "s-1").await);

    // Every refusal counted by reason.
    let metrics = request(v.check, "GET", "/metrics", &[], b"").await.text();
    for (outcome, count) in [
        ("bad_signature", 1),
        ("wrong_issuer", 1),
        ("wrong_audience", 2),
        ("nonce_present", 1),
        ("algorithm_not_allowed", 2),
    ] {
        let line = format!(
            "warden_verifier_idp_events_total{{provider=\"corp\",event=\"backchannel_logout\",outcome=\"{outcome}\"}} {count}"
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn unknown_names_are_404_on_both_routes() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let token = sign(&logout_claims("j-404"));
    let r = post_logout(&v, "nobody", &token).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"], "not_found");
    let r = push(&v, "nobody", &token).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["err"], "not_found");
    assert!(!revoked_anything(&redis, "alice", "s-1").await);
}

#[tokio::test]
async fn redis_down_is_503_and_the_retry_is_not_a_replay() {
    let mut redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let token = sign(&logout_claims("j-503"));
    redis.stop();
    let r = post_logout(&v, "corp", &token).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("retry-after").is_some());
    let set = sign_with(
        keys(),
        &header("secevent+jwt"),
        &set_claims("set-503", json!({ CREDENTIAL_CHANGE: {} })),
    );
    assert_eq!(push(&v, "corp", &set).await.status, 503);
    redis.restart();
    common::eventually("the retried logout is accepted", || async {
        post_logout(&v, "corp", &token).await.status == 200
    })
    .await;
}

#[tokio::test]
async fn unreachable_keys_are_503_not_400() {
    let redis = RedisServer::start();
    let closed = common::free_port();
    let v = start_verifier(
        &redis,
        ("jwks_uri", format!("http://127.0.0.1:{closed}/jwks")),
    )
    .await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-nokeys"))).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let set = sign_with(
        keys(),
        &header("secevent+jwt"),
        &set_claims("set-nokeys", json!({ CREDENTIAL_CHANGE: {} })),
    );
    assert_eq!(push(&v, "corp", &set).await.status, 503);
    assert!(!revoked_anything(&redis, "alice", "s-1").await);
}

#[tokio::test]
async fn keys_of_a_provider_that_comes_up_after_the_verifier_are_fetched_within_a_second() {
    let redis = RedisServer::start();
    let idp = IdpServer::start().await;
    idp.failing.store(true, Ordering::SeqCst);
    let v = start_verifier(&redis, ("jwks_uri", format!("http://{}/jwks", idp.addr))).await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-late-1"))).await;
    assert_eq!(r.status, 503, "{}", r.text());
    // The provider comes up; its first logout is not made to wait out the refetch interval.
    idp.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-late-2"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(revoked_anything(&redis, "alice", "s-1").await);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_per_unknown_kid() {
    let redis = RedisServer::start();
    let idp = IdpServer::start().await;
    let v = start_verifier(&redis, ("jwks_uri", format!("http://{}/jwks", idp.addr))).await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-rot-1"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fetched = idp.jwks_fetches();
    assert_eq!(fetched, 1, "fetched once (at start or at first use)");

    // The provider rotates to a new key.
    let next = Keys::from_seed_with_rsa("rotated", &keys().rsa);
    *idp.jwks.lock().unwrap() =
        json!({ "keys": [next.jwk_with_kid(Algorithm::ES256, "p256-next")] });
    let next_header = json!({ "alg": "ES256", "kid": "p256-next", "typ": "logout+jwt" });
    let mut claims = logout_claims("j-rot-2");
    claims["sid"] = json!("s-2");
    let r = post_logout(&v, "corp", &sign_with(&next, &next_header, &claims)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.jwks_fetches(), 2, "one fetch for the new kid");

    // Made-up kids do not make the verifier fetch again within the interval.
    for i in 0..3 {
        let forged = json!({ "alg": "ES256", "kid": format!("made-up-{i}") });
        let r = post_logout(
            &v,
            "corp",
            &sign_with(&next, &forged, &logout_claims(&format!("j-x{i}"))),
        )
        .await;
        assert_logout_refused(&r, "unknown kid");
    }
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_good_keys() {
    let redis = RedisServer::start();
    let (idp, v) = start(&redis).await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-good-1"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    idp.failing.store(true, Ordering::SeqCst);
    // An unknown kid makes the verifier fetch again; the fetch fails.
    let forged = json!({ "alg": "ES256", "kid": "rotated-away" });
    let r = post_logout(
        &v,
        "corp",
        &sign_with(keys(), &forged, &logout_claims("j-kid")),
    )
    .await;
    assert_logout_refused(&r, "unknown kid, fetch failed");
    assert_eq!(idp.jwks_fetches(), 2, "the fetch was tried");
    // The keys held before still verify.
    let mut claims = logout_claims("j-good-2");
    claims["sid"] = json!("s-2");
    let r = post_logout(&v, "corp", &sign(&claims)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn keys_come_from_the_discovery_document() {
    let redis = RedisServer::start();
    let (idp, v) = start(&redis).await;
    let r = post_logout(&v, "corp", &sign(&logout_claims("j-disc"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.discovery_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(idp.jwks_fetches(), 1);
}

fn set_claims(jti: &str, events: Value) -> Value {
    json!({ "iss": ISS, "aud": "web", "iat": unix_now(), "jti": jti, "events": events,
            "sub_id": { "format": "iss_sub", "iss": ISS, "sub": "bob" } })
}

fn sign_set(claims: &Value) -> String {
    sign_with(keys(), &header("secevent+jwt"), claims)
}

#[tokio::test]
async fn a_pushed_session_revoked_event_revokes_the_session_and_reaches_check() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let mut claims = set_claims(
        "set-1",
        json!({ SESSION_REVOKED: { "event_timestamp": unix_now() } }),
    );
    claims["sub_id"] = json!({ "format": "complex",
        "user": { "format": "iss_sub", "iss": ISS, "sub": "bob" },
        "session": { "format": "opaque", "id": "s-9" } });
    let set = sign_set(&claims);
    let r = push(&v, "corp", &set).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.body.is_empty());
    v.check(access_token("bob", "s-9", unix_now() - 10))
        .await
        .assert_deny("session_revoked", "the revoked session");
    v.check(access_token("bob", "s-8", unix_now() - 10))
        .await
        .assert_allow("another session of bob");
    assert_push_refused(
        &push(&v, "corp", &set).await,
        "invalid_request",
        "replayed SET",
    );
}

#[tokio::test]
async fn pushed_user_events_revoke_the_user_and_unknown_events_are_ignored() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let r = push(
        &v,
        "corp",
        &sign_set(&set_claims(
            "set-u",
            json!({ CREDENTIAL_CHANGE: {
        "credential_type": "password", "change_type": "update" } }),
        )),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let mut conn = redis.connection().await;
    let not_before: Option<i64> = conn
        .get(UserTag::of_sub("bob").not_before_key())
        .await
        .unwrap();
    assert!(not_before.is_some(), "bob is revoked");

    let mut claims = set_claims(
        "set-other",
        json!({ "https://example.com/event/unknown": {} }),
    );
    claims["sub_id"] = json!({ "format": "opaque", "id": "carol" });
    let r = push(&v, "corp", &sign_set(&claims)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(
        !revoked_anything(&redis, "carol", "none").await,
        "nothing for an unknown event"
    );

    let metrics = request(v.check, "GET", "/metrics", &[], b"").await.text();
    for line in [
        "warden_verifier_idp_events_total{provider=\"corp\",event=\"credential_change\",outcome=\"accepted\"} 1",
        "warden_verifier_idp_events_total{provider=\"corp\",event=\"other\",outcome=\"ignored\"} 1",
        "warden_verifier_idp_events_total{provider=\"corp\",event=\"account_purged\",outcome=\"accepted\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn pushed_sets_are_refused_with_rfc_8935_codes() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let forger = Keys::from_seed_with_rsa("forger", &keys().rsa);
    let event = json!({ CREDENTIAL_CHANGE: {} });
    let mut wrong_iss = set_claims("set-iss", event.clone());
    wrong_iss["iss"] = json!("https://evil.example");
    let mut wrong_aud = set_claims("set-aud", event.clone());
    wrong_aud["aud"] = json!("nobody");
    let mut no_events = set_claims("set-ev", event.clone());
    no_events.as_object_mut().unwrap().remove("events");
    let cases = [
        (
            "bad signature",
            sign_with(
                &forger,
                &header("secevent+jwt"),
                &set_claims("set-sig", event.clone()),
            ),
            "invalid_key",
        ),
        ("wrong iss", sign_set(&wrong_iss), "invalid_issuer"),
        ("wrong aud", sign_set(&wrong_aud), "invalid_audience"),
        ("no events", sign_set(&no_events), "invalid_request"),
        (
            "a logout token",
            sign(&logout_claims("j-as-set")),
            "invalid_request",
        ),
        ("not a JWT", "garbage".to_owned(), "invalid_request"),
    ];
    for (what, set, err) in &cases {
        assert_push_refused(&push(&v, "corp", set).await, err, what);
    }
    let r = request(
        v.check,
        "POST",
        "/v1/ssf/corp",
        &[("content-type", "application/jwt")],
        sign_set(&set_claims("set-ct", event)).as_bytes(),
    )
    .await;
    assert_push_refused(&r, "invalid_request", "wrong content type");
    assert!(!revoked_anything(&redis, "bob", "s-1").await);
}

#[tokio::test]
async fn each_event_is_audited_without_token_values() {
    let redis = RedisServer::start();
    let (_idp, v) = start(&redis).await;
    let token = sign(&logout_claims("j-audit"));
    assert_eq!(post_logout(&v, "corp", &token).await.status, 200);
    assert_eq!(post_logout(&v, "corp", &token).await.status, 400);
    let events: Vec<std::collections::HashMap<String, String>> =
        common::issuer::stream_entries(&redis)
            .await
            .into_iter()
            .map(|fields| fields.into_iter().collect())
            .filter(|fields: &std::collections::HashMap<String, String>| {
                fields.get("event").map(String::as_str) == Some("idp_logout")
            })
            .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let outcomes: Vec<&str> = events.iter().map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["accepted", "replayed"]);
    assert_eq!(events[0]["provider"], "corp");
    assert_eq!(events[0]["iss"], ISS);
    assert_eq!(events[0]["sid"], "s-1");
    let signature = token.rsplit('.').next().unwrap();
    for event in &events {
        for value in event.values() {
            assert!(
                !value.contains(signature) && !value.contains(&token[..20]),
                "{event:?}"
            );
        }
    }
}
