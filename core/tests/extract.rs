#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Token carriers: where a token is found, what counts as a second copy, and what is removed
//! before forwarding.

mod common;

use common::*;
use serde_json::json;
use warden_core::auth::Outcome;
use warden_core::keystore::KeyStore;
use warden_core::{Algorithm, Reason};

/// A token that arrives twice in one carrier is refused: the filter would verify one copy while
/// the upstream (with `forward: true`) may read the other, unverified one.
#[test]
fn a_token_sent_twice_in_the_same_carrier_is_refused() {
    let config = local_and_remote_config(json!({"from_headers": [{"name": "x-token"}],
        "from_params": ["access_token"], "forward": true}));
    let keys = KeyStore::new(&config);
    let good = token(Algorithm::ES256, &claims());
    let forged = hostile::alg_none("none", &json!({"sub": "admin"}));
    let twice_header = authenticate_once(
        &config,
        &keys,
        &[(":path", "/x"), ("x-token", &good), ("x-token", &forged)],
    );
    assert!(
        matches!(twice_header, Outcome::Denied(Reason::TokenMalformed)),
        "{twice_header:?}"
    );
    let path = format!("/x?access_token={good}&access_token={forged}");
    let twice_param = authenticate_once(&config, &keys, &[(":path", &path)]);
    assert!(
        matches!(twice_param, Outcome::Denied(Reason::TokenMalformed)),
        "{twice_param:?}"
    );
    // One copy is fine.
    let once = authenticate_once(&config, &keys, &[(":path", "/x"), ("x-token", &good)]);
    assert!(matches!(once, Outcome::Allowed(_)), "{once:?}");
}

/// A parameter name with percent-encoded characters (`access%5Ftoken`) is the same parameter:
/// an upstream that decodes names would otherwise read an unverified second copy.
#[test]
fn percent_encoded_parameter_names_are_the_same_parameter() {
    let config = local_and_remote_config(json!({"from_params": ["access_token"]}));
    let keys = KeyStore::new(&config);
    let good = token(Algorithm::ES256, &claims());
    let forged = hostile::alg_none("none", &json!({"sub": "admin"}));
    let path = format!("/x?access_token={good}&access%5ftoken={forged}");
    let outcome = authenticate_once(&config, &keys, &[(":path", &path)]);
    assert!(
        matches!(outcome, Outcome::Denied(Reason::TokenMalformed)),
        "{outcome:?}"
    );
    // The token alone under an encoded name is found, and removed with its encoded name.
    let path = format!("/x?a=1&access%5Ftoken={good}");
    let outcome = authenticate_once(&config, &keys, &[(":path", &path)]);
    let Outcome::Allowed(allowed) = outcome else {
        panic!("{outcome:?}")
    };
    let fwd =
        warden_core::forward::forwarding(&config, Some(&allowed), &headers(&[(":path", &path)]));
    assert_eq!(fwd.set, vec![(":path".to_string(), "/x?a=1".to_string())]);
}
