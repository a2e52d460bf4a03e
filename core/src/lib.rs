//! Warden core: everything the filter and the verifier agree on, with no proxy-wasm or tokio
//! dependency, so it is tested natively and compiles for `wasm32-wasip1`.
//!
//! Layers, each module importing only modules of the layers after it (so there is no import
//! circle; `tests/layering.rs` reads this list and every `crate::` path to hold it true):
//!
//! explain → metrics → flow → forward / claims_state → auth → rules / extract / keystore /
//! revocation_view → config / cache / protocol / answer → token / subjects → host_crypto → jwk →
//! crypto / pubkey → der / pem / alg / b64 / percent / reason / route
//!
//! Read from the top: the playground's trace (`explain`) and the metric set (`metrics`) sit on
//! the per-request state machine (`flow`), which forwards what `auth` decided from the rules, the
//! token found, the keys held and the revocation view; below them the configuration model, the
//! verifier's wire (`protocol`) and
//! the token itself; then signature checks: the proxy's own (`host_crypto`) over parsed keys
//! (`jwk`), whose material runs the in-filter verifiers (`crypto`); encodings at the bottom.

pub mod alg;
pub mod answer;
pub mod auth;
pub mod b64;
pub mod cache;
pub mod claims_state;
pub mod config;
pub mod crypto;
pub mod der;
pub mod explain;
pub mod extract;
pub mod flow;
pub mod forward;
pub mod host_crypto;
pub mod jwk;
pub mod keystore;
pub mod metrics;
pub mod pem;
pub mod percent;
pub mod protocol;
pub mod pubkey;
pub mod reason;
pub mod revocation_view;
pub mod route;
pub mod rules;
pub mod subjects;
pub mod token;

pub use alg::Algorithm;
pub use reason::Reason;
