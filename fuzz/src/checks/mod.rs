//! One `run(data)` per fuzz target. Each feeds the bytes through Warden's public API and panics
//! when an invariant breaks: a panic is what libFuzzer reports as a crash, and what the stable
//! replay test (`core/tests/fuzz_regressions.rs`) fails on. Only `warden_core` and the RustCrypto
//! crates are used here, so the replay test can include this module as it is.

pub mod bodies;
pub mod bytes;
pub mod config;
pub mod diff_ecdsa;
pub mod diff_rsa;
pub mod input;
pub mod jwks;
pub mod keys;
pub mod request;
pub mod seeds;
pub mod token;
pub mod upstream;
