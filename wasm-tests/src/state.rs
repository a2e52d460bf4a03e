//! Everything the host knows about one VM. It lives in the wasmtime `Store` data, never in
//! globals, so any number of hosts run side by side (tests run in parallel).

use crate::abi::{LogLevel, MetricKind};
use crate::headers::HeaderMap;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::{Memory, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;

/// The settable clock: nanoseconds since the Unix epoch. Shared with the WASI clocks of the
/// same store, so `proxy_get_current_time_nanoseconds` and WASI `clock_time_get` agree.
#[derive(Clone, Debug)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    pub(crate) fn starting_now() -> Clock {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock(Arc::new(AtomicU64::new(duration_nanos(now))))
    }

    pub(crate) fn nanos(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn set_nanos(&self, nanos: u64) {
        self.0.store(nanos, Ordering::SeqCst);
    }
}

pub(crate) fn duration_nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl wasmtime_wasi::HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }
}

impl wasmtime_wasi::HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.nanos()
    }
}

/// One `proxy_log` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
}

impl std::fmt::Display for LogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.level, self.message)
    }
}

/// An outgoing `proxy_http_call` the filter made and that has not been answered yet.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// The token the filter got back; answer the call with it.
    pub token: u32,
    /// The context that made the call (the root context for background fetches).
    pub context_id: u32,
    /// The Envoy cluster name.
    pub upstream: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: HeaderMap,
    pub timeout: Duration,
    pub(crate) deadline_nanos: u64,
}

impl HttpCall {
    pub fn method(&self) -> Option<&str> {
        self.headers.get(":method")
    }

    pub fn path(&self) -> Option<&str> {
        self.headers.get(":path")
    }

    pub fn authority(&self) -> Option<&str> {
        self.headers.get(":authority")
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn body_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A response the filter answered itself with `proxy_send_local_response`.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub grpc_status: i32,
}

impl LocalResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl std::fmt::Debug for HttpCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCall")
            .field("token", &self.token)
            .field("context_id", &self.context_id)
            .field("upstream", &self.upstream)
            .field("headers", &self.headers)
            .field("body", &self.body_str())
            .field("trailers", &self.trailers)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl std::fmt::Debug for LocalResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalResponse")
            .field("status", &self.status)
            .field("details", &self.details)
            .field("headers", &self.headers)
            .field("body", &self.body_str())
            .field("grpc_status", &self.grpc_status)
            .finish()
    }
}

/// A metric the filter defined, with its current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricValue {
    pub name: String,
    pub kind: MetricKind,
    /// Counter or gauge value; for a histogram the number of recorded samples.
    pub value: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Metric id `n` is `entries[n - 1]`.
    pub(crate) entries: Vec<Metric>,
    pub(crate) by_name: HashMap<String, u32>,
}

#[derive(Debug)]
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    pub(crate) value: u64,
    pub(crate) samples: Vec<u64>,
}

impl Metrics {
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Metric> {
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        self.entries.get_mut(index)
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&Metric> {
        let id = *self.by_name.get(name)?;
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        self.entries.get(index)
    }
}

/// Shared data (`proxy_get_shared_data`/`proxy_set_shared_data`) with compare-and-swap.
/// Clone the handle into several hosts to simulate several Envoy workers sharing it.
#[derive(Clone, Debug, Default)]
pub struct SharedData(Arc<Mutex<SharedDataInner>>);

#[derive(Debug, Default)]
struct SharedDataInner {
    entries: HashMap<String, (Vec<u8>, u32)>,
    last_cas: u32,
}

/// Why a shared-data write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasError {
    Mismatch,
}

impl SharedData {
    pub fn new() -> SharedData {
        SharedData::default()
    }

    fn lock(&self) -> MutexGuard<'_, SharedDataInner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value and its CAS version.
    pub fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.lock().entries.get(key).cloned()
    }

    /// Stores `value`. A non-zero `cas` must equal the stored version (Envoy's rule: it is
    /// only compared when the key exists).
    pub fn set(&self, key: &str, value: Vec<u8>, cas: u32) -> Result<(), CasError> {
        let mut inner = self.lock();
        if let Some((_, current)) = inner.entries.get(key) {
            if cas != 0 && cas != *current {
                return Err(CasError::Mismatch);
            }
        }
        inner.last_cas = inner.last_cas.wrapping_add(1).max(1);
        let version = inner.last_cas;
        inner.entries.insert(key.to_owned(), (value, version));
        Ok(())
    }
}

/// Shared queues: registered by name, values queued and dequeued in order. `on_queue_ready`
/// is not delivered.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub(crate) by_name: HashMap<String, u32>,
    pub(crate) queues: BTreeMap<u32, VecDeque<Vec<u8>>>,
}

/// One direction (request or response) of an HTTP stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Direction {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: HeaderMap,
    /// The filter let this direction through (returned Continue or called continue_stream).
    pub(crate) continued: bool,
}

/// One HTTP stream (an http context).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stream {
    pub(crate) request: Direction,
    pub(crate) response: Option<Direction>,
    pub(crate) local_response: Option<LocalResponse>,
    pub(crate) reset: bool,
    /// A request body still to hand over once the headers went through.
    pub(crate) pending_body: bool,
}

/// The response of an http call while `proxy_on_http_call_response` runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpCallResponse {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) trailers: HeaderMap,
}

/// Guest exports the host functions need (set right after instantiation).
pub(crate) struct GuestMemory {
    pub(crate) memory: Memory,
    pub(crate) allocate: TypedFunc<i32, i32>,
}

/// The store data.
pub(crate) struct HostState {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) guest: Option<GuestMemory>,
    pub(crate) clock: Clock,
    pub(crate) log_level: LogLevel,
    pub(crate) logs: Vec<LogEntry>,
    pub(crate) echo_logs: bool,
    pub(crate) tick_period_ms: u32,
    pub(crate) next_tick_nanos: Option<u64>,
    pub(crate) properties: HashMap<Vec<String>, Vec<u8>>,
    pub(crate) shared_data: SharedData,
    pub(crate) queues: Queues,
    pub(crate) metrics: Metrics,
    pub(crate) http_calls: BTreeMap<u32, HttpCall>,
    pub(crate) last_token: u32,
    pub(crate) unavailable_clusters: HashSet<String>,
    pub(crate) root_context_id: u32,
    pub(crate) streams: HashMap<u32, Stream>,
    pub(crate) effective_context: u32,
    pub(crate) http_call_response: Option<HttpCallResponse>,
    pub(crate) vm_configuration: Vec<u8>,
    pub(crate) plugin_configuration: Vec<u8>,
    /// Host-side diagnostics: unsupported calls, refused http calls.
    pub(crate) notes: Vec<String>,
    pub(crate) done_calls: u32,
    /// Whether the foreign function `verify_signature` exists, and how often it was called.
    pub(crate) verify_signature: bool,
    pub(crate) foreign_calls: u64,
    /// Calls to the foreign function `clear_route_cache`.
    pub(crate) route_cache_clears: u64,
    /// Calls the guest made to each `env::proxy_*` function (WASI calls are not counted).
    pub(crate) host_calls: BTreeMap<&'static str, u64>,
}

impl HostState {
    pub(crate) fn current_stream(&mut self) -> Option<&mut Stream> {
        self.streams.get_mut(&self.effective_context)
    }

    pub(crate) fn note(&mut self, note: String) {
        if self.echo_logs {
            eprintln!("[host] {note}");
        }
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    pub(crate) fn count_call(&mut self, name: &'static str) {
        *self.host_calls.entry(name).or_default() += 1;
    }

    pub(crate) fn note_unsupported(&mut self, name: &str) {
        self.note(format!("unsupported host call `{name}`"));
    }
}
