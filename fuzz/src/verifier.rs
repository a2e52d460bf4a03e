//! Target `verifier_bodies`, verifier half: the verifier's own body parser (`parse_json`, which
//! answers 400/413) and validation for `POST /v1/check` and the admin routes, and the session-id
//! parser behind `DELETE /v1/admin/sessions/{sid}`. Same input layout as `checks::bodies`, with
//! byte 0 read modulo 8: 4 check, 5 revoke token, 6 revoke user, 7 create session; every input
//! is also tried as a session id.
//!
//! Oracles: every refusal is a 400 (never a 5xx); a check body the verifier accepts is the same
//! value core's protocol type reads, with ids of 1..=256 bytes; a sid has an owner only in the
//! shape the verifier makes (22 base64url characters, a dot, a user tag).

use warden_core::protocol::{CheckRequest, MAX_ID_BYTES};
use warden_verifier::http::admin::{CreateSessionRequest, RevokeTokenRequest, RevokeUserRequest};
use warden_verifier::http::extract::{check_id, parse_json};
use warden_verifier::store::keys::UserTag;
use warden_verifier::store::sid;
use warden_verifier::ApiError;

fn bad_request_only<T>(result: &Result<T, ApiError>) {
    if let Err(e) = result {
        assert!(
            matches!(e, ApiError::BadRequest(_)),
            "refused with {e:?}, not 400"
        );
    }
}

pub fn run(data: &[u8]) {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    match selector % 8 {
        4 => {
            let parsed = parse_json::<CheckRequest>(body);
            bad_request_only(&parsed);
            if let Ok(req) = parsed {
                let core: CheckRequest = serde_json::from_slice(body).expect("core reads it too");
                assert_eq!(core, req);
                for id in [Some(&req.sub), req.jti.as_ref(), req.sid.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    assert!(!id.is_empty() && id.len() <= MAX_ID_BYTES);
                }
                let _ = UserTag::of_sub(&req.sub);
            }
        }
        5 => {
            let parsed = parse_json::<RevokeTokenRequest>(body);
            bad_request_only(&parsed);
            if let Ok(req) = parsed {
                bad_request_only(&check_id("sub", &req.sub));
                bad_request_only(&check_id("jti", &req.jti));
            }
        }
        6 => bad_request_only(&parse_json::<RevokeUserRequest>(body)),
        7 => {
            let parsed = parse_json::<CreateSessionRequest>(body);
            bad_request_only(&parsed);
            if let Ok(req) = parsed {
                bad_request_only(&check_id("sub", &req.sub));
            }
        }
        _ => {}
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if let Some(owner) = sid::owner_tag(text) {
            let (random, tag) = text.split_once('.').expect("a sid with an owner has a dot");
            assert_eq!(random.len(), 22);
            assert_eq!(tag, owner.as_str());
            assert_eq!(UserTag::parse(owner.as_str()).as_ref(), Some(&owner));
        }
    }
}
