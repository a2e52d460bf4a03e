#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `/metrics` as scrapers see it: the Prometheus text format by default, OpenMetrics when the
//! scrape asks for it (as Prometheus does), the same series in both.

mod common;

use common::*;
use serde_json::json;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test]
async fn metrics_are_served_in_the_format_the_scraper_asks_for() {
    let redis = RedisServer::start();
    let v = Verifier::start(&redis.url()).await;
    assert_eq!(
        v.check(json!({ "sub": "a", "jti": "j", "exp": 0 }))
            .await
            .status,
        200
    );

    let plain = request(v.check, "GET", "/metrics", &[], b"").await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let plain = plain.text();
    assert!(plain.contains("# TYPE warden_verifier_checks_total counter\n"));
    assert!(!plain.contains("# EOF"));

    let open = request(
        v.admin,
        "GET",
        "/metrics",
        &[("accept", PROMETHEUS_ACCEPT)],
        b"",
    )
    .await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let open = open.text();
    assert!(
        open.contains("# TYPE warden_verifier_checks counter\n"),
        "{open}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");

    // The same samples in both (the admin listener's scrape added no check); bucket bounds are
    // compared as numbers (`le="1"` in one format is `le="1.0"` in the other).
    let samples = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| match line.split_once("le=\"") {
                Some((head, rest)) => {
                    let (bound, tail) = rest.split_once('"').unwrap();
                    let bound = bound
                        .parse::<f64>()
                        .map_or(bound.to_owned(), |b| b.to_string());
                    format!("{head}le=\"{bound}\"{tail}")
                }
                None => line.to_owned(),
            })
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(samples(&plain), samples(&open));
    assert!(
        samples(&open).contains(&"warden_verifier_checks_total{outcome=\"allow\"} 1".to_owned())
    );
}
