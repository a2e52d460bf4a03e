//! The proxy's `verify_signature` foreign function as core's `HostCrypto`, probed once per VM.
//! Each call counts in `warden.signature.host_calls`; each algorithm's backend is a gauge
//! `warden.signature.host.<alg>` (1: the proxy verifies it, 0: the filter does) and an info line
//! at start-up.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::ptr::null_mut;
use std::rc::Rc;
use warden_core::host_crypto::{Backend, HostCrypto, SignatureBackends, VERIFY_SIGNATURE};

#[link(wasm_import_module = "env")]
extern "C" {
    // Declared here rather than called through the SDK's `call_foreign_function`, which panics
    // on a status it does not expect: every status here is an answer of "no".
    fn proxy_call_foreign_function(
        function_name_data: *const u8,
        function_name_size: usize,
        arguments_data: *const u8,
        arguments_size: usize,
        results_data: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
}

struct ProxyCrypto {
    calls: Option<u32>,
}

impl HostCrypto for ProxyCrypto {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        if let Some(id) = self.calls {
            let _ = hostcalls::increment_metric(id, 1);
        }
        let mut data: *mut u8 = null_mut();
        let mut size: usize = 0;
        // SAFETY: the name and arguments are live slices; on success the host has written a
        // buffer it allocated with this module's `proxy_on_memory_allocate` (a `Vec<u8>` of
        // exactly `size` bytes, as the SDK's allocator makes it), which we take ownership of.
        let status = unsafe {
            proxy_call_foreign_function(
                VERIFY_SIGNATURE.as_ptr(),
                VERIFY_SIGNATURE.len(),
                arguments.as_ptr(),
                arguments.len(),
                &mut data,
                &mut size,
            )
        };
        if status != 0 || data.is_null() {
            return None;
        }
        // SAFETY: see above.
        Some(unsafe { Vec::from_raw_parts(data, size, size) })
    }
}

/// Probes the proxy, logs and publishes the backend of each algorithm.
pub fn detect() -> Rc<SignatureBackends> {
    let calls = hostcalls::define_metric(MetricType::Counter, "warden.signature.host_calls").ok();
    let backends = SignatureBackends::detect(Box::new(ProxyCrypto { calls }));
    let mut summary = Vec::new();
    for (alg, backend) in backends.table() {
        let name = format!("warden.signature.host.{alg}");
        if let Ok(id) = hostcalls::define_metric(MetricType::Gauge, &name) {
            let _ = hostcalls::record_metric(id, u64::from(backend == Backend::Host));
        }
        summary.push(format!("{alg}={}", backend.name()));
    }
    log::info!("warden: signature backends: {}", summary.join(" "));
    Rc::new(backends)
}
