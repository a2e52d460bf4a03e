//! Signatures checked by the host's `verify_signature` (Envoy's foreign function; here the
//! native stand-in) where the probes at configure time pass, in wasm elsewhere, with the same
//! answers either way; the backend of each algorithm is logged and published as a gauge.

use crate::common::*;
use serde_json::json;
use warden_wasm_tests::{Host, HostOptions};

const HOSTED: [Alg; 6] = [
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::ES256,
    Alg::ES384,
    Alg::ES512,
];

fn start_with(verify_signature: bool) -> Host {
    let mut host = plugin()
        .instantiate_with(HostOptions {
            time: Some(at(NOW)),
            verify_signature,
            ..HostOptions::default()
        })
        .expect("start the plugin");
    assert!(host.configure(&config().to_string()).expect("configure"));
    host
}

/// Every algorithm's good token and another key's token, through one VM: (allowed, refused).
fn answers(host: &mut Host) -> Vec<(Alg, bool, bool)> {
    let other = warden_testkit::other_keys();
    Alg::ALL
        .into_iter()
        .map(|alg| {
            let good = keys().sign(alg, &claims_with(json!({"jti": alg.name()})));
            let request = get(host, "/api", Some(&good), &[]);
            let allowed = host.outcome(request).forwarded_headers().is_some();
            let bad = other.sign(alg, &claims());
            let request = get(host, "/api", Some(&bad), &[]);
            let refused = host
                .outcome(request)
                .local_response()
                .is_some_and(|r| r.status == 401 && r.body_str().contains("signature_invalid"));
            (alg, allowed, refused)
        })
        .collect()
}

#[test]
fn the_host_verifies_pkcs1_and_ecdsa_and_wasm_the_rest() {
    let mut host = start_with(true);
    for alg in Alg::ALL {
        let expected = u64::from(HOSTED.contains(&alg));
        assert_eq!(
            host.metric(&format!("warden.signature.host.{alg}")),
            Some(expected),
            "{alg}"
        );
    }
    let log = host
        .logs()
        .iter()
        .find(|l| l.message.contains("signature backends"))
        .map(|l| l.message.clone())
        .expect("backends logged");
    assert!(log.contains("RS256=host") && log.contains("EdDSA=wasm") && log.contains("PS256=wasm"));
    // Each algorithm's new token costs the host exactly one call when hosted, none otherwise.
    for alg in Alg::ALL {
        let before = host.foreign_calls();
        let token = keys().sign(alg, &claims_with(json!({"jti": format!("n-{alg}")})));
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
        let expected = u64::from(HOSTED.contains(&alg));
        assert_eq!(host.foreign_calls() - before, expected, "{alg}");
        // A cache hit needs no signature check at all.
        let request = get(&mut host, "/api", Some(&token), &[]);
        forwarded(&host, request);
        assert_eq!(host.foreign_calls() - before, expected, "{alg} on a hit");
    }
    assert_eq!(
        host.metric("warden.signature.host_calls"),
        Some(host.foreign_calls())
    );
}

#[test]
fn without_the_function_everything_stays_in_wasm() {
    let mut host = start_with(false);
    for alg in Alg::ALL {
        assert_eq!(
            host.metric(&format!("warden.signature.host.{alg}")),
            Some(0)
        );
    }
    let results = answers(&mut host);
    assert!(
        results
            .iter()
            .all(|(_, allowed, refused)| *allowed && *refused),
        "{results:?}"
    );
    assert_eq!(host.foreign_calls(), 0);
}

#[test]
fn both_backends_give_the_same_answers() {
    let mut with_host = start_with(true);
    let mut wasm_only = start_with(false);
    let hosted = answers(&mut with_host);
    assert_eq!(hosted, answers(&mut wasm_only));
    assert!(hosted
        .iter()
        .all(|(_, allowed, refused)| *allowed && *refused));
    assert!(with_host.foreign_calls() > 0);
}

#[test]
fn hostile_signatures_are_refused_on_the_host_path() {
    let mut host = start_with(true);
    for (alg, len) in [(Alg::ES256, 64), (Alg::ES384, 96), (Alg::ES512, 132)] {
        let token = keys().sign(alg, &claims());
        // r = s = 0 never reaches the host; r = s = 0xff… (≥ n) neither.
        for sig in [vec![0u8; len], vec![0xffu8; len]] {
            let before = host.foreign_calls();
            let forged = hostile::with_signature(&token, &sig);
            let request = get(&mut host, "/api", Some(&forged), &[]);
            assert_denied(&host, request, "signature_invalid");
            assert_eq!(host.foreign_calls(), before, "{alg}");
        }
    }
    for alg in HOSTED {
        let token = hostile::flip_signature_bit(&keys().sign(alg, &claims()));
        let request = get(&mut host, "/api", Some(&token), &[]);
        assert_denied(&host, request, "signature_invalid");
    }
}
