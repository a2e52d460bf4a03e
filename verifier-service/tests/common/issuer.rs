//! The verifier with its token issuer: signing keys, token settings, the OAuth routes' form posts,
//! sessions created through the admin API, and what their tokens say.

use super::{request, test_store_options, Response, Verifier, ADMIN_TOKEN};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use warden_testkit::Algorithm;
pub use warden_verifier::issuer::jose::jwk::Jwk;
pub use warden_verifier::issuer::jose::sign::SigningKey;
use warden_verifier::issuer::Issuer;
pub use warden_verifier::issuer::TokenSettings;
use warden_verifier::{AdminToken, AppState, Listeners, Settings, Store};

pub const ISSUER: &str = "https://warden.test";
pub const AUDIENCE: &str = "api.test";

pub fn signing_key(alg: Algorithm) -> SigningKey {
    let jwk: Jwk = serde_json::from_value(warden_testkit::keys().private_jwk(alg)).unwrap();
    let kid = jwk.thumbprint().unwrap();
    SigningKey::from_jwk(&jwk, Some(kid)).unwrap()
}

pub fn token_settings() -> TokenSettings {
    let mut settings = TokenSettings::new(ISSUER, vec![AUDIENCE.to_owned()]);
    // Generous by default; the rate-limit tests lower it.
    settings.refresh_rate_per_minute = 1_000;
    settings
}

/// The verifier with an issuer, on `store`.
pub async fn start_issuer_on(
    store: Store,
    tokens: TokenSettings,
    keys: Vec<SigningKey>,
) -> Verifier {
    let token = AdminToken::from_file_content(ADMIN_TOKEN.as_bytes()).unwrap();
    let issuer = Issuer::new(keys, tokens).unwrap();
    let state = AppState::with_issuer(store, token, Settings::default(), Some(issuer));
    let check = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Verifier::from_parts(Listeners { check, admin }, state)
}

/// The verifier with an issuer, on one Redis.
pub async fn start_issuer(
    redis_url: &str,
    tokens: TokenSettings,
    keys: Vec<SigningKey>,
) -> Verifier {
    let client = redis::Client::open(redis_url).unwrap();
    start_issuer_on(
        Store::new(client, test_store_options()).unwrap(),
        tokens,
        keys,
    )
    .await
}

/// The verifier with the default token settings and one ES256 key.
pub async fn start_issuer_default(redis_url: &str) -> Verifier {
    start_issuer(
        redis_url,
        token_settings(),
        vec![signing_key(Algorithm::ES256)],
    )
    .await
}

pub async fn post_form(
    addr: SocketAddr,
    path: &str,
    body: &str,
    extra: &[(&'static str, String)],
) -> Response {
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    headers.extend(extra.iter().cloned());
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request(addr, "POST", path, &headers, body.as_bytes()).await
}

/// `X-Forwarded-For: client`, for verifiers that trust the loopback proxy.
pub fn forwarded_for(client: &str) -> [(&'static str, String); 1] {
    [("x-forwarded-for", client.to_owned())]
}

/// `POST /v1/token` with a refresh token.
pub async fn refresh_with(v: &Verifier, token: &str, extra: &[(&'static str, String)]) -> Response {
    post_form(
        v.check,
        "/v1/token",
        &format!("grant_type=refresh_token&refresh_token={token}"),
        extra,
    )
    .await
}

pub async fn refresh(v: &Verifier, token: &str) -> Response {
    refresh_with(v, token, &[]).await
}

/// `POST /v1/token/revoke` (RFC 7009) of a refresh token: a logout.
pub async fn logout(v: &Verifier, token: &str, extra: &[(&'static str, String)]) -> Response {
    post_form(
        v.check,
        "/v1/token/revoke",
        &format!("token={token}"),
        extra,
    )
    .await
}

/// `POST /v1/admin/sessions`; asserts 201 and `Cache-Control: no-store`.
pub async fn create_session(v: &Verifier, body: Value) -> Value {
    let r = v.admin_post("/v1/admin/sessions", body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    r.json()
}

/// A JWT's header and claims, unverified.
pub fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let part = |i: usize| serde_json::from_slice(&warden_testkit::unb64(parts[i])).unwrap();
    (part(0), part(1))
}

/// What the filter would send to `/v1/check` for this access token.
pub fn check_body(token: &str) -> Value {
    let (_, claims) = decode(token);
    json!({
        "sub": claims["sub"], "jti": claims["jti"], "sid": claims["sid"],
        "ver": claims["ver"], "iat": claims["iat"], "exp": claims["exp"],
    })
}

/// `/v1/check` of an access token: `None` when allowed, else the reason.
pub async fn check_reason(v: &Verifier, token: &str) -> Option<String> {
    let r = v.check(check_body(token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["reason"].as_str().map(str::to_owned)
}

/// Verifies `token` against the JWKS document with the test kit's independent RustCrypto verifier.
pub fn verify_with_jwks(token: &str, jwks: &Value) {
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

/// The audit stream's entries, oldest first.
pub async fn stream_entries(redis: &super::RedisServer) -> Vec<Vec<(String, String)>> {
    let mut conn = redis.connection().await;
    let reply: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(warden_verifier::store::keys::EVENTS_STREAM)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    reply.into_iter().map(|(_, fields)| fields).collect()
}

pub fn events_named(entries: &[Vec<(String, String)>], name: &str) -> usize {
    entries
        .iter()
        .filter(|f| f.iter().any(|(k, v)| k == "event" && v == name))
        .count()
}

/// The hash a refresh token is stored under.
pub fn refresh_hash(text: &str) -> String {
    warden_verifier::issuer::RefreshToken::parse(text)
        .unwrap()
        .hash()
}

pub trait OAuthAssert {
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
