//! The hooks Envoy calls (`envoy_dynamic_module_on_*`, ABI v0.2.0). Each runs its body under a
//! panic guard: a panic never unwinds into Envoy (the module is built with `panic = "unwind"`
//! for this); the panic hook logs it, and the request it belongs to is answered 503 and counted
//! in `warden.native.panics`.

use crate::abi::{self, ConfigEnvoyPtr, EnvoyBuffer, EnvoyHeader, FilterEnvoyPtr};
use crate::config::WardenConfig;
use crate::envoy::{self, ConfigHandle, Stream};
use crate::request::{self, Request};
use crate::{logger, root};
use std::cell::RefCell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Runs `body`; a panic becomes `fallback`.
pub fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The filter configuration Envoy holds for us: what `filter_name` chose.
pub enum Config {
    /// `filter_name: passthrough`: a filter that does nothing (the benchmark's floor of the ABI).
    Passthrough,
    /// `filter_name: warden`.
    Warden(Arc<WardenConfig>),
}

/// One request's filter (each in its own box: the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
pub enum Filter {
    Passthrough,
    Warden(RefCell<Request>),
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    guard(std::ptr::null(), || {
        logger::install();
        abi::ABI_VERSION.as_ptr()
    })
}

/// # Safety
/// Envoy passes live buffers for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: ConfigEnvoyPtr,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: Envoy's buffers, valid for this call.
        let (name, raw) = unsafe { (envoy::bytes(name), envoy::bytes(config)) };
        let config = match name {
            b"warden" => match WardenConfig::new(ConfigHandle(config_envoy), raw) {
                Some(config) => Config::Warden(config),
                None => return std::ptr::null(),
            },
            b"passthrough" => Config::Passthrough,
            other => {
                log::error!(
                    target: logger::TARGET,
                    "filter_name: unknown filter {:?} (this module has `warden` and `passthrough`)",
                    String::from_utf8_lossy(other)
                );
                return std::ptr::null();
            }
        };
        Box::into_raw(Box::new(config)).cast_const().cast()
    })
}

/// # Safety
/// `config` is a pointer `config_new` returned.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    guard((), || {
        if config.is_null() {
            return;
        }
        // SAFETY: made by Box::into_raw in config_new; Envoy destroys it once.
        let config = unsafe { Box::from_raw(config.cast_mut().cast::<Config>()) };
        if let Config::Warden(warden) = &*config {
            warden.stop();
        }
    });
}

/// # Safety
/// `config` is a pointer `config_new` returned.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: *const c_void,
    _filter_envoy: FilterEnvoyPtr,
) -> *const c_void {
    guard(std::ptr::null(), || {
        // SAFETY: see above; Envoy keeps the configuration alive while its filters live.
        let Some(config) = (unsafe { config.cast::<Config>().as_ref() }) else {
            return std::ptr::null();
        };
        let filter = match config {
            Config::Passthrough => Filter::Passthrough,
            Config::Warden(warden) => Filter::Warden(RefCell::new(Request::new(warden.clone()))),
        };
        Box::into_raw(Box::new(filter)).cast_const().cast()
    })
}

/// # Safety
/// `filter` is a pointer `filter_new` returned.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: *const c_void) {
    guard((), || {
        if !filter.is_null() {
            // SAFETY: made by Box::into_raw in filter_new; Envoy destroys it once.
            drop(unsafe { Box::from_raw(filter.cast_mut().cast::<Filter>()) });
        }
    });
}

/// The request behind `filter`, if it is Warden's.
///
/// # Safety
/// `filter` is a pointer `filter_new` returned, not yet destroyed.
unsafe fn request<'a>(filter: *const c_void) -> Option<&'a RefCell<Request>> {
    // SAFETY: the caller's promise.
    match unsafe { filter.cast::<Filter>().as_ref() }? {
        Filter::Warden(request) => Some(request),
        Filter::Passthrough => None,
    }
}

/// Runs `body` on the request behind `filter`; a panic answers the request 503 (counted). A
/// hook Envoy runs inside another of the same request (re-entrant) finds it busy and does
/// nothing.
///
/// # Safety
/// As [`request`].
unsafe fn with_request<T>(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    idle: T,
    on_panic: T,
    body: impl FnOnce(&mut Request, Stream) -> T,
) -> T {
    // SAFETY: the caller's promise.
    let Some(cell) = (unsafe { request(filter) }) else {
        return idle;
    };
    let stream = Stream(filter_envoy);
    match catch_unwind(AssertUnwindSafe(|| match cell.try_borrow_mut() {
        Ok(mut request) => Some(body(&mut request, stream)),
        Err(_) => None,
    })) {
        Ok(Some(value)) => value,
        Ok(None) => idle,
        Err(_) => {
            if let Ok(mut request) = cell.try_borrow_mut() {
                let _ = catch_unwind(AssertUnwindSafe(|| request.panicked(stream)));
            }
            on_panic
        }
    }
}

/// # Safety
/// Envoy's pointers for this request.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    // SAFETY: Envoy's pointers for this request.
    unsafe {
        with_request(
            filter_envoy,
            filter,
            abi::HEADERS_CONTINUE,
            abi::HEADERS_STOP_ITERATION,
            |request, stream| {
                if request.on_headers(stream) {
                    abi::HEADERS_CONTINUE
                } else {
                    abi::HEADERS_STOP_ITERATION
                }
            },
        )
    }
}

/// `hold` while the request's decision is out, else `go` (a panic holds too).
///
/// # Safety
/// Envoy's pointers for this request.
unsafe fn hold_while_waiting(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    go: u32,
    hold: u32,
) -> u32 {
    // SAFETY: the caller's promise.
    unsafe {
        with_request(filter_envoy, filter, go, hold, |request, _| {
            if request.waiting() {
                hold
            } else {
                go
            }
        })
    }
}

/// While the decision is out, the body waits in Envoy's buffer: nothing reaches the upstream
/// before the headers are let through.
///
/// # Safety
/// Envoy's pointers for this request.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    _end_of_stream: bool,
) -> u32 {
    // SAFETY: Envoy's pointers for this request.
    unsafe {
        hold_while_waiting(
            filter_envoy,
            filter,
            abi::BODY_CONTINUE,
            abi::BODY_STOP_AND_BUFFER,
        )
    }
}

/// # Safety
/// Envoy's pointers for this request.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
) -> u32 {
    // SAFETY: Envoy's pointers for this request.
    unsafe {
        hold_while_waiting(
            filter_envoy,
            filter,
            abi::TRAILERS_CONTINUE,
            abi::TRAILERS_STOP,
        )
    }
}

/// # Safety
/// Envoy's pointers for this request; the headers and chunks live until the hook returns.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    callout_id: u64,
    result: u32,
    headers: *mut EnvoyHeader,
    headers_size: usize,
    body_chunks: *mut EnvoyBuffer,
    body_chunks_size: usize,
) {
    // SAFETY: Envoy's pointers for this request.
    unsafe {
        with_request(filter_envoy, filter, (), (), |request, stream| {
            // The hook's arguments, live until it returns.
            let reply = |max_bytes| {
                envoy::reply(
                    result,
                    headers,
                    headers_size,
                    body_chunks,
                    body_chunks_size,
                    max_bytes,
                )
            };
            if request.on_callout_done(stream, callout_id, reply) {
                stream.continue_decoding();
            }
        });
    }
}

/// The configuration's scheduled events (main thread): the start and the ticks.
///
/// # Safety
/// `config` is a pointer `config_new` returned.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(
    _config_envoy: ConfigEnvoyPtr,
    config: *const c_void,
    event_id: u64,
) {
    guard((), || {
        // SAFETY: the caller's promise.
        let Some(Config::Warden(config)) = (unsafe { config.cast::<Config>().as_ref() }) else {
            return;
        };
        let now = request::now();
        match event_id {
            crate::config::EVENT_START => root::start(config, now),
            _ => root::tick(config, now),
        }
    });
}

/// The configuration's callouts (main thread): JWKS fetches and the feed poll.
///
/// # Safety
/// `config` is a pointer `config_new` returned; the headers and chunks live until the hook
/// returns.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    _config_envoy: ConfigEnvoyPtr,
    config: *const c_void,
    callout_id: u64,
    result: u32,
    headers: *mut EnvoyHeader,
    headers_size: usize,
    body_chunks: *mut EnvoyBuffer,
    body_chunks_size: usize,
) {
    guard((), || {
        // SAFETY: the caller's promise.
        let Some(Config::Warden(config)) = (unsafe { config.cast::<Config>().as_ref() }) else {
            return;
        };
        let Some(max_bytes) = root::read_bound(config, callout_id) else {
            return;
        };
        // SAFETY: the hook's arguments, live until it returns.
        let reply = unsafe {
            envoy::reply(
                result,
                headers,
                headers_size,
                body_chunks,
                body_chunks_size,
                max_bytes,
            )
        };
        root::callout_done(config, callout_id, reply, request::now());
    });
}

// The hooks below do nothing for Warden: it decides on the request headers alone.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: bool,
) -> u32 {
    abi::HEADERS_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: bool,
) -> u32 {
    abi::BODY_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    _: FilterEnvoyPtr,
    _: *const c_void,
) -> u32 {
    abi::TRAILERS_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    _: FilterEnvoyPtr,
    _: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_local_reply(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _response_code: u32,
    _details: EnvoyBuffer,
    _reset_imminent: bool,
) -> u32 {
    abi::LOCAL_REPLY_CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _event_id: u64,
) {
}

/// Per-route configuration is not used (routes choose requirements through metadata); a route
/// that sets one gets a configuration error.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(
    _name: EnvoyBuffer,
    _config: EnvoyBuffer,
) -> *const c_void {
    std::ptr::null()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_destroy(_: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _: FilterEnvoyPtr,
    _: *const c_void,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _: FilterEnvoyPtr,
    _: *const c_void,
) {
}

// Streams (`start_http_stream`) are not used: every call is a callout.

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _headers: *mut EnvoyHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _data: *const EnvoyBuffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _trailers: *mut EnvoyHeader,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _reason: u32,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_headers(
    _: ConfigEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _headers: *mut EnvoyHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_data(
    _: ConfigEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _data: *const EnvoyBuffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_trailers(
    _: ConfigEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _trailers: *mut EnvoyHeader,
    _trailers_size: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_complete(
    _: ConfigEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_reset(
    _: ConfigEnvoyPtr,
    _: *const c_void,
    _stream_id: u64,
    _reason: u32,
) {
}
