//! A proxy-wasm (ABI 0.2.1) host on wasmtime that runs the compiled Warden filter the way
//! Envoy drives it, for tests and for trying a configuration without Envoy.
//!
//! ```no_run
//! use warden_wasm_tests::{Host, Outcome};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut host = Host::load_default()?;
//! assert!(host.configure(r#"{"providers":{}, "rules":[]}"#)?);
//! let request = host.request(&[(":method", "GET"), (":path", "/"), ("authorization", "Bearer x")])?;
//! match host.outcome(request) {
//!     Outcome::Continue { headers } => println!("forwarded: {headers:?}"),
//!     Outcome::LocalResponse(response) => println!("answered {}", response.status),
//!     other => println!("{other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! See `docs/wasm-tests.md` for the whole API.

pub mod abi;
mod error;
mod headers;
mod host;
mod hostcalls;
mod locate;
mod plugin;
mod state;

pub use abi::{LogLevel, MetricKind};
pub use error::{HostError, BUILD_HINT};
pub use headers::HeaderMap;
pub use host::{Host, HostOptions, Outcome, RequestId};
pub use locate::{default_wasm_path, WASM_FILE};
pub use plugin::Plugin;
pub use state::{CasError, HttpCall, LocalResponse, LogEntry, MetricValue, SharedData};
