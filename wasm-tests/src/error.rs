//! Errors of the host API.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum HostError {
    /// The plugin `.wasm` is not where we looked.
    WasmMissing { path: PathBuf },
    /// The `.wasm` exists but could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// wasmtime could not compile the module.
    Compile(String),
    /// The module could not be linked or instantiated.
    Instantiate(String),
    /// The module is not a proxy-wasm ABI 0.2.1 module (a required export is missing).
    NotProxyWasm(String),
    /// `proxy_on_vm_start` returned false.
    VmStartRejected,
    /// A callback trapped (e.g. the filter panicked). The VM is dead afterwards, as in Envoy.
    Trap {
        callback: &'static str,
        message: String,
    },
    /// A callback trapped earlier; the VM takes no more calls.
    Crashed,
    /// No such request on this host (never made or already finished).
    UnknownRequest(u32),
    /// No pending http call with this token.
    UnknownHttpCall(u32),
}

/// What to run when the plugin `.wasm` is missing.
pub const BUILD_HINT: &str =
    "build it with `cargo build --release --target wasm32-wasip1 -p warden-plugin` \
     (or point WARDEN_WASM at a built .wasm)";

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::WasmMissing { path } => {
                write!(
                    f,
                    "plugin wasm not found at {}: {BUILD_HINT}",
                    path.display()
                )
            }
            HostError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            HostError::Compile(message) => write!(f, "cannot compile the wasm module: {message}"),
            HostError::Instantiate(message) => {
                write!(f, "cannot instantiate the wasm module: {message}")
            }
            HostError::NotProxyWasm(message) => {
                write!(f, "not a proxy-wasm 0.2.1 module: {message}")
            }
            HostError::VmStartRejected => f.write_str("proxy_on_vm_start returned false"),
            HostError::Trap { callback, message } => {
                write!(f, "the filter trapped in {callback}: {message}")
            }
            HostError::Crashed => f.write_str("the VM trapped earlier and takes no more calls"),
            HostError::UnknownRequest(id) => {
                write!(f, "no request with context id {id} on this host")
            }
            HostError::UnknownHttpCall(token) => {
                write!(f, "no pending http call with token {token}")
            }
        }
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HostError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
