//! Safe wrappers over the callbacks of `abi`: one request's side of Envoy ([`Stream`]), the
//! filter configuration's ([`ConfigHandle`]), and the reply of a callout. None panics; a
//! callback that fails is a value the caller decides on.

use crate::abi::{self, ConfigEnvoyPtr, EnvoyBuffer, EnvoyHeader, FilterEnvoyPtr, ModuleBuffer};
use crate::abi::{ModuleHeader, SchedulerPtr};
use std::ffi::c_void;
use warden_core::answer::LocalResponse;
use warden_core::flow::{Call, Reply};
use warden_core::route::{MetadataValue, RouteMetadata, METADATA_KEY};

/// The bytes of an Envoy buffer (empty for a null one).
///
/// # Safety
/// `buffer` must be live for `'a` (Envoy's buffers live until the hook returns).
pub unsafe fn bytes<'a>(buffer: EnvoyBuffer) -> &'a [u8] {
    if buffer.ptr.is_null() || buffer.length == 0 {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.length) }
}

/// Text that never fails on non-UTF-8 input (kept as is when valid, the common case).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The header pairs of a slice Envoy handed over.
///
/// # Safety
/// `headers` points to `count` live headers (or is null).
unsafe fn envoy_headers(headers: *const EnvoyHeader, count: usize) -> Vec<(String, String)> {
    if headers.is_null() || count == 0 {
        return Vec::new();
    }
    // SAFETY: the caller's promise.
    let slice = unsafe { std::slice::from_raw_parts(headers, count) };
    slice
        .iter()
        .map(|h| {
            let key = EnvoyBuffer {
                ptr: h.key_ptr,
                length: h.key_length,
            };
            let value = EnvoyBuffer {
                ptr: h.value_ptr,
                length: h.value_length,
            };
            // SAFETY: each buffer of a live header is live.
            unsafe { (text(bytes(key)), text(bytes(value))) }
        })
        .collect()
}

/// One request's filter on Envoy's side; valid for the hook it was handed to.
#[derive(Clone, Copy)]
pub struct Stream(pub FilterEnvoyPtr);

impl Stream {
    /// Every request header (a name may repeat), or `None` when Envoy has no header map.
    pub fn request_headers(self) -> Option<Vec<(String, String)>> {
        // SAFETY: `self.0` is live during the hook; the array has room for the count Envoy gave.
        unsafe {
            let count = abi::envoy_dynamic_module_callback_http_get_headers_size(
                self.0,
                abi::REQUEST_HEADER,
            );
            let mut out = vec![
                EnvoyHeader {
                    key_ptr: std::ptr::null(),
                    key_length: 0,
                    value_ptr: std::ptr::null(),
                    value_length: 0,
                };
                count
            ];
            if count > 0
                && !abi::envoy_dynamic_module_callback_http_get_headers(
                    self.0,
                    abi::REQUEST_HEADER,
                    out.as_mut_ptr(),
                )
            {
                return None;
            }
            Some(envoy_headers(out.as_ptr(), count))
        }
    }

    pub fn set_request_header(self, name: &str, value: &str) {
        // SAFETY: live filter; Envoy copies the buffers.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_header(
                self.0,
                abi::REQUEST_HEADER,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::of(value.as_bytes()),
            );
        }
    }

    pub fn remove_request_header(self, name: &str) {
        // SAFETY: live filter; a null value removes every value of the header.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_header(
                self.0,
                abi::REQUEST_HEADER,
                ModuleBuffer::of(name.as_bytes()),
                ModuleBuffer::NULL,
            );
        }
    }

    /// Answers the client instead of forwarding.
    pub fn respond(self, answer: &LocalResponse) {
        let mut headers: Vec<ModuleHeader> = answer
            .headers
            .iter()
            .map(|(k, v)| ModuleHeader::of(k, v))
            .collect();
        // The details name the answer in Envoy's access log (`%RESPONSE_CODE_DETAILS%`).
        const DETAILS: &[u8] = b"warden";
        // SAFETY: live filter; the headers and body outlive the call, Envoy copies them.
        unsafe {
            abi::envoy_dynamic_module_callback_http_send_response(
                self.0,
                answer.status,
                headers.as_mut_ptr(),
                headers.len(),
                ModuleBuffer::of(answer.body.as_bytes()),
                ModuleBuffer::of(DETAILS),
            );
        }
    }

    pub fn continue_decoding(self) {
        // SAFETY: live filter.
        unsafe { abi::envoy_dynamic_module_callback_http_filter_continue_decoding(self.0) }
    }

    pub fn clear_route_cache(self) {
        // SAFETY: live filter.
        unsafe { abi::envoy_dynamic_module_callback_http_clear_route_cache(self.0) }
    }

    /// Starts `call` for this request; its reply arrives in `on_http_filter_http_callout_done`.
    pub fn callout(self, call: &Call) -> Result<u64, String> {
        // SAFETY: the filter is live during the hook.
        unsafe {
            start_callout(
                abi::envoy_dynamic_module_callback_http_filter_http_callout,
                self.0,
                call,
            )
        }
    }

    /// Writes request filter state `key` (bytes; Envoy stores it under `key` as written).
    pub fn set_filter_state(self, key: &str, value: &str) {
        // SAFETY: live filter; Envoy copies the buffers.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_filter_state_bytes(
                self.0,
                ModuleBuffer::of(key.as_bytes()),
                ModuleBuffer::of(value.as_bytes()),
            );
        }
    }

    /// The request filter state `key` as text, if any (another filter's string object).
    pub fn filter_state(self, key: &str) -> Option<String> {
        let mut out = EnvoyBuffer::EMPTY;
        // SAFETY: live filter; the result lives until the hook returns and is copied here.
        unsafe {
            if !abi::envoy_dynamic_module_callback_http_get_filter_state_bytes(
                self.0,
                ModuleBuffer::of(key.as_bytes()),
                &mut out,
            ) {
                return None;
            }
            String::from_utf8(bytes(out).to_vec()).ok()
        }
    }

    /// The route's `warden.requirement` and `warden.disabled`, each read by its type.
    pub fn route_metadata(self) -> RouteMetadata {
        RouteMetadata::Values {
            requirement: self.metadata_value("requirement"),
            disabled: self.metadata_value("disabled"),
        }
    }

    fn metadata_value(self, key: &str) -> MetadataValue {
        let ns = ModuleBuffer::of(METADATA_KEY.as_bytes());
        let key = ModuleBuffer::of(key.as_bytes());
        let mut string = EnvoyBuffer::EMPTY;
        let mut boolean = false;
        let mut number = 0f64;
        // SAFETY: live filter; a string result is copied before the hook returns. Each getter
        // answers false when the value is absent or of another type.
        unsafe {
            if abi::envoy_dynamic_module_callback_http_get_metadata_string(
                self.0,
                abi::METADATA_ROUTE,
                ns,
                key,
                &mut string,
            ) {
                return match std::str::from_utf8(bytes(string)) {
                    Ok(s) => MetadataValue::String(s.to_string()),
                    Err(_) => MetadataValue::Other,
                };
            }
            if abi::envoy_dynamic_module_callback_http_get_metadata_bool(
                self.0,
                abi::METADATA_ROUTE,
                ns,
                key,
                &mut boolean,
            ) {
                return MetadataValue::Bool(boolean);
            }
            if abi::envoy_dynamic_module_callback_http_get_metadata_number(
                self.0,
                abi::METADATA_ROUTE,
                ns,
                key,
                &mut number,
            ) {
                return MetadataValue::Other;
            }
        }
        MetadataValue::Null
    }

    pub fn increment_counter(self, id: usize, n: u64) {
        // SAFETY: live filter; no labels.
        unsafe {
            abi::envoy_dynamic_module_callback_http_filter_increment_counter(
                self.0,
                id,
                std::ptr::null_mut(),
                0,
                n,
            );
        }
    }
}

/// The request's and the configuration's callout callbacks, which take the same arguments.
type CalloutStart = unsafe extern "C" fn(
    *mut c_void,
    *mut u64,
    ModuleBuffer,
    *mut ModuleHeader,
    usize,
    ModuleBuffer,
    u64,
) -> u32;

/// Starts `call` with `start` on `owner` (a filter or a configuration); the callout's id.
///
/// # Safety
/// `owner` must be the live Envoy object `start` expects.
unsafe fn start_callout(
    start: CalloutStart,
    owner: *mut c_void,
    call: &Call,
) -> Result<u64, String> {
    let pairs = call.request_headers();
    let mut headers: Vec<ModuleHeader> =
        pairs.iter().map(|(k, v)| ModuleHeader::of(k, v)).collect();
    let body = call.body.as_deref().unwrap_or_default();
    let mut id = 0u64;
    // SAFETY: the caller's promise for `owner`; the buffers outlive the call and Envoy copies
    // them.
    let status = unsafe {
        start(
            owner,
            &mut id,
            ModuleBuffer::of(call.cluster.as_bytes()),
            headers.as_mut_ptr(),
            headers.len(),
            ModuleBuffer::of(body),
            call.timeout_ms,
        )
    };
    callout_started(status, id)
}

fn callout_started(status: u32, id: u64) -> Result<u64, String> {
    match status {
        abi::CALLOUT_INIT_SUCCESS => Ok(id),
        1 => Err("callout refused: missing required headers".into()),
        2 => Err("cluster not found".into()),
        3 => Err("callout refused: duplicate id".into()),
        4 => Err("callout refused: cannot create the request (no healthy upstream?)".into()),
        other => Err(format!("callout refused ({other})")),
    }
}

/// The reply to a callout, from what `*_http_callout_done` was handed. A reset, a timeout or an
/// answer over Envoy's buffer limit is no answer; `body` keeps at most `max_bytes`, `size` the
/// full length (the flow refuses an oversized answer).
///
/// # Safety
/// The pointers are the hook's arguments, live until it returns.
pub unsafe fn reply(
    result: u32,
    headers: *const EnvoyHeader,
    headers_size: usize,
    chunks: *const EnvoyBuffer,
    chunks_size: usize,
    max_bytes: usize,
) -> Reply {
    if result != abi::CALLOUT_RESULT_SUCCESS {
        return Reply::Failed;
    }
    // SAFETY: the caller's promise.
    let headers = unsafe { envoy_headers(headers, headers_size) };
    let status = headers
        .iter()
        .find(|(name, _)| name == ":status")
        .and_then(|(_, v)| v.parse().ok());
    let Some(status) = status else {
        return Reply::Failed;
    };
    let mut body = Vec::new();
    let mut size = 0usize;
    if !chunks.is_null() && chunks_size > 0 {
        // SAFETY: the caller's promise.
        let chunks = unsafe { std::slice::from_raw_parts(chunks, chunks_size) };
        for chunk in chunks {
            // SAFETY: a live chunk.
            let data = unsafe { bytes(*chunk) };
            size = size.saturating_add(data.len());
            let room = max_bytes.saturating_sub(body.len());
            body.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        }
    }
    Reply::Answered { status, body, size }
}

/// The filter configuration's side of Envoy. Used on the main thread only (where Envoy runs
/// `config_new`, the config's scheduled events and its callouts), except for the metric
/// updates, which Envoy allows from any thread.
#[derive(Clone, Copy)]
pub struct ConfigHandle(pub ConfigEnvoyPtr);

// SAFETY: the pointer is Envoy's configuration object, which lives until `config_destroy`; the
// module calls into it only where the ABI allows (see the type's doc).
unsafe impl Send for ConfigHandle {}
// SAFETY: as above.
unsafe impl Sync for ConfigHandle {}

impl ConfigHandle {
    /// Defines a counter (only while `config_new` runs).
    pub fn define_counter(self, name: &str) -> Option<usize> {
        self.define(
            abi::envoy_dynamic_module_callback_http_filter_config_define_counter,
            name,
        )
    }

    /// Defines a gauge (only while `config_new` runs).
    pub fn define_gauge(self, name: &str) -> Option<usize> {
        self.define(
            abi::envoy_dynamic_module_callback_http_filter_config_define_gauge,
            name,
        )
    }

    fn define(self, define: MetricDefine, name: &str) -> Option<usize> {
        let mut id = 0usize;
        // SAFETY: live configuration; no labels; Envoy copies the name.
        let status = unsafe {
            define(
                self.0,
                ModuleBuffer::of(name.as_bytes()),
                std::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        (status == abi::METRICS_SUCCESS).then_some(id)
    }

    pub fn increment_counter(self, id: usize, n: u64) {
        self.update(
            abi::envoy_dynamic_module_callback_http_filter_config_increment_counter,
            id,
            n,
        );
    }

    pub fn set_gauge(self, id: usize, value: u64) {
        self.update(
            abi::envoy_dynamic_module_callback_http_filter_config_set_gauge,
            id,
            value,
        );
    }

    fn update(self, update: MetricUpdate, id: usize, value: u64) {
        // SAFETY: live configuration; no labels.
        unsafe {
            update(self.0, id, std::ptr::null_mut(), 0, value);
        }
    }

    /// Starts `call` for the configuration (main thread); its reply arrives in
    /// `on_http_filter_config_http_callout_done`.
    pub fn callout(self, call: &Call) -> Result<u64, String> {
        // SAFETY: the configuration is live until config_destroy.
        unsafe {
            start_callout(
                abi::envoy_dynamic_module_callback_http_filter_config_http_callout,
                self.0,
                call,
            )
        }
    }

    pub fn new_scheduler(self) -> Option<Scheduler> {
        // SAFETY: live configuration.
        let ptr =
            unsafe { abi::envoy_dynamic_module_callback_http_filter_config_scheduler_new(self.0) };
        (!ptr.is_null()).then_some(Scheduler(ptr))
    }
}

/// The configuration's `define_counter` / `define_gauge`, which take the same arguments.
type MetricDefine =
    unsafe extern "C" fn(*mut c_void, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;
/// The configuration's `increment_counter` / `set_gauge`, likewise.
type MetricUpdate = unsafe extern "C" fn(*mut c_void, usize, *mut ModuleBuffer, usize, u64) -> u32;

/// Posts events to the main thread (`on_http_filter_config_scheduled`) from any thread.
pub struct Scheduler(SchedulerPtr);

// SAFETY: the ABI lets any thread commit to a configuration's scheduler.
unsafe impl Send for Scheduler {}
// SAFETY: as above.
unsafe impl Sync for Scheduler {}

impl Scheduler {
    pub fn commit(&self, event_id: u64) {
        // SAFETY: a live scheduler (deleted only on drop, after every user stopped).
        unsafe {
            abi::envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, event_id)
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // SAFETY: created by scheduler_new, deleted once.
        unsafe { abi::envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) }
    }
}
