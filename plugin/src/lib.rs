//! Warden's proxy-wasm filter: a thin adapter between the proxy and `warden-core`.
//! The root context owns configuration, remote key sets, the verified-token cache and metrics;
//! each request's context asks core for a decision and carries it out.

mod http;
mod metrics;
mod root;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    // A panic aborts the VM; make sure the reason reaches Envoy's log first.
    std::panic::set_hook(Box::new(|info| {
        let _ = proxy_wasm::hostcalls::log(LogLevel::Critical, &format!("warden: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::new(root::WardenRoot::default())
    });
}}

pub(crate) fn log(level: LogLevel, message: &str) {
    let _ = proxy_wasm::hostcalls::log(level, message);
}

/// Current time from the host, as (seconds, milliseconds) since the Unix epoch.
pub(crate) fn now(ctx: &dyn proxy_wasm::traits::Context) -> (i64, u64) {
    let since = ctx
        .get_current_time()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() as i64, since.as_millis() as u64)
}

/// Headers with byte values, made text without ever failing on non-UTF-8 input.
pub(crate) fn text_headers(headers: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

pub(crate) fn status_of(headers: &[(String, String)]) -> Option<u32> {
    headers
        .iter()
        .find(|(n, _)| n == ":status")
        .and_then(|(_, v)| v.parse().ok())
}
