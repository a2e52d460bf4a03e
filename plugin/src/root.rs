//! Root context: configuration, the scheduled JWKS refresh, and the state shared with requests.

use crate::http::RequestContext;
use crate::metrics::Metrics;
use crate::{log, now, status_of, text_headers};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use warden_core::cache::{TokenCache, DEFAULT_CAPACITY};
use warden_core::config::{Config, KeySource, RemoteJwks};
use warden_core::keystore::{FetchError, FetchResult, KeyStore};

/// Largest JWKS document read from an HTTP response.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
const TICK: Duration = Duration::from_secs(1);

/// Everything requests share within one VM (one Envoy worker thread).
pub struct Shared {
    pub config: Config,
    pub keys: KeyStore,
    pub cache: TokenCache,
    pub metrics: Metrics,
    last_verifier_warning_ms: Option<u64>,
}

/// At most one verifier-failure warning per this interval; the rest go to debug.
const VERIFIER_WARNING_INTERVAL_MS: u64 = 10_000;

impl Shared {
    pub fn verifier_warning_due(&mut self, now_ms: u64) -> bool {
        let due = self
            .last_verifier_warning_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= VERIFIER_WARNING_INTERVAL_MS);
        if due {
            self.last_verifier_warning_ms = Some(now_ms);
        }
        due
    }
}

#[derive(Default)]
pub struct WardenRoot {
    shared: Option<Rc<RefCell<Shared>>>,
    /// In-flight scheduled JWKS fetches: call token → provider index.
    fetches: HashMap<u32, usize>,
}

impl Context for WardenRoot {
    fn on_http_call_response(&mut self, token_id: u32, _: usize, body_size: usize, _: usize) {
        let Some(idx) = self.fetches.remove(&token_id) else {
            return;
        };
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let status = status_of(&text_headers(self.get_http_call_response_headers_bytes()));
        let body = self.get_http_call_response_body(0, body_size.min(MAX_JWKS_BYTES));
        let (_, now_ms) = now(self);
        finish_jwks_fetch(
            &mut shared.borrow_mut(),
            idx,
            status,
            body,
            body_size,
            now_ms,
        );
    }
}

impl RootContext for WardenRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let text = match std::str::from_utf8(&raw) {
            Ok(t) => t,
            Err(_) => {
                log(
                    LogLevel::Error,
                    "warden: invalid configuration: configuration is not UTF-8",
                );
                return false;
            }
        };
        let config = match Config::parse(text) {
            Ok(c) => c,
            Err(e) => {
                log(
                    LogLevel::Error,
                    &format!("warden: invalid configuration: {e}"),
                );
                return false;
            }
        };
        for p in &config.providers {
            if let KeySource::Local(set) = &p.keys {
                for why in &set.skipped {
                    log(
                        LogLevel::Warn,
                        &format!("warden: providers.{}.local_jwks: skipped {why}", p.name),
                    );
                }
            }
        }
        if config.has_remote_jwks() {
            self.set_tick_period(TICK);
        }
        let keys = KeyStore::new(&config);
        log(
            LogLevel::Info,
            &format!(
                "warden: configured {} provider(s), {} rule(s)",
                config.providers.len(),
                config.rules.len()
            ),
        );
        self.shared = Some(Rc::new(RefCell::new(Shared {
            config,
            keys,
            cache: TokenCache::new(DEFAULT_CAPACITY),
            metrics: Metrics::define(),
            last_verifier_warning_ms: None,
        })));
        self.fetches.clear();
        true
    }

    fn on_tick(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let (_, now_ms) = now(self);
        let due = shared.borrow_mut().keys.take_due(now_ms);
        for idx in due {
            let remote = remote_of(&shared.borrow().config, idx);
            let Some(remote) = remote else { continue };
            match dispatch_jwks_fetch(self, &remote) {
                Ok(token) => {
                    self.fetches.insert(token, idx);
                }
                Err(why) => {
                    let mut s = shared.borrow_mut();
                    log(
                        LogLevel::Warn,
                        &format!("warden: JWKS fetch from cluster {}: {why}", remote.cluster),
                    );
                    s.metrics.jwks_fetch(false);
                    s.keys.finish_fetch(
                        idx,
                        Err(why),
                        remote.cache_duration_seconds * 1000,
                        now_ms,
                    );
                }
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RequestContext::new(self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

pub fn remote_of(config: &Config, idx: usize) -> Option<RemoteJwks> {
    match &config.providers.get(idx)?.keys {
        KeySource::Remote(r) => Some(r.clone()),
        KeySource::Local(_) => None,
    }
}

pub fn dispatch_jwks_fetch(ctx: &dyn Context, remote: &RemoteJwks) -> Result<u32, FetchError> {
    ctx.dispatch_http_call(
        &remote.cluster,
        vec![
            (":method", "GET"),
            (":path", &remote.path),
            (":authority", &remote.authority),
            ("accept", "application/json"),
        ],
        None,
        vec![],
        Duration::from_millis(remote.timeout_ms),
    )
    .map_err(|status| FetchError::Dispatch(format!("{status:?}")))
}

/// Applies a JWKS response (status `None`: no response, e.g. a timeout) to the key store.
pub fn finish_jwks_fetch(
    shared: &mut Shared,
    idx: usize,
    status: Option<u32>,
    body: Option<Vec<u8>>,
    body_size: usize,
    now_ms: u64,
) {
    let Some(remote) = remote_of(&shared.config, idx) else {
        return;
    };
    let name = shared
        .config
        .providers
        .get(idx)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let body = match status {
        Some(200) if body_size > MAX_JWKS_BYTES => Err(FetchError::TooLarge(MAX_JWKS_BYTES)),
        Some(200) => Ok(body.unwrap_or_default()),
        Some(code) => Err(FetchError::Status(code)),
        None => Err(FetchError::NoResponse),
    };
    let result = match &body {
        Ok(bytes) => {
            shared
                .keys
                .finish_fetch(idx, Ok(bytes), remote.cache_duration_seconds * 1000, now_ms)
        }
        Err(why) => shared.keys.finish_fetch(
            idx,
            Err(why.clone()),
            remote.cache_duration_seconds * 1000,
            now_ms,
        ),
    };
    match result {
        FetchResult::Updated => {
            shared.metrics.jwks_fetch(true);
            log(
                LogLevel::Info,
                &format!("warden: providers.{name}.remote_jwks: keys updated"),
            );
        }
        FetchResult::Unchanged => shared.metrics.jwks_fetch(true),
        FetchResult::Failed(why) => {
            shared.metrics.jwks_fetch(false);
            log(
                LogLevel::Warn,
                &format!("warden: providers.{name}.remote_jwks: fetch failed, keeping previous keys: {why}"),
            );
        }
    }
}
