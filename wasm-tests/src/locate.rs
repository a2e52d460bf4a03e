//! Where the built plugin lives.

use std::path::PathBuf;

/// File name of the release build of `warden-plugin`.
pub const WASM_FILE: &str = "warden_plugin.wasm";

/// The plugin `.wasm` to load: `$WARDEN_WASM` when set, else
/// `$CARGO_TARGET_DIR/wasm32-wasip1/release/warden_plugin.wasm` when that is set at run time,
/// else the workspace's `target/wasm32-wasip1/release/warden_plugin.wasm`.
pub fn default_wasm_path() -> PathBuf {
    if let Some(path) = std::env::var_os("WARDEN_WASM") {
        return PathBuf::from(path);
    }
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target"),
    };
    target_dir
        .join("wasm32-wasip1")
        .join("release")
        .join(WASM_FILE)
}
