//! The `log` facade's logger: lines go to the proxy's log under the `warden` target, and the
//! maximum level follows the proxy's, so a line the proxy would drop is never formatted.

use proxy_wasm::hostcalls;
use proxy_wasm::types::LogLevel;
use std::sync::atomic::{AtomicU64, Ordering};
use warden_core::flow::{Level, Note};

pub const TARGET: &str = "warden";

/// How often the proxy's log level is read again (it can change at run time).
const LEVEL_CHECK_INTERVAL_MS: u64 = 1000;

struct HostLog;

static LOGGER: HostLog = HostLog;
static NEXT_LEVEL_CHECK_MS: AtomicU64 = AtomicU64::new(0);

impl log::Log for HostLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        };
        let _ = hostcalls::log(level, &format!("{}: {}", record.target(), record.args()));
    }

    fn flush(&self) {}
}

/// Installs the logger and the one panic hook. Runs at VM start, before any context exists, so
/// it makes no host call; the level is read from the proxy once a context runs.
pub fn install() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
    // A panic aborts the VM; make sure the reason reaches the proxy's log first.
    std::panic::set_hook(Box::new(|info| {
        let _ = hostcalls::log(LogLevel::Critical, &format!("{TARGET}: panic: {info}"));
    }));
}

/// Takes the proxy's current log level as the maximum level.
pub fn sync_level() {
    let Ok(level) = hostcalls::get_log_level() else {
        return;
    };
    log::set_max_level(match level {
        LogLevel::Trace => log::LevelFilter::Trace,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Critical => log::LevelFilter::Off,
    });
}

/// [`sync_level`], at most once per `LEVEL_CHECK_INTERVAL_MS`.
pub fn follow_level(now_ms: u64) {
    if now_ms < NEXT_LEVEL_CHECK_MS.load(Ordering::Relaxed) {
        return;
    }
    NEXT_LEVEL_CHECK_MS.store(
        now_ms.saturating_add(LEVEL_CHECK_INTERVAL_MS),
        Ordering::Relaxed,
    );
    sync_level();
}

pub fn note(note: &Note) {
    let level = match note.level() {
        Level::Error => log::Level::Error,
        Level::Warn => log::Level::Warn,
        Level::Info => log::Level::Info,
        Level::Debug => log::Level::Debug,
    };
    log::log!(target: TARGET, level, "{note}");
}
