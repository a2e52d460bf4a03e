//! The refresh/revoke budgets of `POST /v1/token` and `POST /v1/token/revoke` against a real
//! Redis: per client address and per session, and what a forwarded address can and cannot buy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::issuer::*;
use common::{request, RedisServer};
use serde_json::json;
use warden_testkit::Algorithm;

#[tokio::test]
async fn rate_limits_per_address_and_per_session() {
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_rate_per_minute = 3;
    tokens.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
    let s = create_session(&v, json!({"sub": "alice"})).await;
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

/// Finding 9: an `X-Forwarded-For` entry with bytes outside ASCII is untrusted input, not a
/// reason to skip the header: with it, the entries a client forges to its left never name a
/// fresh budget (the trusted hop that handed it over stands for the client).
#[tokio::test]
async fn a_non_ascii_forwarded_entry_cannot_buy_a_fresh_budget() {
    let redis = RedisServer::start();
    let mut tokens = token_settings();
    tokens.refresh_rate_per_minute = 3;
    tokens.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let v = start_issuer(&redis.url(), tokens, vec![signing_key(Algorithm::ES256)]).await;
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
