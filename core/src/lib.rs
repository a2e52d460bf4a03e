//! Warden core: everything the filter and the verifier agree on, with no proxy-wasm or tokio
//! dependency, so it is tested natively and compiles for `wasm32-wasip1`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod protocol;
pub mod reason;

pub use reason::Reason;
