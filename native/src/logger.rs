//! The `log` facade's logger: lines go to Envoy's log (the `dynamic_modules` logger), and a line
//! Envoy would drop at its current level is never formatted (Envoy answers `log_enabled`).

use crate::abi::{self, log_level, ModuleBuffer};
use warden_core::flow::{Level, Note};

pub const TARGET: &str = "warden";

struct EnvoyLog;

static LOGGER: EnvoyLog = EnvoyLog;

fn envoy_level(level: log::Level) -> u32 {
    match level {
        log::Level::Error => log_level::ERROR,
        log::Level::Warn => log_level::WARN,
        log::Level::Info => log_level::INFO,
        log::Level::Debug => log_level::DEBUG,
        log::Level::Trace => log_level::TRACE,
    }
}

impl log::Log for EnvoyLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        // SAFETY: a plain query of Envoy's logger.
        unsafe { abi::envoy_dynamic_module_callback_log_enabled(envoy_level(metadata.level())) }
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        write(
            envoy_level(record.level()),
            &format!("{}: {}", record.target(), record.args()),
        );
    }

    fn flush(&self) {}
}

fn write(level: u32, line: &str) {
    // SAFETY: Envoy copies the message during the call.
    unsafe { abi::envoy_dynamic_module_callback_log(level, ModuleBuffer::of(line.as_bytes())) }
}

/// Installs the logger and the panic hook (at program init, once per process). A panic is
/// caught at the hook it happened in; this hook only makes sure its message reaches the log.
pub fn install() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    std::panic::set_hook(Box::new(|info| {
        write(log_level::CRITICAL, &format!("{TARGET}: panic: {info}"));
    }));
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
