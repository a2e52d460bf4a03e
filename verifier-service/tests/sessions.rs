//! The token life cycle against a real Redis: sessions that hand out tokens, the JWKS, refresh with
//! rotation, reuse detection and the retry grace, expiry, revocation (RFC 7009), introspection
//! (RFC 7662), cookie mode, rate limits and the audit stream.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, test_store_options, unix_now, RedisServer, Response, Verifier, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use warden_testkit::Algorithm;
use warden_verifier::issuer::{Issuer, TokenSettings};
use warden_verifier::jose::jwk::Jwk;
use warden_verifier::jose::sign::SigningKey;
use warden_verifier::{AdminToken, AppState, Listeners, Settings, Store};

const ISSUER: &str = "https://warden.test";
const AUDIENCE: &str = "api.test";

fn signing_key(alg: Algorithm) -> SigningKey {
    let jwk: Jwk = serde_json::from_value(warden_testkit::keys().private_jwk(alg)).unwrap();
    let kid = jwk.thumbprint().unwrap();
    SigningKey::from_jwk(&jwk, Some(kid)).unwrap()
}

fn settings() -> TokenSettings {
    let mut settings = TokenSettings::new(ISSUER, vec![AUDIENCE.to_owned()]);
    // Generous by default; the rate-limit tests lower it.
    settings.refresh_rate_per_minute = 1_000;
    settings
}

async fn start(redis: &RedisServer, tokens: TokenSettings, keys: Vec<SigningKey>) -> Verifier {
    let client = redis::Client::open(redis.url()).unwrap();
    let store = Store::new(client, test_store_options()).unwrap();
    let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).unwrap();
    let issuer = Issuer::new(keys, tokens).unwrap();
    let state = AppState::with_issuer(store, token, Settings::default(), Some(issuer));
    let check = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Verifier::from_parts(Listeners { check, admin }, state)
}

async fn start_default(redis: &RedisServer) -> Verifier {
    start(redis, settings(), vec![signing_key(Algorithm::ES256)]).await
}

fn form_headers(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    headers.extend(extra.iter().cloned());
    headers
}

async fn post_form(
    addr: SocketAddr,
    path: &str,
    body: &str,
    extra: &[(&'static str, String)],
) -> Response {
    let headers = form_headers(extra);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request(addr, "POST", path, &headers, body.as_bytes()).await
}

async fn refresh(v: &Verifier, token: &str) -> Response {
    post_form(
        v.check,
        "/v1/token",
        &format!("grant_type=refresh_token&refresh_token={token}"),
        &[],
    )
    .await
}

async fn create(v: &Verifier, body: Value) -> Value {
    let r = v.admin_post("/v1/admin/sessions", body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.json()
}

fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let part = |i: usize| serde_json::from_slice(&warden_testkit::unb64(parts[i])).unwrap();
    (part(0), part(1))
}

/// What the filter would send to `/v1/check` for this access token.
fn check_body(token: &str) -> Value {
    let (_, claims) = decode(token);
    json!({
        "sub": claims["sub"], "jti": claims["jti"], "sid": claims["sid"],
        "ver": claims["ver"], "iat": claims["iat"], "exp": claims["exp"],
    })
}

async fn check_reason(v: &Verifier, token: &str) -> Option<String> {
    let r = v.check(check_body(token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["reason"].as_str().map(str::to_owned)
}

/// Verifies `token` against the JWKS document with the test kit's independent RustCrypto verifier.
fn verify_with_jwks(token: &str, jwks: &Value) {
    let (header, _) = decode(token);
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    let alg = Algorithm::from_name(header["alg"].as_str().unwrap()).unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    warden_testkit::verify::verify_signature(
        key,
        alg,
        input.as_bytes(),
        &warden_testkit::unb64(signature),
    )
    .unwrap();
}

async fn stream_entries(redis: &RedisServer) -> Vec<Vec<(String, String)>> {
    let mut conn = redis.connection().await;
    let reply: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("warden:events")
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    reply.into_iter().map(|(_, fields)| fields).collect()
}

fn events_named(entries: &[Vec<(String, String)>], name: &str) -> usize {
    entries
        .iter()
        .filter(|f| f.iter().any(|(k, v)| k == "event" && v == name))
        .count()
}

#[tokio::test]
async fn sessions_issue_tokens_that_the_jwks_verifies_and_the_check_accepts() {
    let redis = RedisServer::start();
    let keys = vec![
        signing_key(Algorithm::EdDSA),
        signing_key(Algorithm::ES256),
        signing_key(Algorithm::RS256),
    ];
    let mut tokens = settings();
    tokens.audiences = vec![AUDIENCE.into(), "other.test".into()];
    let v = start(&redis, tokens, keys).await;

    let jwks = request(v.check, "GET", "/.well-known/jwks.json", &[], b"").await;
    assert_eq!(jwks.status, 200);
    let max_age = jwks.header("cache-control").unwrap();
    assert!(max_age.contains("max-age="), "{max_age}");
    let jwks = jwks.json();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        3,
        "every key published"
    );
    for key in jwks["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} published: {key}");
        }
        // kid = RFC 7638 thumbprint of the public key.
        let jwk: Jwk = serde_json::from_value(key.clone()).unwrap();
        assert_eq!(key["kid"], jwk.thumbprint().unwrap());
    }
    // The JWKS is not on the admin listener.
    let r = request(v.admin, "GET", "/.well-known/jwks.json", &[], b"").await;
    assert_eq!(r.status, 404);

    let created = create(
        &v,
        json!({"sub": "alice", "device": "laptop", "claims": {"role": "admin", "tenant": 7}}),
    )
    .await;
    for field in [
        "sid",
        "expires_at",
        "access_token",
        "refresh_token",
        "expires_in",
    ] {
        assert!(created.get(field).is_some(), "{field} missing: {created}");
    }
    assert_eq!(created["token_type"], "Bearer");
    let access = created["access_token"].as_str().unwrap();
    let (header, claims) = decode(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA", "the first key signs");
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    verify_with_jwks(access, &jwks);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], json!([AUDIENCE, "other.test"]));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["sid"], created["sid"]);
    assert_eq!(claims["ver"], 0);
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["tenant"], 7);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((unix_now() - 5..=unix_now()).contains(&iat));
    assert_eq!(exp - iat, 900);
    assert_eq!(created["expires_in"], 900);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(check_reason(&v, access).await, None);

    // The refresh token is stored only as a hash.
    let refresh = created["refresh_token"].as_str().unwrap();
    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut conn, "*").await.unwrap();
    for key in &keys {
        let dump: Vec<u8> = redis::cmd("DUMP")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let secret = refresh.rsplit_once('.').unwrap().1;
        assert!(
            !String::from_utf8_lossy(&dump).contains(secret),
            "refresh token in clear under {key}"
        );
    }

    // A user's version bump shows in the next session's tokens.
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({"sub": "alice"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        check_reason(&v, access).await.as_deref(),
        Some("stale_version")
    );
    let again = create(&v, json!({"sub": "alice"})).await;
    let (_, claims) = decode(again["access_token"].as_str().unwrap());
    assert_eq!(claims["ver"], 1);
    assert!(claims.get("role").is_none());
}

#[tokio::test]
async fn registered_claims_in_claims_are_refused() {
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
    for name in [
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "ver",
    ] {
        let r = v
            .admin_post(
                "/v1/admin/sessions",
                json!({"sub": "alice", "claims": {name: "x"}}),
            )
            .await;
        r.assert_error(400, "bad_request");
        assert!(r.text().contains(name), "{}", r.text());
    }
    let r = v
        .admin_post("/v1/admin/sessions", json!({"sub": "alice", "claims": [1]}))
        .await;
    r.assert_error(400, "bad_request");

    // Without a signing key the old contract holds, and `claims` is refused.
    let plain = Verifier::start(&redis.url()).await;
    let r = plain
        .admin_post("/v1/admin/sessions", json!({"sub": "alice"}))
        .await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let r = plain
        .admin_post(
            "/v1/admin/sessions",
            json!({"sub": "alice", "claims": {"a": 1}}),
        )
        .await;
    r.assert_error(400, "bad_request");
    let r = request(plain.check, "GET", "/.well-known/jwks.json", &[], b"").await;
    assert_eq!(r.status, 404);
    let r = post_form(
        plain.check,
        "/v1/token",
        "grant_type=refresh_token&refresh_token=x",
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_family() {
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.refresh_retry_grace_seconds = 0;
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice", "claims": {"role": "r1"}})).await;
    let first_access = created["access_token"].as_str().unwrap().to_owned();
    let first_refresh = created["refresh_token"].as_str().unwrap().to_owned();
    let other_device = create(&v, json!({"sub": "alice", "device": "phone"})).await;

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
    let v = start_default(&redis).await;
    let created = create(&v, json!({"sub": "alice"})).await;
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
    let created = create(&v, json!({"sub": "bob"})).await;
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
    let mut tokens = settings();
    tokens.refresh_rate_per_minute = 30;
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
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
    let b_hash: String = sha256_hex(&b);
    assert_eq!(rt, b_hash);
}

fn sha256_hex(text: &str) -> String {
    warden_verifier::issuer::RefreshToken::parse(text)
        .unwrap()
        .hash()
}

#[tokio::test]
async fn idle_and_absolute_expiry_end_the_family() {
    use warden_verifier::store::keys::UserTag;
    use warden_verifier::store::sessions::{RefreshCall, RefreshOutcome};
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
    let created = create(&v, json!({"sub": "alice", "ttl_seconds": 3600})).await;
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
    let created = create(&v, json!({"sub": "alice", "ttl_seconds": 60})).await;
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
    let created = create(&v, json!({"sub": "alice", "ttl_seconds": 60})).await;
    let (_, claims) = decode(created["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"], created["expires_at"]);
    assert!(expires_at > now);
}

#[tokio::test]
async fn revocation_rfc7009_and_introspection_rfc7662() {
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
    let laptop = create(&v, json!({"sub": "alice", "device": "laptop"})).await;
    let phone = create(&v, json!({"sub": "alice", "device": "phone"})).await;
    let introspect = |token: String| {
        let addr = v.admin;
        async move {
            let auth = format!("Bearer {ADMIN_TOKEN}");
            let headers = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", auth.as_str()),
            ];
            let r = request(
                addr,
                "POST",
                "/v1/admin/introspect",
                &headers,
                format!("token={token}").as_bytes(),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    let access = laptop["access_token"].as_str().unwrap().to_owned();
    let answer = introspect(access.clone()).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "access_token");
    let (_, claims) = decode(&access);
    for field in ["sub", "sid", "exp", "iat", "jti", "iss", "aud"] {
        assert_eq!(answer[field], claims[field], "{field}");
    }
    let refresh_token = laptop["refresh_token"].as_str().unwrap().to_owned();
    let answer = introspect(refresh_token.clone()).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "refresh_token");
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["sid"], laptop["sid"]);
    assert!(answer["exp"].as_i64().unwrap() <= laptop["expires_at"].as_i64().unwrap());
    let flipped = warden_testkit::hostile::flip_signature_bit(&access);
    for junk in ["nope", "a.b.c", flipped.as_str()] {
        assert_eq!(introspect(junk.to_owned()).await, json!({"active": false}));
    }
    // Introspection is admin only.
    let r = post_form(v.admin, "/v1/admin/introspect", "token=x", &[]).await;
    assert_eq!(r.status, 401);

    // Unknown tokens: 200, nothing changes.
    for unknown in ["garbage", "x.y.z"] {
        let r = post_form(
            v.check,
            "/v1/token/revoke",
            &format!("token={unknown}"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = post_form(
        v.check,
        "/v1/token/revoke",
        "token_type_hint=refresh_token",
        &[],
    )
    .await;
    r.assert_oauth_error(400, "invalid_request");

    // Logging out the laptop with its refresh token: its session ends, the phone's goes on.
    let r = post_form(
        v.check,
        "/v1/token/revoke",
        &format!("token={refresh_token}&token_type_hint=refresh_token"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        check_reason(&v, &access).await.as_deref(),
        Some("session_missing")
    );
    assert_eq!(introspect(access.clone()).await["active"], false);
    assert_eq!(introspect(refresh_token.clone()).await["active"], false);
    refresh(&v, &refresh_token)
        .await
        .assert_oauth_error(400, "invalid_grant");
    let phone_access = phone["access_token"].as_str().unwrap().to_owned();
    assert_eq!(check_reason(&v, &phone_access).await, None);
    let list = v.admin_get("/v1/admin/users/alice/sessions").await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{list}");
    assert_eq!(sessions[0]["device"], "phone");
    for field in ["created", "last_seen", "expires_at"] {
        assert!(sessions[0][field].is_i64(), "{field}: {list}");
    }

    // Revoking an access token revokes its jti only.
    let r = post_form(
        v.check,
        "/v1/token/revoke",
        &format!("token={phone_access}"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        check_reason(&v, &phone_access).await.as_deref(),
        Some("revoked")
    );
    let r = refresh(&v, phone["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // An already rotated refresh token also ends its session when revoked.
    let tablet = create(&v, json!({"sub": "alice", "device": "tablet"})).await;
    let old = tablet["refresh_token"].as_str().unwrap().to_owned();
    let next = refresh(&v, &old).await.json();
    let r = post_form(v.check, "/v1/token/revoke", &format!("token={old}"), &[]).await;
    assert_eq!(r.status, 200);
    refresh(&v, next["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
}

#[tokio::test]
async fn admin_endings_end_refresh_families_too() {
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
    // DELETE /v1/admin/sessions/{sid}
    let s = create(&v, json!({"sub": "alice"})).await;
    let sid = s["sid"].as_str().unwrap();
    assert_eq!(
        v.admin_delete(&format!("/v1/admin/sessions/{sid}"))
            .await
            .status,
        204
    );
    refresh(&v, s["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    // revoke/user
    let s = create(&v, json!({"sub": "bob"})).await;
    v.admin_post("/v1/admin/revoke/user", json!({"sub": "bob"}))
        .await;
    refresh(&v, s["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    // revoke/all: every session created at or before not_before, same second included.
    let s = create(&v, json!({"sub": "carol"})).await;
    let r = v.admin_post("/v1/admin/revoke/all", json!({})).await;
    assert_eq!(r.status, 200);
    let not_before = r.json()["not_before"].as_i64().unwrap();
    assert!(s["expires_at"].as_i64().unwrap() > not_before);
    refresh(&v, s["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    let list = v.admin_get("/v1/admin/users/carol/sessions").await.json();
    assert_eq!(list["sessions"], json!([]), "{list}");
    let entries = stream_entries(&redis).await;
    assert_eq!(events_named(&entries, "all_revoked"), 1);
    assert_eq!(events_named(&entries, "user_revoked"), 1);
    assert!(
        events_named(&entries, "session_revoked") >= 2,
        "{entries:?}"
    );
}

#[tokio::test]
async fn oauth_errors_follow_rfc6749() {
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
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
    let s = create(&v, json!({"sub": "alice"})).await;
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
async fn rate_limits_per_address_and_per_session() {
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.refresh_rate_per_minute = 3;
    tokens.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let s = create(&v, json!({"sub": "alice"})).await;
    let sid = s["sid"].as_str().unwrap().to_owned();
    let from = |address: &str| vec![("x-forwarded-for", format!("6.6.6.6, {address}"))];

    // One address: 3 requests, then 429 with Retry-After.
    for _ in 0..3 {
        let r = post_form(
            v.check,
            "/v1/token",
            "grant_type=refresh_token&refresh_token=junk",
            &from("198.51.100.1"),
        )
        .await;
        r.assert_oauth_error(400, "invalid_grant");
    }
    let r = post_form(
        v.check,
        "/v1/token",
        "grant_type=refresh_token&refresh_token=junk",
        &from("198.51.100.1"),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // The forged left entry is not the client: another rightmost address has its own budget.
    let r = post_form(
        v.check,
        "/v1/token",
        "grant_type=refresh_token&refresh_token=junk",
        &from("198.51.100.2"),
    )
    .await;
    r.assert_oauth_error(400, "invalid_grant");

    // Forged tokens for alice's session from many addresses do not spend her budget.
    for i in 0..6 {
        let forged = format!("{sid}.{}", "B".repeat(43));
        let r = post_form(
            v.check,
            "/v1/token",
            &format!("grant_type=refresh_token&refresh_token={forged}"),
            &from(&format!("203.0.113.{i}")),
        )
        .await;
        r.assert_oauth_error(400, "invalid_grant");
    }
    // Her own refreshes, each from a fresh address: 3 pass, the 4th meets the session budget.
    let mut current = s["refresh_token"].as_str().unwrap().to_owned();
    for i in 0..3 {
        let r = post_form(
            v.check,
            "/v1/token",
            &format!("grant_type=refresh_token&refresh_token={current}"),
            &from(&format!("192.0.2.{i}")),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        current = r.json()["refresh_token"].as_str().unwrap().to_owned();
    }
    let r = post_form(
        v.check,
        "/v1/token",
        &format!("grant_type=refresh_token&refresh_token={current}"),
        &from("192.0.2.99"),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    let entries = stream_entries(&redis).await;
    let limited: Vec<_> = entries
        .iter()
        .filter(|f| f.iter().any(|(k, v)| k == "event" && v == "rate_limited"))
        .collect();
    assert_eq!(limited.len(), 2, "{limited:?}");
    assert!(format!("{limited:?}").contains("198.51.100.1"));
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_in_a_host_cookie() {
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.refresh_cookie = Some("__Host-warden-rt".into());
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
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

trait OAuthAssert {
    fn assert_oauth_error(&self, status: u16, code: &str);
}

impl OAuthAssert for Response {
    fn assert_oauth_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json()["error"], code, "{}", self.text());
        assert!(
            self.json()["error_description"].is_string(),
            "{}",
            self.text()
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
    }
}

#[tokio::test]
async fn session_starts_and_their_extension_by_rotation_are_in_the_feed() {
    use warden_core::protocol::feed::Change;
    use warden_verifier::store::feed::FeedRead;
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.refresh_idle_ttl_seconds = 100;
    tokens.access_ttl_seconds = 60;
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let store = &v.state.0.store;
    let cursor = store
        .append_feed(&[Change::NotBefore { not_before: 1 }], unix_now())
        .await
        .unwrap();
    let created = create(&v, json!({"sub": "gina", "ttl_seconds": 3600})).await;
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
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!(
            "warden:{{{}}}:session:{sid}",
            sid.split_once('.').unwrap().1
        ))
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
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
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!(
            "warden:{{{}}}:session:{sid}",
            sid.split_once('.').unwrap().1
        ))
        .query_async(&mut redis.connection().await)
        .await
        .unwrap();
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

/// Finding 9: access tokens carry RFC 9068's `client_id`, and the verifier's own checks accept
/// only `typ` `at+jwt` (so a token of the same key minted for another use is no access token).
#[tokio::test]
async fn access_tokens_carry_client_id_and_the_verifier_requires_at_jwt() {
    let redis = RedisServer::start();
    let key = signing_key(Algorithm::ES256);
    let v = start(&redis, settings(), vec![key]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
    let access = created["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = decode(&access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["client_id"], AUDIENCE, "the one audience by default");
    // The same claims and key under another `typ`: not an access token of this verifier.
    let key = signing_key(Algorithm::ES256);
    let introspect = |token: String| {
        let addr = v.admin;
        async move {
            let auth = format!("Bearer {ADMIN_TOKEN}");
            let headers = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", auth.as_str()),
            ];
            let body = format!("token={token}");
            let r = request(
                addr,
                "POST",
                "/v1/admin/introspect",
                &headers,
                body.as_bytes(),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        }
    };
    let claims = claims.as_object().unwrap().clone();
    for (typ, active) in [
        ("at+jwt", true),
        ("AT+JWT", true),
        ("application/at+jwt", true),
        ("JWT", false),
        ("jwt", false),
        ("at+jwt2", false),
        ("application/jwt", false),
    ] {
        let token = key.sign(&claims, typ).unwrap();
        let answer = introspect(token).await;
        assert_eq!(answer["active"], active, "typ {typ}: {answer}");
        if active {
            assert_eq!(answer["client_id"], AUDIENCE);
        }
    }
    // A given --client-id, and the fixed default with several audiences.
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.client_id = Some("my-app".into());
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
    let (_, claims) = decode(created["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "my-app");
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.audiences = vec!["a.test".into(), "b.test".into()];
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
    let (_, claims) = decode(created["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "warden");
    // A create call may not set it.
    let r = v
        .admin_post(
            "/v1/admin/sessions",
            json!({"sub": "alice", "claims": {"client_id": "evil"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Finding 9: `--refresh-retry-max-uses 1` makes the retry grace single-use; a second replay of
/// the predecessor is reuse of a rotated token (RFC 9700 §4.14.2): the family ends. Without a
/// bound (the default) every replay within the grace gets the same successor.
#[tokio::test]
async fn the_retry_grace_can_be_made_single_use() {
    let redis = RedisServer::start();
    let v = start_default(&redis).await;
    let created = create(&v, json!({"sub": "alice"})).await;
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
    let mut tokens = settings();
    tokens.refresh_retry_max_uses = 1;
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create(&v, json!({"sub": "alice"})).await;
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
    let created = create(&v, json!({"sub": "bob"})).await;
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

/// Finding 9: an `X-Forwarded-For` entry with bytes outside ASCII is untrusted input, not a
/// reason to skip the header: with it, the entries a client forges to its left never name a
/// fresh budget (the trusted hop that handed it over stands for the client).
#[tokio::test]
async fn a_non_ascii_forwarded_entry_cannot_buy_a_fresh_budget() {
    let redis = RedisServer::start();
    let mut tokens = settings();
    tokens.refresh_rate_per_minute = 3;
    tokens.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let v = start(&redis, tokens, vec![signing_key(Algorithm::ES256)]).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let forged = format!("203.0.113.{i}");
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-forwarded-for", forged.as_str()),
            ("x-forwarded-for", "\u{e9}t\u{e9}"),
        ];
        let r = request(
            v.check,
            "POST",
            "/v1/token",
            &headers,
            b"grant_type=refresh_token&refresh_token=junk",
        )
        .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429, 429]);
}
