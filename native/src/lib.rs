//! Warden as an Envoy dynamic module (`envoy.filters.http.dynamic_modules`): the same core as
//! the wasm filter, over Envoy's dynamic-module C ABI.
pub mod abi;
pub mod crypto;
mod envoy;
pub mod hooks;
mod panics;
