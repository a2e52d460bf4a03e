//! `POST /v1/token/revoke` (RFC 7009) and `POST /v1/admin/introspect` (RFC 7662) against a real
//! Redis.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::{request, RedisServer, ADMIN_TOKEN};
use serde_json::json;

#[tokio::test]
async fn revocation_rfc7009_and_introspection_rfc7662() {
    let redis = RedisServer::start();
    let v = start_issuer_default(&redis.url()).await;
    let laptop = create_session(&v, json!({"sub": "alice", "device": "laptop"})).await;
    let phone = create_session(&v, json!({"sub": "alice", "device": "phone"})).await;
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
    let tablet = create_session(&v, json!({"sub": "alice", "device": "tablet"})).await;
    let old = tablet["refresh_token"].as_str().unwrap().to_owned();
    let next = refresh(&v, &old).await.json();
    let r = post_form(v.check, "/v1/token/revoke", &format!("token={old}"), &[]).await;
    assert_eq!(r.status, 200);
    refresh(&v, next["refresh_token"].as_str().unwrap())
        .await
        .assert_oauth_error(400, "invalid_grant");
}
