//! Warden as an Envoy dynamic module (`envoy.filters.http.dynamic_modules`): the same core as
//! the wasm filter, over Envoy's dynamic-module C ABI (v0.2.0, Envoy 1.40), loaded as
//! `dynamic_module_config: {name: warden_native}` with `filter_name: warden` and the wasm
//! plugin's JSON as `filter_config`.
//!
//! Modules: `hooks` (what Envoy calls; every hook under a panic guard) → `config` (the filter
//! configuration, shared by all threads) → `request` (one request, on its worker) / `root` (the
//! main thread's fetches and feed poll) → `worker` (each worker thread's own core `Filter`) →
//! `broadcast` (the main thread's replies, replayed by the workers) → `envoy` (safe wrappers
//! over the callbacks) → `abi` (the C declarations); `crypto` (signature checks with aws-lc-rs
//! behind core's `HostCrypto` seam), `logger`.

pub mod abi;
mod broadcast;
mod config;
pub mod crypto;
mod envoy;
pub mod hooks;
mod logger;
mod request;
mod root;
mod worker;

use std::rc::Rc;
use warden_core::host_crypto::SignatureBackends;

use crypto::signature_backends;

thread_local! {
    static SIGNATURES: Rc<SignatureBackends> = Rc::new(signature_backends());
}

/// This worker thread's signature backends (probed once per thread).
fn signatures() -> Rc<SignatureBackends> {
    SIGNATURES.with(Rc::clone)
}
