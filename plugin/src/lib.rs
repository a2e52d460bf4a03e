//! Warden's proxy-wasm filter: a thin adapter between the proxy and `warden-core`. Core's flow
//! makes every decision; these contexts feed it events and carry out its actions.
//!
//! Modules, each importing only those below it: `root` (configuration, tick) → `request` (one
//! request's context), `jwks` (scheduled key fetches) and `stream` (stream mode's feed poll) →
//! `shared` (per-VM state) → `metrics`, `logger`; `host` wraps the host calls they make;
//! `host_signatures` is the proxy's own signature check (`verify_signature`) as core's
//! `HostCrypto`.

mod host;
mod host_signatures;
mod jwks;
mod logger;
mod metrics;
mod request;
mod root;
mod shared;
mod stream;

proxy_wasm::main! {{
    logger::install();
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::WardenRoot::default())
    });
}}
