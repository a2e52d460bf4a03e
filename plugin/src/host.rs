//! Host calls both contexts make: the clock, core's calls out and their replies, and the edits
//! and answers of a request. A host error is not a reason to abort the VM, so none panics.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use std::time::{Duration, UNIX_EPOCH};
use warden_core::answer::LocalResponse;
use warden_core::flow::{Call, Now, Reply};
use warden_core::forward::Forwarding;

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

/// Writes request filter state: Envoy stores `key` as `wasm.<key>` (readable by RBAC's
/// `filter_state` matcher and the access log's `%FILTER_STATE(wasm.<key>:PLAIN)%`).
pub fn set_filter_state(key: &str, value: &str) {
    let _ = hostcalls::set_property(vec![key], Some(value.as_bytes()));
}

/// The route's metadata (`xds.route_metadata`: a serialized `envoy.config.core.v3.Metadata`).
/// An absent property (no route, or no metadata) reads as empty: the path rules decide.
pub fn route_metadata() -> Vec<u8> {
    hostcalls::get_property(vec!["xds", "route_metadata"])
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The value of request filter state `name` as the host serializes it (a string object set by
/// another filter, e.g. Envoy's `set_filter_state`), if any.
pub fn filter_state(name: &str) -> Option<String> {
    let bytes = hostcalls::get_property(vec!["filter_state", name]).ok()??;
    String::from_utf8(bytes).ok()
}
