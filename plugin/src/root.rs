//! Root context: configuration, the tick that refreshes remote key sets, and the state it
//! shares with each request's context.

use crate::jwks::Fetches;
use crate::request::RequestContext;
use crate::shared::Shared;
use crate::stream::Poller;
use crate::{host, host_signatures, logger};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use std::rc::Rc;
use std::time::Duration;
use warden_core::flow::Filter;
use warden_core::host_crypto::SignatureBackends;

#[derive(Default)]
pub struct WardenRoot {
    shared: Option<Rc<Shared>>,
    /// Found at the first configuration, kept for the VM's life.
    signatures: Option<Rc<SignatureBackends>>,
    fetches: Fetches,
    /// Stream mode's feed poll.
    stream: Poller,
}

impl Context for WardenRoot {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        if let Some(shared) = &self.shared {
            let now = host::now();
            if !self.stream.finish(shared, token_id, body_size, now) {
                self.fetches.finish(shared, token_id, body_size, now);
            }
        }
    }
}

impl RootContext for WardenRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        logger::sync_level();
        true
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        logger::sync_level();
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let (mut filter, notes) = match Filter::configure(&raw) {
            Ok(configured) => configured,
            Err(rejected) => {
                logger::note(&rejected);
                return false;
            }
        };
        for note in &notes {
            logger::note(note);
        }
        if let Some(ms) = filter.tick_ms() {
            self.set_tick_period(Duration::from_millis(ms));
        }
        let signatures = self
            .signatures
            .get_or_insert_with(host_signatures::detect)
            .clone();
        filter.keys.set_signature_backends(signatures);
        let shared = Shared::new(filter);
        self.fetches.clear();
        self.stream.clear();
        self.fetches.start_at_configure(&shared, host::now());
        self.shared = Some(shared);
        true
    }

    fn on_tick(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let now = host::now();
        logger::follow_level(now.unix_ms);
        self.fetches.start_due(&shared, now);
        self.stream.start(&shared, now);
        let gauges = shared.filter.borrow_mut().gauges(now);
        shared.metrics.set_gauges(&gauges);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RequestContext::new(self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
