//! What every request of one VM (one Envoy worker thread) shares: core's filter state and the
//! counters.

use crate::host;
use crate::logger;
use crate::metrics::Metrics;
use std::cell::RefCell;
use std::rc::Rc;
use warden_core::flow::{Filter, Report};

pub struct Shared {
    pub filter: RefCell<Filter>,
    pub metrics: Metrics,
}

impl Shared {
    pub fn new(filter: Filter) -> Rc<Shared> {
        let metrics = Metrics::define(&filter);
        Rc::new(Shared {
            filter: RefCell::new(filter),
            metrics,
        })
    }

    /// Bumps the step's counters, logs its notes and writes its filter state.
    pub fn report(&self, report: &Report) {
        self.metrics.count(&report.counts);
        for note in &report.notes {
            logger::note(note);
        }
        for (key, value) in &report.filter_state {
            host::set_filter_state(key, value);
        }
    }
}
