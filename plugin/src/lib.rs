//! Warden's proxy-wasm filter: a thin adapter between the proxy and `warden-core`. Core's flow
//! makes every decision; these contexts feed it events and carry out its actions.
//!
//! Modules, each importing only those below it: `root` (configuration, tick) → `http` (one
//! request) and `jwks` (scheduled key fetches) → `shared` (per-VM state) → `metrics`, `logger`;
//! `host` wraps the host calls they make; `crypto` the proxy's own signature checks.

mod crypto;
mod host;
mod http;
mod jwks;
mod logger;
mod metrics;
mod root;
mod shared;
mod stream;

proxy_wasm::main! {{
    logger::install();
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::WardenRoot::default())
    });
}}
