//! The filter configuration Envoy holds for `filter_name: warden`: the JSON (each worker builds
//! its own core `Filter` from it), the metric ids, the log of what the main thread learned, and
//! the main thread's own state with the ticker that drives it.
//!
//! Threads: Envoy creates and destroys the configuration, runs its scheduled events and its
//! callouts on the main thread; requests run on worker threads, each with its own `Filter` in a
//! thread-local (`worker.rs`), so a request never takes a lock on the hot path. What crosses
//! threads is `Send + Sync` here: the JSON, the metric ids, the broadcast [`Log`] (a mutex taken
//! only when there is something new) and the ticker's scheduler.

use crate::broadcast::Log;
use crate::envoy::{ConfigHandle, Scheduler};
use crate::root::Root;
use crate::{logger, signature_backends};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;
use warden_core::flow::Filter;
use warden_core::host_crypto::{Backend, SignatureBackends};
use warden_core::metrics::{MetricKind, Metrics};

/// Event ids of the configuration's scheduler.
pub const EVENT_START: u64 = 0;
pub const EVENT_TICK: u64 = 1;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub struct WardenConfig {
    /// Tells this configuration's worker state from an earlier one's.
    pub id: u64,
    pub raw: Vec<u8>,
    pub envoy: ConfigHandle,
    pub metrics: Metrics<usize>,
    /// `warden.native.panics`: panics caught at a hook.
    pub panics: Option<usize>,
    pub log: Log,
    main: MainThread<Root>,
    ticker: Mutex<Option<Ticker>>,
    /// Posts the start and the ticks to the main thread; lives as long as the configuration.
    scheduler: Option<Arc<Scheduler>>,
}

impl WardenConfig {
    /// Validates `raw` (the note naming the field on failure), defines the metrics and sets up
    /// the main thread's state. Runs in `config_new`, on the main thread.
    pub fn new(envoy: ConfigHandle, raw: &[u8]) -> Option<Arc<WardenConfig>> {
        let (mut filter, notes) = match Filter::configure(raw) {
            Ok(configured) => configured,
            Err(rejected) => {
                logger::note(&rejected);
                return None;
            }
        };
        for note in &notes {
            logger::note(note);
        }
        // Its own backends, not the main thread's thread-local ones: the last reference to this
        // configuration may be dropped on a worker thread, and an `Rc` shared with a
        // thread-local must never be released there.
        let backends = signature_backends();
        publish_backends(envoy, &backends);
        filter
            .keys
            .set_signature_backends(std::rc::Rc::new(backends));
        let metrics = Metrics::define(&filter, |kind, name| match kind {
            MetricKind::Counter => envoy.define_counter(name),
            MetricKind::Gauge => envoy.define_gauge(name),
        });
        let panics = envoy.define_counter(&warden_core::metrics::metric_name(
            filter.config.stat_prefix.as_deref(),
            "native.panics",
        ));
        let tick_ms = filter.tick_ms();
        let scheduler = envoy.new_scheduler().map(Arc::new);
        let config = Arc::new(WardenConfig {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            raw: raw.to_vec(),
            envoy,
            metrics,
            panics,
            log: Log::default(),
            main: MainThread::new(Root::new(filter)),
            ticker: Mutex::new(None),
            scheduler,
        });
        // The first fetches wait for the scheduled start: clusters are not ready inside
        // config_new.
        if let Some(scheduler) = &config.scheduler {
            scheduler.commit(EVENT_START);
            if let Some(ms) = tick_ms {
                let ticker = Ticker::start(scheduler.clone(), Duration::from_millis(ms));
                *config.ticker.lock().unwrap_or_else(|e| e.into_inner()) = ticker;
            }
        }
        Some(config)
    }

    /// Runs `f` on the main thread's state; `None` on any other thread.
    pub fn with_root<T>(&self, f: impl FnOnce(&mut Root) -> T) -> Option<T> {
        self.main.with(f)
    }

    /// Stops the ticker (config_destroy).
    pub fn stop(&self) {
        let ticker = self.ticker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(ticker) = ticker {
            ticker.stop();
        }
    }
}

/// Each algorithm's backend as the gauge `warden.signature.host.<alg>` (1: aws-lc-rs, 0: core's
/// own verifier; the wasm build's names, where 1 is Envoy's `verify_signature`) and an info line.
fn publish_backends(envoy: ConfigHandle, backends: &SignatureBackends) {
    let mut summary = Vec::new();
    for (alg, backend) in backends.table() {
        if let Some(id) = envoy.define_gauge(&format!("warden.signature.host.{alg}")) {
            envoy.set_gauge(id, u64::from(backend == Backend::Host));
        }
        let name = match backend {
            Backend::Host => "aws-lc",
            Backend::Wasm => "core",
        };
        summary.push(format!("{alg}={name}"));
    }
    log::info!(target: logger::TARGET, "signature backends: {}", summary.join(" "));
}

/// State only the main thread touches (the thread that made it).
struct MainThread<T> {
    owner: ThreadId,
    value: RefCell<T>,
}

// SAFETY: `value` is reached only through `with`, which runs on the owner thread alone; the
// value never leaves it (dropped with the configuration, on the main thread, or leaked if not).
unsafe impl<T> Send for MainThread<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for MainThread<T> {}

impl<T> MainThread<T> {
    fn new(value: T) -> Self {
        MainThread {
            owner: std::thread::current().id(),
            value: RefCell::new(value),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if std::thread::current().id() != self.owner {
            return None;
        }
        let mut value = self.value.try_borrow_mut().ok()?;
        Some(f(&mut value))
    }
}

/// A thread that posts a tick to the main thread every period (Envoy gives a module's
/// configuration no timer of its own).
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Ticker {
    fn start(scheduler: Arc<Scheduler>, period: Duration) -> Option<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("warden-tick".into())
            .spawn(move || {
                while !stopped.load(Ordering::Acquire) {
                    std::thread::park_timeout(period);
                    if stopped.load(Ordering::Acquire) {
                        break;
                    }
                    scheduler.commit(EVENT_TICK);
                }
            })
            .ok()?;
        Some(Ticker { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        let _ = self.thread.join();
    }
}
