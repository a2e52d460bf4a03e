//! `POST /v1/admin/sessions` with the issuer on, against a real Redis: the tokens a session hands
//! out (verified by the JWKS, accepted by the check), their claims, and the admin routes that end
//! sessions ending their refresh families too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::{request, unix_now, RedisServer, Verifier, ADMIN_TOKEN};
use serde_json::json;
use warden_testkit::Algorithm;

#[tokio::test]
async fn sessions_issue_tokens_that_the_jwks_verifies_and_the_check_accepts() {
    let redis = RedisServer::start();
    let keys = vec![
        signing_key(Algorithm::EdDSA),
        signing_key(Algorithm::ES256),
        signing_key(Algorithm::RS256),
    ];
    let mut tokens = token_settings();
    tokens.audiences = vec![AUDIENCE.into(), "other.test".into()];
    let v = start_issuer(&redis.url(), tokens, keys).await;

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

    let created = create_session(
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
    let again = create_session(&v, json!({"sub": "alice"})).await;
    let (_, claims) = decode(again["access_token"].as_str().unwrap());
    assert_eq!(claims["ver"], 1);
    assert!(claims.get("role").is_none());
}

#[tokio::test]
async fn registered_claims_in_claims_are_refused() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
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

/// Finding 9: access tokens carry RFC 9068's `client_id`, and the verifier's own checks accept
/// only `typ` `at+jwt` (so a token of the same key minted for another use is no access token).
#[tokio::test]
async fn access_tokens_carry_client_id_and_the_verifier_requires_at_jwt() {
    let redis = RedisServer::start();
    let key = signing_key(Algorithm::ES256);
    let v = start_issuer(&redis.url(), token_settings(), vec![key]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
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
    let mut tokens = token_settings();
    tokens.client_id = Some("my-app".into());
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
    let (_, claims) = decode(created["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], "my-app");
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.audiences = vec!["a.test".into(), "b.test".into()];
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let created = create_session(&v, json!({"sub": "alice"})).await;
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

#[tokio::test]
async fn admin_endings_end_refresh_families_too() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    // DELETE /v1/admin/sessions/{sid}
    let s = create_session(&v, json!({"sub": "alice"})).await;
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
    let s = create_session(&v, json!({"sub": "bob"})).await;
    v.admin_post("/v1/admin/revoke/user", json!({"sub": "bob"}))
        .await;
    refresh(&v, s["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
    // revoke/all: every session created at or before not_before, same second included.
    let s = create_session(&v, json!({"sub": "carol"})).await;
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
