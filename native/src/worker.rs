//! Each worker thread's state for a configuration: its own core `Filter` (token cache, key
//! sets, revocation view), built from the configuration's JSON on the thread's first request
//! and kept in a thread-local, so requests share it without a lock (Envoy runs every hook of a
//! request on the worker that accepted it). Before each request it replays what the main thread
//! learned since the last one (`broadcast.rs`).

use crate::broadcast::CatchUp;
use crate::config::WardenConfig;
use crate::{logger, signatures};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Weak};
use warden_core::flow::Filter;

pub struct Worker {
    config: Weak<WardenConfig>,
    config_id: u64,
    pub filter: RefCell<Filter>,
    /// The next broadcast entry to replay.
    cursor: Cell<u64>,
}

thread_local! {
    static WORKERS: RefCell<Vec<Rc<Worker>>> = const { RefCell::new(Vec::new()) };
}

/// This thread's state for `config`, made on first use (a configuration that is gone has its
/// state dropped here). `None` only if the JSON that `config_new` accepted fails now.
pub fn for_config(config: &Arc<WardenConfig>) -> Option<Rc<Worker>> {
    WORKERS.with(|workers| {
        let mut workers = workers.try_borrow_mut().ok()?;
        if let Some(found) = workers.iter().find(|w| w.config_id == config.id) {
            return Some(found.clone());
        }
        workers.retain(|w| w.config.strong_count() > 0);
        let worker = Rc::new(Worker {
            config: Arc::downgrade(config),
            config_id: config.id,
            filter: RefCell::new(build(config)?),
            cursor: Cell::new(0),
        });
        workers.push(worker.clone());
        Some(worker)
    })
}

fn build(config: &WardenConfig) -> Option<Filter> {
    match Filter::configure(&config.raw) {
        Ok((mut filter, _notes)) => {
            filter.keys.set_signature_backends(signatures());
            Some(filter)
        }
        Err(note) => {
            logger::note(&note);
            None
        }
    }
}

impl Worker {
    /// Replays what the main thread learned since this worker's last request. Reports are
    /// dropped: the main thread counted and logged each once.
    pub fn catch_up(&self, config: &WardenConfig) {
        let (entries, cursor) = match config.log.catch_up(self.cursor.get()) {
            CatchUp::UpToDate => return,
            CatchUp::Replay { entries, cursor } => (entries, cursor),
            CatchUp::StartOver { entries, cursor } => {
                log::debug!(
                    target: logger::TARGET,
                    "worker fell behind the main thread's replies; its state starts over"
                );
                if let Some(fresh) = build(config) {
                    *self.filter.borrow_mut() = fresh;
                }
                (entries, cursor)
            }
        };
        let mut filter = self.filter.borrow_mut();
        for entry in &entries {
            let _ = entry.apply(&mut filter);
        }
        self.cursor.set(cursor);
    }
}
