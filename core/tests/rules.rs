#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Rule matching on the path the upstream will see.

mod common;

use common::*;
use serde_json::json;
use warden_core::auth::Outcome;
use warden_core::config::Config;
use warden_core::keystore::KeyStore;
use warden_core::Reason;

/// A no-token rule must not cover paths an upstream resolves elsewhere: servlet containers read
/// `/healthz/..;/admin` as `/admin`, and a `#` never reaches a server as part of the path. Such
/// paths are refused (400), not merely sent to the next rule.
#[test]
fn bypass_rules_refuse_dot_segments_with_parameters_and_fragments() {
    let cfg = json!({
        "providers": {"main": {"local_jwks": {"inline_string": jwks_all()}}},
        "rules": [{"match": {"prefix": "/healthz"}},
                  {"match": {"prefix": "/"}, "requires": {"provider_name": "main"}}]
    });
    let config = Config::parse(&cfg.to_string()).unwrap();
    let keys = KeyStore::new(&config);
    for path in [
        "/healthz/..;/admin",
        "/healthz/..;jsessionid=1/admin",
        "/healthz#/../admin",
    ] {
        let outcome = authenticate_once(&config, &keys, &[(":path", path)]);
        assert!(
            matches!(outcome, Outcome::Denied(Reason::PathRejected)),
            "{path}: {outcome:?}"
        );
    }
    // Every reading stays under /healthz: the bypass rule applies.
    assert!(matches!(
        authenticate_once(&config, &keys, &[(":path", "/healthz/.;/x")]),
        Outcome::Unprotected
    ));
    assert!(matches!(
        authenticate_once(&config, &keys, &[(":path", "/healthz;v=1")]),
        Outcome::Unprotected
    ));
}
