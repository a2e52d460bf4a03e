#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! End-to-end scenarios: the real `warden_plugin.wasm` inside the wasmtime host, driven as Envoy
//! drives it. Build the plugin first:
//! `cargo build --release --target wasm32-wasip1 -p warden-plugin`.

mod common;

mod algorithms;
mod cache_and_metrics;
mod claims_state;
mod cli;
mod configuration;
mod dashboard_metrics;
mod forwarding;
mod hit_path;
mod host_crypto;
mod hostile_tokens;
mod parity;
mod provider_fields;
mod remote_jwks;
mod requirements;
mod stream;
mod verifier;
