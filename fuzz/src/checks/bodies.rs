//! Target `verifier_bodies`, core half: the JSON bodies of the check protocol as both sides read
//! them. Byte 0 picks the reader, the rest is the body:
//! 0 `CheckRequest` (the body of `POST /v1/check`), 1 `CheckResponse`, 2 the filter's reading of
//! the verifier's answer (`protocol::verifier_verdict`), 3 token claims → `protocol::check_request`.
//!
//! Oracles: what parses serialises and parses back to the same value; the filter's loose reading
//! of an answer agrees with the typed one whenever the typed one parses a UTF-8 body, a body
//! that is not UTF-8 is no answer (failure mode), and only `"allow": true` allows; a check request the filter builds from any claims is one the
//! verifier's parser accepts (ids of 1..=256 bytes).

use serde_json::Value;
use warden_core::protocol::{self, Verdict};
use warden_core::protocol::{CheckRequest, CheckResponse, MAX_ID_BYTES};
use warden_core::token::Claims;

pub fn run(data: &[u8]) {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(req) = serde_json::from_slice::<CheckRequest>(body) {
                round_trip(&req);
            }
        }
        1 => {
            if let Ok(resp) = serde_json::from_slice::<CheckResponse>(body) {
                round_trip(&resp);
            }
        }
        2 => answer(body),
        _ => claims(body),
    }
}

fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let wire = serde_json::to_string(value).expect("serialises");
    let back: T = serde_json::from_str(&wire).expect("parses what it wrote");
    assert_eq!(&back, value, "round trip changed the value: {wire}");
}

fn answer(body: &[u8]) {
    let loose = protocol::verifier_verdict(Some(200), body);
    if loose == Verdict::Allow {
        let raw: Value = serde_json::from_slice(body).expect("an allow is JSON");
        assert_eq!(raw.get("allow"), Some(&Value::Bool(true)));
    }
    // serde_json does not check UTF-8 inside values it skips (unknown fields), so the typed
    // reading can accept a body the filter's reading refuses; a garbled answer is no answer.
    if std::str::from_utf8(body).is_err() {
        assert_eq!(
            loose,
            Verdict::Failure,
            "an answer that is not UTF-8 was read as {loose:?}"
        );
    } else if let Ok(typed) = serde_json::from_slice::<CheckResponse>(body) {
        assert_eq!(
            Verdict::from(typed),
            loose,
            "typed and loose readings differ"
        );
    }
    for status in [None, Some(0), Some(204), Some(500), Some(503)] {
        assert_eq!(protocol::verifier_verdict(status, body), Verdict::Failure);
    }
}

fn claims(body: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<Claims>(body) else {
        return;
    };
    let Ok(req) = protocol::check_request(&claims) else {
        return;
    };
    for id in [Some(&req.sub), req.jti.as_ref(), req.sid.as_ref()]
        .into_iter()
        .flatten()
    {
        assert!(
            !id.is_empty() && id.len() <= MAX_ID_BYTES,
            "id out of bounds: {id:?}"
        );
    }
    let wire = serde_json::to_string(&req).expect("serialises");
    let back: CheckRequest = serde_json::from_str(&wire).expect("the verifier's type parses it");
    assert_eq!(back, req);
}
