//! Host calls both contexts make: the clock, core's calls out and their replies, and the edits
//! and answers of a request. A host error is not a reason to abort the VM, so none panics.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use std::ptr::null_mut;
use std::time::{Duration, UNIX_EPOCH};
use warden_core::answer::LocalResponse;
use warden_core::flow::{Call, Now, Reply};
use warden_core::forward::Forwarding;
use warden_core::route::RouteMetadata;

pub fn now() -> Now {
    let ms = hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    Now::from_unix_ms(ms)
}

/// Starts `call`; its reply arrives in the calling context's `on_http_call_response`.
pub fn dispatch(call: &Call) -> Result<u32, String> {
    hostcalls::dispatch_http_call(
        &call.cluster,
        call.request_headers(),
        call.body.as_deref(),
        vec![],
        Duration::from_millis(call.timeout_ms),
    )
    .map_err(|status| format!("{status:?}"))
}

/// The reply to a call, read in `on_http_call_response`. The proxy reports a timeout, reset or
/// connection failure as a response without headers.
pub fn reply(body_size: usize, max_bytes: usize) -> Reply {
    let headers = hostcalls::get_map_bytes(MapType::HttpCallResponseHeaders).unwrap_or_default();
    let status = headers
        .iter()
        .find(|(name, _)| name == ":status")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok());
    let Some(status) = status else {
        return Reply::Failed;
    };
    let body = match body_size.min(max_bytes) {
        0 => Vec::new(),
        n => hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, n)
            .ok()
            .flatten()
            .unwrap_or_default(),
    };
    Reply::Answered {
        status,
        body,
        size: body_size,
    }
}

/// Every request header in one host call (a name at a time cannot see a second header of the
/// same name: the proxy answers only the first), values made text without ever failing on
/// non-UTF-8 input; `None` when the proxy would not hand them over.
pub fn request_headers() -> Option<Vec<(String, String)>> {
    let pairs = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).ok()?;
    Some(
        pairs
            .into_iter()
            .map(|(name, value)| {
                // Valid UTF-8 (nearly every value) keeps its buffer instead of being copied.
                let value = String::from_utf8(value)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                (name, value)
            })
            .collect(),
    )
}

pub fn edit_request_headers(edits: &Forwarding) {
    for name in &edits.remove {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
    }
    for (name, value) in &edits.set {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
    }
    if edits.clear_route_cache && !clear_route_cache() {
        log::debug!("warden: the proxy offers no clear_route_cache; the route stays as picked");
    }
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_call_foreign_function(
        function_name_data: *const u8,
        function_name_size: usize,
        arguments_data: *const u8,
        arguments_size: usize,
        results_data: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
}

/// Calls the proxy's foreign function `name`: `Ok(result)` on success (empty when the function
/// returns nothing), `Err(status)` otherwise. Declared here rather than called through the SDK's
/// `call_foreign_function`, which panics on a status it does not expect: every status other than
/// success is an answer of "not done".
pub fn call_foreign(name: &str, arguments: &[u8]) -> Result<Vec<u8>, u32> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: the name and arguments are live slices; a result the host writes is a buffer it
    // allocated with this module's `proxy_on_memory_allocate` (a `Vec<u8>` of exactly `size`
    // bytes, as the SDK's allocator makes it), which we take ownership of.
    let status = unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            arguments.as_ptr(),
            arguments.len(),
            &mut data,
            &mut size,
        )
    };
    let result = if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: see above.
        unsafe { Vec::from_raw_parts(data, size, size) }
    };
    if status == 0 {
        Ok(result)
    } else {
        Err(status)
    }
}

/// Envoy's foreign function that makes the proxy pick the request's route again (the ABI's own
/// `proxy_clear_route_cache` left it in v0.2); whether the proxy did.
fn clear_route_cache() -> bool {
    call_foreign("clear_route_cache", &[]).is_ok()
}

pub fn respond(answer: &LocalResponse) {
    let headers: Vec<(&str, &str)> = answer
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let _ = hostcalls::send_http_response(answer.status, headers, Some(answer.body.as_bytes()));
}

pub fn resume_request() {
    let _ = hostcalls::resume_http_request();
}

/// Writes request filter state. Envoy's wasm host (`Context::setProperty`) stores `key` as
/// `wasm.<key>`, a mutable `CelState` of the default (bytes) type living as long as the filter
/// chain; its `serializeAsString` is the value itself, so RBAC's `filter_state` principal
/// (`string_match`) and the access log's `%FILTER_STATE(wasm.<key>:PLAIN)%` read the text as
/// written, with no `declare_property` needed (e2e/test_rbac.py checks both on Envoy 1.40).
pub fn set_filter_state(key: &str, value: &str) {
    let _ = hostcalls::set_property(vec![key], Some(value.as_bytes()));
}

/// The route's metadata (`xds.route_metadata`: a serialized `envoy.config.core.v3.Metadata`).
/// An absent property (no route, or no metadata) reads as empty: the path rules decide.
pub fn route_metadata() -> RouteMetadata {
    RouteMetadata::Protobuf(
        hostcalls::get_property(vec!["xds", "route_metadata"])
            .ok()
            .flatten()
            .unwrap_or_default(),
    )
}

/// The value of request filter state `name` as the host serializes it (a string object set by
/// another filter, e.g. Envoy's `set_filter_state`), if any.
pub fn filter_state(name: &str) -> Option<String> {
    let bytes = hostcalls::get_property(vec!["filter_state", name]).ok()??;
    String::from_utf8(bytes).ok()
}
