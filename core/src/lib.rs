//! Warden core: everything the filter and the verifier agree on, with no proxy-wasm or tokio
//! dependency, so it is tested natively and compiles for `wasm32-wasip1`.

pub mod alg;
pub mod answer;
pub mod auth;
pub mod b64;
pub mod cache;
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
pub mod pem;
pub mod percent;
pub mod protocol;
pub mod pubkey;
pub mod reason;
pub mod revocation_view;
pub mod rules;
pub mod token;

pub use alg::Algorithm;
pub use reason::Reason;
