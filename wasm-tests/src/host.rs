//! [`Host`]: one VM running the plugin, driven the way Envoy drives it.

use crate::abi::{Action, LogLevel, MetricKind};
use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::plugin::Plugin;
use crate::state::{
    duration_nanos, Clock, Direction, GuestMemory, HostState, HttpCall, HttpCallResponse,
    LocalResponse, LogEntry, MetricValue, Metrics, Queues, SharedData, Stream,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::{Instance, Store, TypedFunc, WasmParams, WasmResults};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

/// The id Envoy-like hosts give the plugin's root context.
const ROOT_CONTEXT_ID: u32 = 1;
/// Bytes of WASI stdout/stderr kept per host.
const STDIO_CAPACITY: usize = 4 << 20;
/// Epoch ticks meaning "no limit" (wasmtime adds the current epoch, so not `u64::MAX`).
const NO_DEADLINE: u64 = u64::MAX / 4;
/// `advance` fires at most this many timer events (a guard against a 1 ms tick over a year).
const MAX_TIMER_EVENTS: usize = 1_000_000;

/// How to start a VM.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// The VM configuration buffer handed to `proxy_on_vm_start`.
    pub vm_configuration: Vec<u8>,
    /// Shared data; give several hosts the same handle to simulate several workers.
    pub shared_data: SharedData,
    /// Host log level: lower levels are dropped (default trace: keep everything).
    pub log_level: LogLevel,
    /// Print every filter log line to stderr as it happens (default: `$WARDEN_WASM_LOG` is set).
    pub echo_logs: bool,
    /// Start time of the settable clock (default: now).
    pub time: Option<SystemTime>,
    /// Longest a single callback may run before it traps (default 10 s; `None`: no limit).
    /// Only a guard against endless loops: it is wall-clock time, coarse (50 ms steps).
    pub callback_time_limit: Option<Duration>,
    /// Offer the foreign function `verify_signature` as Envoy does (default true), natively with
    /// RustCrypto (`warden_testkit::host_crypto`); false: a host without it, like other proxies.
    pub verify_signature: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            vm_configuration: Vec::new(),
            shared_data: SharedData::new(),
            log_level: LogLevel::Trace,
            echo_logs: std::env::var_os("WARDEN_WASM_LOG").is_some(),
            time: None,
            callback_time_limit: Some(Duration::from_secs(10)),
            verify_signature: true,
        }
    }
}

/// A request (an http context) made on a [`Host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(u32);

impl RequestId {
    pub fn context_id(self) -> u32 {
        self.0
    }
}

/// What became of a request (or of a response, see [`Host::respond`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The filter let it through; these are the headers it forwards.
    Continue { headers: HeaderMap },
    /// The filter answered itself.
    LocalResponse(LocalResponse),
    /// The filter holds it (waiting for an http call, typically).
    Paused,
    /// The filter reset the stream.
    Reset,
    /// No such request (never made or already finished).
    Unknown,
}

impl Outcome {
    pub fn is_continue(&self) -> bool {
        matches!(self, Outcome::Continue { .. })
    }

    pub fn is_paused(&self) -> bool {
        matches!(self, Outcome::Paused)
    }

    /// The forwarded headers when the filter let the request through.
    pub fn forwarded_headers(&self) -> Option<&HeaderMap> {
        match self {
            Outcome::Continue { headers } => Some(headers),
            _ => None,
        }
    }

    pub fn local_response(&self) -> Option<&LocalResponse> {
        match self {
            Outcome::LocalResponse(response) => Some(response),
            _ => None,
        }
    }
}

/// `proxy_on_http_call_response(context, token, headers, body_size, trailers)`.
type HttpCallResponseFn = TypedFunc<(i32, i32, i32, i32, i32), ()>;

/// The guest's exported callbacks.
struct Callbacks {
    on_context_create: TypedFunc<(i32, i32), ()>,
    on_vm_start: TypedFunc<(i32, i32), i32>,
    on_configure: TypedFunc<(i32, i32), i32>,
    on_tick: Option<TypedFunc<i32, ()>>,
    on_request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_request_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_response_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    on_http_call_response: Option<HttpCallResponseFn>,
    on_done: Option<TypedFunc<i32, i32>>,
    on_log: Option<TypedFunc<i32, ()>>,
    on_delete: Option<TypedFunc<i32, ()>>,
}

/// One VM running the plugin: the root context is created and `proxy_on_vm_start` has run.
pub struct Host {
    store: Store<HostState>,
    callbacks: Callbacks,
    next_context_id: u32,
    crashed: bool,
    /// Epoch ticks a callback may run (see `HostOptions::callback_time_limit`).
    deadline_ticks: u64,
    time_limit: Option<Duration>,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

fn as_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl Host {
    /// Compiles and starts the plugin at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Host, HostError> {
        Plugin::load(path)?.instantiate()
    }

    /// Compiles and starts the plugin found by [`crate::default_wasm_path`].
    pub fn load_default() -> Result<Host, HostError> {
        Plugin::load_default()?.instantiate()
    }

    pub(crate) fn start(plugin: &Plugin, options: HostOptions) -> Result<Host, HostError> {
        let clock = Clock::starting_now();
        if let Some(time) = options.time {
            clock.set_nanos(duration_nanos(
                time.duration_since(UNIX_EPOCH).unwrap_or_default(),
            ));
        }
        let stdout = MemoryOutputPipe::new(STDIO_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .wall_clock(clock.clone())
            .monotonic_clock(clock.clone())
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let state = HostState {
            wasi,
            guest: None,
            clock,
            log_level: options.log_level,
            logs: Vec::new(),
            echo_logs: options.echo_logs,
            tick_period_ms: 0,
            next_tick_nanos: None,
            properties: HashMap::new(),
            shared_data: options.shared_data,
            queues: Queues::default(),
            metrics: Metrics::default(),
            http_calls: BTreeMap::new(),
            last_token: 0,
            unavailable_clusters: HashSet::new(),
            root_context_id: ROOT_CONTEXT_ID,
            streams: HashMap::new(),
            effective_context: ROOT_CONTEXT_ID,
            http_call_response: None,
            vm_configuration: options.vm_configuration,
            plugin_configuration: Vec::new(),
            notes: Vec::new(),
            done_calls: 0,
            verify_signature: options.verify_signature,
            foreign_calls: 0,
            route_cache_clears: 0,
            host_calls: BTreeMap::new(),
        };
        let mut store = Store::new(&plugin.engine, state);
        store.set_epoch_deadline(NO_DEADLINE);
        let instance = plugin
            .linker
            .instantiate(&mut store, &plugin.module)
            .map_err(|e| HostError::Instantiate(format!("{e:?}")))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| HostError::NotProxyWasm("no exported memory".into()))?;
        let allocate = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .map_err(|_| HostError::NotProxyWasm("no proxy_on_memory_allocate export".into()))?;
        store.data_mut().guest = Some(GuestMemory { memory, allocate });
        let callbacks = Callbacks::find(&instance, &mut store)?;
        let deadline_ticks = match options.callback_time_limit {
            Some(limit) => {
                let ticks = limit.as_nanos() / crate::plugin::EPOCH_TICK.as_nanos().max(1);
                u64::try_from(ticks)
                    .unwrap_or(NO_DEADLINE)
                    .clamp(1, NO_DEADLINE)
            }
            None => NO_DEADLINE,
        };
        let mut host = Host {
            store,
            callbacks,
            next_context_id: ROOT_CONTEXT_ID + 1,
            crashed: false,
            deadline_ticks,
            time_limit: options.callback_time_limit,
            stdout,
            stderr,
        };
        if let Ok(initialize) = instance.get_typed_func::<(), ()>(&mut host.store, "_initialize") {
            host.invoke("_initialize", &initialize, ROOT_CONTEXT_ID, ())?;
        }
        let create = host.callbacks.on_context_create.clone();
        host.invoke(
            "proxy_on_context_create",
            &create,
            ROOT_CONTEXT_ID,
            (ROOT_CONTEXT_ID as i32, 0),
        )?;
        let vm_start = host.callbacks.on_vm_start.clone();
        let size = as_i32(host.store.data().vm_configuration.len());
        let started = host.invoke(
            "proxy_on_vm_start",
            &vm_start,
            ROOT_CONTEXT_ID,
            (ROOT_CONTEXT_ID as i32, size),
        )?;
        if started == 0 {
            return Err(HostError::VmStartRejected);
        }
        Ok(host)
    }

    /// Calls a guest callback with `context` as the effective context. A trap kills the VM.
    fn invoke<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &'static str,
        func: &TypedFunc<P, R>,
        context: u32,
        params: P,
    ) -> Result<R, HostError> {
        if self.crashed {
            return Err(HostError::Crashed);
        }
        self.store.data_mut().effective_context = context;
        self.store.set_epoch_deadline(self.deadline_ticks);
        func.call(&mut self.store, params).map_err(|error| {
            self.crashed = true;
            let interrupted =
                error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt);
            let message = match (interrupted, self.time_limit) {
                (true, Some(limit)) => {
                    format!("ran longer than the callback time limit of {limit:?}")
                }
                _ => format!("{error:?}"),
            };
            HostError::Trap {
                callback: name,
                message,
            }
        })
    }

    /// Hands the plugin its configuration (`proxy_on_configure`); returns what the plugin
    /// answered (false: configuration rejected).
    pub fn configure(&mut self, configuration: &str) -> Result<bool, HostError> {
        self.configure_bytes(configuration.as_bytes())
    }

    pub fn configure_bytes(&mut self, configuration: &[u8]) -> Result<bool, HostError> {
        self.store.data_mut().plugin_configuration = configuration.to_vec();
        let size = as_i32(configuration.len());
        let configure = self.callbacks.on_configure.clone();
        let accepted = self.invoke(
            "proxy_on_configure",
            &configure,
            ROOT_CONTEXT_ID,
            (ROOT_CONTEXT_ID as i32, size),
        )?;
        Ok(accepted != 0)
    }

    /// The root context's id (the context of background http calls).
    pub fn root_context_id(&self) -> u32 {
        ROOT_CONTEXT_ID
    }

    /// Starts a request with these headers and no body (`end_of_stream` on the headers).
    /// Header names are lower-cased, as Envoy does.
    pub fn request(&mut self, headers: &[(&str, &str)]) -> Result<RequestId, HostError> {
        self.start_request(headers, None)
    }

    /// Starts a request with headers, then a body (delivered once the headers went through).
    pub fn request_with_body(
        &mut self,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<RequestId, HostError> {
        self.start_request(headers, Some(body))
    }

    fn start_request(
        &mut self,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<RequestId, HostError> {
        let id = self.next_context_id;
        self.next_context_id = self
            .next_context_id
            .wrapping_add(1)
            .max(ROOT_CONTEXT_ID + 1);
        let stream = Stream {
            request: Direction {
                headers: HeaderMap::from_pairs(headers),
                body: body.map(<[u8]>::to_vec).unwrap_or_default(),
                ..Direction::default()
            },
            pending_body: body.is_some(),
            ..Stream::default()
        };
        let header_count = as_i32(stream.request.headers.len());
        self.store.data_mut().streams.insert(id, stream);
        let create = self.callbacks.on_context_create.clone();
        self.invoke(
            "proxy_on_context_create",
            &create,
            id,
            (id as i32, ROOT_CONTEXT_ID as i32),
        )?;
        let action = match self.callbacks.on_request_headers.clone() {
            Some(on_headers) => {
                let end_of_stream = i32::from(body.is_none());
                let code = self.invoke(
                    "proxy_on_request_headers",
                    &on_headers,
                    id,
                    (id as i32, header_count, end_of_stream),
                )?;
                Action::from_code(code)
            }
            None => Action::Continue,
        };
        if action == Action::Continue {
            if let Some(stream) = self.store.data_mut().streams.get_mut(&id) {
                stream.request.continued = true;
            }
        }
        self.deliver_pending_body(id)?;
        Ok(RequestId(id))
    }

    /// Once the request headers went through, hands the plugin the request body.
    fn deliver_pending_body(&mut self, id: u32) -> Result<(), HostError> {
        let Some(stream) = self.store.data_mut().streams.get_mut(&id) else {
            return Ok(());
        };
        if !stream.pending_body || !stream.request.continued || stream.local_response.is_some() {
            return Ok(());
        }
        stream.pending_body = false;
        let size = as_i32(stream.request.body.len());
        let Some(on_body) = self.callbacks.on_request_body.clone() else {
            return Ok(());
        };
        let code = self.invoke("proxy_on_request_body", &on_body, id, (id as i32, size, 1))?;
        if Action::from_code(code) == Action::Pause {
            if let Some(stream) = self.store.data_mut().streams.get_mut(&id) {
                stream.request.continued = false;
            }
        }
        Ok(())
    }

    /// What the filter did with the request so far.
    pub fn outcome(&self, request: RequestId) -> Outcome {
        let Some(stream) = self.store.data().streams.get(&request.0) else {
            return Outcome::Unknown;
        };
        if let Some(response) = &stream.local_response {
            return Outcome::LocalResponse(response.clone());
        }
        if stream.reset {
            return Outcome::Reset;
        }
        if stream.request.continued {
            return Outcome::Continue {
                headers: stream.request.headers.clone(),
            };
        }
        Outcome::Paused
    }

    /// The request headers as they are now (with the filter's edits).
    pub fn request_headers(&self, request: RequestId) -> Option<HeaderMap> {
        self.store
            .data()
            .streams
            .get(&request.0)
            .map(|s| s.request.headers.clone())
    }

    /// The upstream answers the request with these headers (`:status` among them) and no body;
    /// returns what the filter did with the response.
    pub fn respond(
        &mut self,
        request: RequestId,
        headers: &[(&str, &str)],
    ) -> Result<Outcome, HostError> {
        let id = request.0;
        let stream = self
            .store
            .data_mut()
            .streams
            .get_mut(&id)
            .ok_or(HostError::UnknownRequest(id))?;
        let response = Direction {
            headers: HeaderMap::from_pairs(headers),
            ..Direction::default()
        };
        let header_count = as_i32(response.headers.len());
        stream.response = Some(response);
        let action = match self.callbacks.on_response_headers.clone() {
            Some(on_headers) => {
                let code = self.invoke(
                    "proxy_on_response_headers",
                    &on_headers,
                    id,
                    (id as i32, header_count, 1),
                )?;
                Action::from_code(code)
            }
            None => Action::Continue,
        };
        let stream = self
            .store
            .data_mut()
            .streams
            .get_mut(&id)
            .ok_or(HostError::UnknownRequest(id))?;
        if let Some(response) = stream.response.as_mut() {
            if action == Action::Continue {
                response.continued = true;
            }
        }
        Ok(if let Some(local) = &stream.local_response {
            Outcome::LocalResponse(local.clone())
        } else if stream.reset {
            Outcome::Reset
        } else {
            match &stream.response {
                Some(response) if response.continued => Outcome::Continue {
                    headers: response.headers.clone(),
                },
                _ => Outcome::Paused,
            }
        })
    }

    /// Ends the request as Envoy does when the stream completes: pending http calls of the
    /// request are cancelled, then `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`.
    pub fn finish(&mut self, request: RequestId) -> Result<(), HostError> {
        let id = request.0;
        if !self.store.data().streams.contains_key(&id) {
            return Err(HostError::UnknownRequest(id));
        }
        self.store
            .data_mut()
            .http_calls
            .retain(|_, call| call.context_id != id);
        if let Some(on_done) = self.callbacks.on_done.clone() {
            self.invoke("proxy_on_done", &on_done, id, id as i32)?;
        }
        if let Some(on_log) = self.callbacks.on_log.clone() {
            self.invoke("proxy_on_log", &on_log, id, id as i32)?;
        }
        if let Some(on_delete) = self.callbacks.on_delete.clone() {
            self.invoke("proxy_on_delete", &on_delete, id, id as i32)?;
        }
        let state = self.store.data_mut();
        state.streams.remove(&id);
        state.effective_context = ROOT_CONTEXT_ID;
        Ok(())
    }

    /// Http calls the filter made that are not answered yet, oldest first.
    pub fn pending_http_calls(&self) -> Vec<HttpCall> {
        self.store.data().http_calls.values().cloned().collect()
    }

    /// The pending http call with this token, if it is still pending.
    pub fn http_call_pending(&self, token: u32) -> Option<HttpCall> {
        self.store.data().http_calls.get(&token).cloned()
    }

    /// The oldest pending http call to `upstream`.
    pub fn pending_http_call_to(&self, upstream: &str) -> Option<HttpCall> {
        self.store
            .data()
            .http_calls
            .values()
            .find(|c| c.upstream == upstream)
            .cloned()
    }

    /// Answers a pending http call: `:status` is added to `headers`; then
    /// `proxy_on_http_call_response` runs in the context that made the call.
    pub fn respond_http_call(
        &mut self,
        token: u32,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        let mut response_headers = HeaderMap::new();
        response_headers.add(":status", &status.to_string());
        for (name, value) in headers {
            response_headers.add(name, value);
        }
        let response = HttpCallResponse {
            headers: response_headers,
            body: body.to_vec(),
            trailers: HeaderMap::new(),
        };
        self.deliver_http_call(token, Some(response))
    }

    /// Fails a pending http call (timeout, connection failure, reset): as Envoy does, the
    /// callback runs with no headers, no body and no trailers.
    pub fn fail_http_call(&mut self, token: u32) -> Result<(), HostError> {
        self.deliver_http_call(token, None)
    }

    fn deliver_http_call(
        &mut self,
        token: u32,
        response: Option<HttpCallResponse>,
    ) -> Result<(), HostError> {
        let call = self
            .store
            .data_mut()
            .http_calls
            .remove(&token)
            .ok_or(HostError::UnknownHttpCall(token))?;
        let context = call.context_id;
        if context != ROOT_CONTEXT_ID && !self.store.data().streams.contains_key(&context) {
            return Ok(());
        }
        let (headers, body, trailers) = match &response {
            Some(r) => (r.headers.len(), r.body.len(), r.trailers.len()),
            None => (0, 0, 0),
        };
        self.store.data_mut().http_call_response = response;
        let result = match self.callbacks.on_http_call_response.clone() {
            Some(callback) => self.invoke(
                "proxy_on_http_call_response",
                &callback,
                context,
                (
                    context as i32,
                    token as i32,
                    as_i32(headers),
                    as_i32(body),
                    as_i32(trailers),
                ),
            ),
            None => Ok(()),
        };
        self.store.data_mut().http_call_response = None;
        result?;
        self.deliver_pending_body(context)
    }

    /// Makes Warden's cluster `name` unknown: `proxy_http_call` to it fails with BadArgument,
    /// as Envoy answers for a cluster it does not have.
    pub fn set_cluster_unknown(&mut self, name: &str, unknown: bool) {
        let clusters = &mut self.store.data_mut().unavailable_clusters;
        if unknown {
            clusters.insert(name.to_owned());
        } else {
            clusters.remove(name);
        }
    }

    /// Fires the root context's timer once (`proxy_on_tick`) without moving the clock.
    pub fn tick(&mut self) -> Result<(), HostError> {
        if let Some(on_tick) = self.callbacks.on_tick.clone() {
            self.invoke(
                "proxy_on_tick",
                &on_tick,
                ROOT_CONTEXT_ID,
                ROOT_CONTEXT_ID as i32,
            )?;
        }
        let state = self.store.data_mut();
        if state.tick_period_ms > 0 {
            let period = u64::from(state.tick_period_ms) * 1_000_000;
            state.next_tick_nanos = Some(state.clock.nanos().saturating_add(period));
        }
        Ok(())
    }

    /// The tick period the plugin asked for (`None`: no timer).
    pub fn tick_period(&self) -> Option<Duration> {
        match self.store.data().tick_period_ms {
            0 => None,
            ms => Some(Duration::from_millis(u64::from(ms))),
        }
    }

    /// Moves the clock forward by `by`, firing on the way, in time order, every tick that
    /// falls due and failing every http call whose timeout expires (as Envoy's timers would).
    pub fn advance(&mut self, by: Duration) -> Result<(), HostError> {
        let target = self
            .store
            .data()
            .clock
            .nanos()
            .saturating_add(duration_nanos(by));
        for _ in 0..MAX_TIMER_EVENTS {
            let state = self.store.data();
            let next_tick = state.next_tick_nanos.filter(|at| *at <= target);
            let next_timeout = state
                .http_calls
                .values()
                .filter(|c| c.deadline_nanos <= target)
                .min_by_key(|c| c.deadline_nanos)
                .map(|c| (c.deadline_nanos, c.token));
            match (next_tick, next_timeout) {
                (None, None) => break,
                (Some(tick_at), timeout) if timeout.is_none_or(|(at, _)| tick_at <= at) => {
                    self.store
                        .data()
                        .clock
                        .set_nanos(tick_at.max(self.store.data().clock.nanos()));
                    self.tick()?;
                }
                (_, Some((at, token))) => {
                    self.store
                        .data()
                        .clock
                        .set_nanos(at.max(self.store.data().clock.nanos()));
                    self.fail_http_call(token)?;
                }
                (Some(_), None) => break,
            }
        }
        self.store.data().clock.set_nanos(target);
        Ok(())
    }

    /// The settable clock (what `proxy_get_current_time_nanoseconds` and WASI clocks read).
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.store.data().clock.nanos())
    }

    /// Sets the clock; fires nothing (see [`Host::advance`]).
    pub fn set_time(&mut self, time: SystemTime) {
        let nanos = duration_nanos(time.duration_since(UNIX_EPOCH).unwrap_or_default());
        self.store.data().clock.set_nanos(nanos);
    }

    /// Sets the clock to a Unix time in seconds.
    pub fn set_unix_time(&mut self, seconds: u64) {
        self.set_time(UNIX_EPOCH + Duration::from_secs(seconds));
    }

    /// The clock as Unix seconds.
    pub fn unix_time(&self) -> u64 {
        self.store.data().clock.nanos() / 1_000_000_000
    }

    /// Every log line the filter wrote (at or above the host log level).
    pub fn logs(&self) -> &[LogEntry] {
        &self.store.data().logs
    }

    /// Takes the log lines written so far.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        std::mem::take(&mut self.store.data_mut().logs)
    }

    /// Whether a log line at `level` contains `needle`.
    pub fn has_log(&self, level: LogLevel, needle: &str) -> bool {
        self.logs()
            .iter()
            .any(|l| l.level == level && l.message.contains(needle))
    }

    /// Host log level (`proxy_get_log_level`); lower levels are dropped.
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.store.data_mut().log_level = level;
    }

    /// Print log lines to stderr as they are written.
    pub fn echo_logs(&mut self, echo: bool) {
        self.store.data_mut().echo_logs = echo;
    }

    /// Value of the metric `name` (counter, gauge; sample count for a histogram).
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.store.data().metrics.by_name(name).map(|m| m.value)
    }

    /// A metric's value, 0 when the filter never defined it.
    pub fn metric_or_zero(&self, name: &str) -> u64 {
        self.metric(name).unwrap_or(0)
    }

    /// Every metric the filter defined, in definition order.
    pub fn metrics(&self) -> Vec<MetricValue> {
        self.store
            .data()
            .metrics
            .entries
            .iter()
            .map(|m| MetricValue {
                name: m.name.clone(),
                kind: m.kind,
                value: m.value,
            })
            .collect()
    }

    /// Samples recorded into the histogram `name`.
    pub fn histogram(&self, name: &str) -> Option<Vec<u64>> {
        let metric = self.store.data().metrics.by_name(name)?;
        (metric.kind == MetricKind::Histogram).then(|| metric.samples.clone())
    }

    /// Sets a property the filter can read with `proxy_get_property`.
    pub fn set_property(&mut self, path: &[&str], value: impl Into<Vec<u8>>) {
        let path = path.iter().map(|p| (*p).to_owned()).collect();
        self.store.data_mut().properties.insert(path, value.into());
    }

    /// A property (set by the test or by the filter).
    pub fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        let path: Vec<String> = path.iter().map(|p| (*p).to_owned()).collect();
        self.store.data().properties.get(&path).cloned()
    }

    /// This VM's shared data.
    pub fn shared_data(&self) -> &SharedData {
        &self.store.data().shared_data
    }

    /// Host-side diagnostics: unsupported host calls the filter made, refused http calls.
    pub fn notes(&self) -> &[String] {
        &self.store.data().notes
    }

    /// How many times the filter called `proxy_done`.
    /// Calls the guest made so far to each `env::proxy_*` host function, by name (WASI calls
    /// not counted). Take the difference of two readings for the calls of some requests.
    pub fn host_calls(&self) -> BTreeMap<&'static str, u64> {
        self.store.data().host_calls.clone()
    }

    /// Calls the guest made to the foreign function `clear_route_cache`.
    pub fn route_cache_clears(&self) -> u64 {
        self.store.data().route_cache_clears
    }

    /// Calls the guest made to the foreign function `verify_signature`.
    pub fn foreign_calls(&self) -> u64 {
        self.store.data().foreign_calls
    }

    pub fn done_calls(&self) -> u32 {
        self.store.data().done_calls
    }

    /// What the module wrote to WASI stdout.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.contents()).into_owned()
    }

    /// What the module wrote to WASI stderr (e.g. a panic message).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Whether a callback trapped (the VM is dead).
    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    /// Requests started and not finished.
    pub fn open_requests(&self) -> usize {
        self.store.data().streams.len()
    }
}

impl Callbacks {
    fn find(instance: &Instance, store: &mut Store<HostState>) -> Result<Callbacks, HostError> {
        fn required<P: WasmParams, R: WasmResults>(
            instance: &Instance,
            store: &mut Store<HostState>,
            name: &str,
        ) -> Result<TypedFunc<P, R>, HostError> {
            instance
                .get_typed_func::<P, R>(store, name)
                .map_err(|e| HostError::NotProxyWasm(format!("export {name}: {e}")))
        }
        Ok(Callbacks {
            on_context_create: required(instance, store, "proxy_on_context_create")?,
            on_vm_start: required(instance, store, "proxy_on_vm_start")?,
            on_configure: required(instance, store, "proxy_on_configure")?,
            on_tick: instance.get_typed_func(&mut *store, "proxy_on_tick").ok(),
            on_request_headers: instance
                .get_typed_func(&mut *store, "proxy_on_request_headers")
                .ok(),
            on_request_body: instance
                .get_typed_func(&mut *store, "proxy_on_request_body")
                .ok(),
            on_response_headers: instance
                .get_typed_func(&mut *store, "proxy_on_response_headers")
                .ok(),
            on_http_call_response: instance
                .get_typed_func(&mut *store, "proxy_on_http_call_response")
                .ok(),
            on_done: instance.get_typed_func(&mut *store, "proxy_on_done").ok(),
            on_log: instance.get_typed_func(&mut *store, "proxy_on_log").ok(),
            on_delete: instance.get_typed_func(&mut *store, "proxy_on_delete").ok(),
        })
    }
}

impl Plugin {
    /// Starts a VM with default options.
    pub fn instantiate(&self) -> Result<Host, HostError> {
        Host::start(self, HostOptions::default())
    }

    /// Starts a VM with these options.
    pub fn instantiate_with(&self, options: HostOptions) -> Result<Host, HostError> {
        Host::start(self, options)
    }
}
