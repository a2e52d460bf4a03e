//! The proxy's `verify_signature` foreign function as core's `HostCrypto`, probed once per VM.
//! Each call counts in `warden.signature.host_calls`; each algorithm's backend is a gauge
//! `warden.signature.host.<alg>` (1: the proxy verifies it, 0: the filter does) and an info line
//! at start-up.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::rc::Rc;
use warden_core::host_crypto::{Backend, HostCrypto, SignatureBackends, VERIFY_SIGNATURE};

struct ProxyCrypto {
    calls: Option<u32>,
}

impl HostCrypto for ProxyCrypto {
    fn verify_signature(&self, arguments: &[u8]) -> Option<Vec<u8>> {
        if let Some(id) = self.calls {
            let _ = hostcalls::increment_metric(id, 1);
        }
        match crate::host::call_foreign(VERIFY_SIGNATURE, arguments) {
            Ok(result) if !result.is_empty() => Some(result),
            _ => None,
        }
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
