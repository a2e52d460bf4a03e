//! `/v1/ext_authz` (Envoy's HTTP `ext_authz` service) against a real Redis and the real app on
//! port 0: the claims `jwt_authn` forwards in `x-jwt-payload` are checked as `POST /v1/check`
//! checks them, and the answer is the filter's own: 200 to allow, 401 with the reason in
//! `WWW-Authenticate` and a JSON body to deny, 503 when Redis cannot answer. Any method and any
//! path under the prefix (Envoy appends the request's path).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{request, test_store_options, unix_now, RedisServer, Response, Verifier};
use serde_json::{json, Value};
use warden_verifier::Settings;

fn payload(claims: &Value) -> String {
    warden_testkit::b64(claims.to_string().as_bytes())
}

fn claims(sub: &str, jti: &str) -> Value {
    json!({ "sub": sub, "jti": jti, "iat": unix_now(), "exp": unix_now() + 600 })
}

/// `method path` on the check listener with these headers.
async fn ask(v: &Verifier, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    request(v.check, method, path, headers, b"").await
}

async fn authz(v: &Verifier, claims: &Value) -> Response {
    let p = payload(claims);
    ask(
        v,
        "GET",
        "/v1/ext_authz/api/items?x=1",
        &[("x-jwt-payload", &p)],
    )
    .await
}

fn assert_allowed(r: &Response, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    assert_eq!(r.header("www-authenticate"), None, "{what}");
}

/// The filter's refusal for `reason`: 401, RFC 6750 `WWW-Authenticate`, the JSON body.
fn assert_refused(r: &Response, reason: &str) {
    assert_eq!(r.status, 401, "{reason}: {}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            format!(
                "Bearer realm=\"warden\", error=\"invalid_token\", error_description=\"{reason}\""
            )
            .as_str()
        ),
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({ "error": "invalid_token", "error_description": reason })
    );
}

#[tokio::test]
async fn a_fresh_token_is_allowed_on_any_method_and_path_under_the_prefix() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let p = payload(&claims("alice", "j1"));
    for (method, path) in [
        ("GET", "/v1/ext_authz"),
        ("GET", "/v1/ext_authz/"),
        ("GET", "/v1/ext_authz/api/items?x=1"),
        ("POST", "/v1/ext_authz/api/items"),
        ("DELETE", "/v1/ext_authz/a/b/c"),
        ("PUT", "/v1/ext_authz/x"),
    ] {
        let r = ask(&v, method, path, &[("x-jwt-payload", &p)]).await;
        assert_allowed(&r, &format!("{method} {path}"));
    }
    // Padded base64url (as some Envoy versions write it) is read too.
    let padded = format!("{p}==");
    let r = ask(
        &v,
        "GET",
        "/v1/ext_authz/api",
        &[("x-jwt-payload", &padded)],
    )
    .await;
    assert_allowed(&r, "padded");
    // The admin listener does not serve it.
    let r = request(
        v.admin,
        "GET",
        "/v1/ext_authz/api",
        &[("x-jwt-payload", &p)],
        b"",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test]
async fn revocations_are_refused_with_their_reason() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let exp = unix_now() + 600;
    // A revoked jti: only that token of that user.
    let revoked = json!({ "sub": "bob", "jti": "gone", "iat": unix_now(), "exp": exp });
    assert_allowed(&authz(&v, &revoked).await, "before the revocation");
    let r = v
        .admin_post(
            "/v1/admin/revoke/token",
            json!({ "sub": "bob", "jti": "gone", "exp": exp }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_refused(&authz(&v, &revoked).await, "revoked");
    assert_allowed(&authz(&v, &claims("bob", "other")).await, "another jti");
    assert_allowed(&authz(&v, &claims("carol", "gone")).await, "another user");
    // A user revocation: older versions are stale, the current one passes.
    let r = v
        .admin_post("/v1/admin/revoke/user", json!({ "sub": "dan" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.json()["version"].as_u64().unwrap();
    let mut old = claims("dan", "d1");
    old["ver"] = json!(version - 1);
    assert_refused(&authz(&v, &old).await, "stale_version");
    let mut current = claims("dan", "d2");
    current["ver"] = json!(version);
    assert_allowed(&authz(&v, &current).await, "current version");
}

#[tokio::test]
async fn sessions_are_checked_like_the_filter_checks_them() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let sid = v.new_session("erin").await;
    let mut token = claims("erin", "e1");
    token["sid"] = json!(sid);
    assert_allowed(&authz(&v, &token).await, "live session");
    let mut stranger = claims("frank", "f1");
    stranger["sid"] = json!(sid);
    assert_refused(&authz(&v, &stranger).await, "session_mismatch");
    let r = v.admin_delete(&format!("/v1/admin/sessions/{sid}")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_refused(&authz(&v, &token).await, "session_missing");
}

#[tokio::test]
async fn a_missing_or_unreadable_payload_is_refused() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    // No header: RFC 6750 §3.1, no error code.
    let r = ask(&v, "GET", "/v1/ext_authz/api", &[]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"warden\"")
    );
    assert_eq!(
        r.json(),
        json!({ "error": "unauthorized", "error_description": "token_missing" })
    );
    let good = payload(&claims("gina", "g1"));
    let not_json = warden_testkit::b64(b"not json");
    let array = payload(&json!(["sub"]));
    let bad_sub = payload(&json!({ "sub": 1, "jti": "j", "exp": unix_now() + 60 }));
    let long_sub = payload(&json!({ "sub": "a".repeat(257), "jti": "j", "exp": unix_now() + 60 }));
    for (what, headers) in [
        ("not base64", vec![("x-jwt-payload", "not base64!")]),
        ("not json", vec![("x-jwt-payload", not_json.as_str())]),
        ("not an object", vec![("x-jwt-payload", array.as_str())]),
        (
            "sub not a string",
            vec![("x-jwt-payload", bad_sub.as_str())],
        ),
        ("sub too long", vec![("x-jwt-payload", long_sub.as_str())]),
        // A client's own copy beside jwt_authn's is never believed.
        (
            "header twice",
            vec![
                ("x-jwt-payload", good.as_str()),
                ("x-jwt-payload", good.as_str()),
            ],
        ),
    ] {
        let r = ask(&v, "GET", "/v1/ext_authz/api", &headers).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_refused(&r, "token_malformed");
    }
    let no_jti = payload(&json!({ "sub": "gina", "exp": unix_now() + 60 }));
    let r = ask(
        &v,
        "GET",
        "/v1/ext_authz/api",
        &[("x-jwt-payload", &no_jti)],
    )
    .await;
    assert_refused(&r, "claim_missing");
}

#[tokio::test]
async fn the_payload_header_name_is_configurable() {
    let redis = RedisServer::start();
    let settings = Settings {
        ext_authz_payload_header: "x-claims".into(),
        ..Settings::default()
    };
    let v = Verifier::start_with(&redis.url(), test_store_options(), settings).await;
    let p = payload(&claims("hana", "h1"));
    let r = ask(&v, "GET", "/v1/ext_authz/api", &[("x-claims", &p)]).await;
    assert_allowed(&r, "x-claims");
    // The default header is not read any more.
    let r = ask(&v, "GET", "/v1/ext_authz/api", &[("x-jwt-payload", &p)]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"warden\"")
    );
}

#[tokio::test]
async fn redis_down_is_503_and_never_an_allow() {
    let mut redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    let token = claims("ivan", "i1");
    assert_allowed(&authz(&v, &token).await, "redis up");
    redis.stop();
    let r = authz(&v, &token).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), None);
    assert_eq!(
        r.json(),
        json!({ "error": "temporarily_unavailable", "error_description": "verifier_unavailable" })
    );
    redis.restart();
    common::eventually("the verifier answers again", || async {
        authz(&v, &token).await.status == 200
    })
    .await;
}
