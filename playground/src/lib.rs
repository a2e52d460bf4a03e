//! The explain tool of `warden-core` for the browser and Node, via wasm-bindgen. Every export
//! takes and returns JSON text, so the page and `scripts/warden-explain` read the same document
//! and core stays free of any JavaScript binding.

use serde_json::{json, Value};
use warden_core::explain::{self, Request};
use wasm_bindgen::prelude::wasm_bindgen;

/// The wasm-bindgen version this crate is built with; `wasm-bindgen-cli` must match it.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// Compiles a plugin configuration: `{"ok": true, "providers", "rules", "verifier", "log"}` or
/// `{"ok": false, "path", "reason", "message"}` with the field path as the filter logs it.
#[wasm_bindgen]
pub fn compile(config: &str) -> String {
    compile_value(config).to_string()
}

/// Explains `request` (JSON, see `warden_core::explain::Request`) under `config`.
/// `now_ms` is the caller's clock, used when the request names no `now`. Returns the
/// explanation with `"ok": true`, or `{"ok": false, "error": "config" | "request", ...}`.
#[wasm_bindgen]
pub fn explain(config: &str, request: &str, now_ms: f64) -> String {
    explain_value(config, request, now_ms).to_string()
}

/// The core version the page was built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

pub fn compile_value(config: &str) -> Value {
    match explain::compile(config) {
        Ok((_, compiled)) => with_ok(json!(compiled)),
        Err(rejected) => config_error(&rejected),
    }
}

pub fn explain_value(config: &str, request: &str, now_ms: f64) -> Value {
    let request: Request = match serde_json::from_str(request) {
        Ok(r) => r,
        Err(e) => {
            return json!({"ok": false, "error": "request", "message": format!("request: {e}")})
        }
    };
    let now_ms = if now_ms.is_finite() && now_ms > 0.0 {
        // Whole milliseconds since 1970 fit in u64 for any date a person types.
        now_ms as u64
    } else {
        0
    };
    match explain::explain(config, &request, now_ms) {
        Ok(explanation) => with_ok(json!(explanation)),
        Err(rejected) => config_error(&rejected),
    }
}

fn config_error(rejected: &explain::Rejection) -> Value {
    json!({"ok": false, "error": "config", "path": rejected.path, "reason": rejected.reason,
           "message": rejected.message})
}

fn with_ok(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.insert("ok".into(), Value::Bool(true));
    }
    value
}

#[cfg(test)]
mod tests;
