//! The wire between the filter and the verifier, typed once so both sides agree by
//! construction: the check (`POST /v1/check`, [`check`], re-exported here), the revocation feed
//! stream mode polls (`GET /v1/revocations`, [`feed`]) and the shape of the verifier's session
//! ids ([`sid`]).

pub mod check;
pub mod feed;
pub mod sid;

pub use check::{
    check_request, check_request_with, verifier_verdict, CheckRequest, CheckResponse, Verdict,
    MAX_ID_BYTES,
};
