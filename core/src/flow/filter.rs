//! What every request of one VM shares: the configuration, remote key sets, the verified-token
//! cache, and the scheduled JWKS refresh.

use super::call::{Call, Reply, MAX_JWKS_BYTES};
use super::report::{Note, Report};
use super::Now;
use crate::cache::TokenCache;
use crate::config::{Config, KeySource, VerifierMode};
use crate::keystore::{FetchError, FetchResult, KeyStore};
use crate::revocation_view::{Applied, RevocationView, ViewError};

/// How often the proxy should tick while remote key sets need refreshing.
pub const TICK_MS: u64 = 1000;
/// At most one verifier-failure warning per this interval; the rest go to debug.
pub const VERIFIER_WARNING_INTERVAL_MS: u64 = 10_000;
/// The tick in stream mode: a failed poll is retried on it.
pub const STREAM_TICK_MS: u64 = 100;
/// Pause after a failed feed poll before the next.
pub const FEED_RETRY_MS: u64 = 250;
/// Pause before asking again for a snapshot that did not fit `max_entries`.
pub const FEED_OVERFLOW_RETRY_MS: u64 = 5_000;

/// What the filter's gauges read at one moment; the proxy sets them on every tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gauges {
    /// Stream mode only.
    pub stream: Option<StreamGauges>,
    /// Each remote-JWKS provider (index) and the age of the key set it holds, in seconds: since
    /// its last fetch that brought a usable set (new or unchanged), or, before any did, since the
    /// filter first reported its gauges.
    pub key_set_age_seconds: Vec<(usize, u64)>,
}

/// Stream mode's revocation view, as an operator watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamGauges {
    /// Since the view was last confirmed by the feed (as of its poll's send), or, before the
    /// first confirmation, since the filter first reported its gauges.
    pub staleness_ms: u64,
    /// The bound past which the view stops answering and requests call the verifier.
    pub max_staleness_ms: u64,
    /// Whether the view answers now (confirmed within the bound, in sequence, not overflowed).
    pub trusted: bool,
}

pub struct Filter {
    pub config: Config,
    pub keys: KeyStore,
    pub cache: TokenCache,
    /// Stream mode's revocation view (`None` in callout mode).
    pub revocations: Option<RevocationView>,
    last_verifier_warning_ms: Option<u64>,
    /// When [`Filter::gauges`] first ran: the ages of what was never confirmed count from then.
    gauges_since_ms: Option<u64>,
}

/// Stream mode's empty revocation view (`None` in callout mode).
fn fresh_view(config: &Config) -> Option<RevocationView> {
    config
        .verifier
        .as_ref()
        .filter(|v| v.mode == VerifierMode::Stream)
        .map(|v| RevocationView::new(v.stream.max_staleness_ms, v.stream.max_entries))
}

impl Filter {
    pub fn new(config: Config) -> Filter {
        let keys = KeyStore::new(&config);
        let revocations = fresh_view(&config);
        Filter {
            revocations,
            cache: TokenCache::new(config.token_cache_size),
            config,
            keys,
            last_verifier_warning_ms: None,
            gauges_since_ms: None,
        }
    }

    /// Stream mode: starts the revocation view afresh, so its next poll asks for a snapshot
    /// (an adapter whose copies of the view may have missed answers uses it to resynchronise
    /// them all).
    pub fn restart_revocation_view(&mut self) {
        self.revocations = fresh_view(&self.config);
    }

    /// Reads the plugin configuration; on success also the notes worth logging (keys left out
    /// of a local set, a summary), on failure the note naming the field.
    pub fn configure(raw: &[u8]) -> Result<(Filter, Vec<Note>), Note> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| Note::ConfigRejected("configuration is not UTF-8".into()))?;
        let config = Config::parse(text).map_err(|e| Note::ConfigRejected(e.to_string()))?;
        let mut notes = Vec::new();
        for p in &config.providers {
            if let KeySource::Local(set) = &p.keys {
                for why in &set.skipped {
                    notes.push(Note::LocalKeySkipped {
                        provider: p.name.clone(),
                        why: why.to_string(),
                    });
                }
            }
        }
        notes.push(Note::Configured {
            providers: config.providers.len(),
            rules: config.rules.len(),
        });
        Ok((Filter::new(config), notes))
    }

    /// The tick period the proxy should set, if any.
    pub fn tick_ms(&self) -> Option<u64> {
        if self.revocations.is_some() {
            return Some(STREAM_TICK_MS);
        }
        self.config.has_remote_jwks().then_some(TICK_MS)
    }

    /// Scheduled JWKS fetches that are due, marked as started: (provider, call). Each reply goes
    /// to [`Filter::keys_fetched`].
    pub fn due_fetches(&mut self, now: Now) -> Vec<(usize, Call)> {
        let due = self.keys.take_due(now.unix_ms);
        due.into_iter()
            .filter_map(|idx| Some((idx, self.jwks_call(idx)?)))
            .collect()
    }

    /// The fetches of providers with `remote_jwks.fetch_at_start`, marked as started: the
    /// adapter sends them when the configuration is applied. Replies go to
    /// [`Filter::keys_fetched`].
    pub fn fetches_at_start(&mut self, now: Now) -> Vec<(usize, Call)> {
        let due = self.keys.take_at_start(now.unix_ms);
        due.into_iter()
            .filter_map(|idx| Some((idx, self.jwks_call(idx)?)))
            .collect()
    }

    /// Starts a fetch for a request that met an unknown `kid`, if the rate limit allows.
    pub(super) fn start_on_demand_fetch(&mut self, idx: usize, now: Now) -> Option<Call> {
        let call = self.jwks_call(idx)?;
        self.keys
            .try_start_on_demand(idx, now.unix_ms)
            .then_some(call)
    }

    fn jwks_call(&self, idx: usize) -> Option<Call> {
        match &self.config.providers.get(idx)?.keys {
            KeySource::Remote(remote) => Some(Call::jwks(remote)),
            KeySource::Local(_) => None,
        }
    }

    /// Applies the reply to a JWKS fetch of provider `idx`. The last good keys keep serving when
    /// it failed.
    pub fn keys_fetched(&mut self, idx: usize, reply: Reply, now: Now) -> Report {
        let mut report = Report::default();
        let Some(provider) = self.config.providers.get(idx) else {
            return report;
        };
        let KeySource::Remote(remote) = &provider.keys else {
            return report;
        };
        let refresh_after_ms = remote.cache_duration_seconds.saturating_mul(1000);
        let body = match &reply {
            Reply::Answered {
                status: 200, size, ..
            } if *size > MAX_JWKS_BYTES => Err(FetchError::TooLarge(MAX_JWKS_BYTES)),
            Reply::Answered {
                status: 200, body, ..
            } => Ok(body.as_slice()),
            Reply::Answered { status, .. } => Err(FetchError::Status(*status)),
            Reply::Failed => Err(FetchError::NoResponse),
            Reply::NotStarted(why) => Err(FetchError::Dispatch(why.clone())),
        };
        let name = provider.name.clone();
        match self
            .keys
            .finish_fetch(idx, body, refresh_after_ms, now.unix_ms)
        {
            FetchResult::Updated => {
                report.counts.jwks_fetch_ok += 1;
                report.notes.push(Note::KeysUpdated { provider: name });
            }
            FetchResult::Unchanged => report.counts.jwks_fetch_ok += 1,
            FetchResult::Failed(why) => {
                report.counts.jwks_fetch_failed += 1;
                report.notes.push(Note::KeysFetchFailed {
                    provider: name,
                    why: why.to_string(),
                });
            }
        }
        report
    }

    /// Stream mode: the next poll of the revocation feed.
    pub fn revocation_poll(&self) -> Option<Call> {
        let verifier = self.config.verifier.as_ref()?;
        let view = self.revocations.as_ref()?;
        // It waits at the verifier for up to `wait_ms`: its timeout is that plus the verifier's.
        Some(Call {
            cluster: verifier.cluster.clone(),
            method: "GET",
            path: view.poll_path(&verifier.stream.path),
            authority: verifier.authority.clone(),
            headers: &[("accept", "application/json")],
            trace_context: Vec::new(),
            authorization: verifier.stream.feed_token.clone(),
            body: None,
            timeout_ms: view.wait_ms().saturating_add(verifier.timeout_ms),
            max_response_bytes: view.max_answer_bytes(),
        })
    }

    /// Stream mode: applies the reply to the poll of the revocation feed sent at `sent` (what it
    /// confirms is as of then), arrived at `now`.
    pub fn revocations_answered(&mut self, reply: &Reply, sent: Now, now: Now) -> Report {
        let mut report = Report::default();
        let Some(view) = self.revocations.as_mut() else {
            return report;
        };
        let applied = match reply {
            Reply::Answered {
                status: 200,
                body,
                size,
            } if *size <= body.len() => view.apply_body(body, sent.unix_ms, now.unix_ms),
            Reply::Answered {
                status: 200, size, ..
            } => Err(ViewError::NoAnswer(format!(
                "answer of {size} bytes over the limit"
            ))),
            Reply::Answered { status, .. } => Err(ViewError::NoAnswer(format!("status {status}"))),
            Reply::Failed => Err(ViewError::NoAnswer("no response".into())),
            Reply::NotStarted(why) => Err(ViewError::NoAnswer(why.clone())),
        };
        match applied {
            Ok(Applied::Snapshot { entries }) => {
                report.counts.feed_snapshots += 1;
                report.notes.push(Note::FeedSynced { entries });
            }
            Ok(Applied::Changes { .. }) => {}
            Err(e) => {
                report.counts.feed_failures += 1;
                let warn = self.verifier_warning_due(now.unix_ms);
                report.notes.push(Note::FeedFailed {
                    why: e.to_string(),
                    warn,
                });
            }
        }
        report
    }

    /// Stream mode: how long to wait before the next poll after the one whose answer gave
    /// `report` (0: poll again at once, as a long poll does). A failed poll pauses so that a
    /// verifier that is down is not hammered; a snapshot over `max_entries` pauses longer.
    pub fn feed_pause_ms(&self, report: &Report) -> u64 {
        let failed = report
            .notes
            .iter()
            .any(|n| matches!(n, Note::FeedFailed { .. }));
        let overflowed = self
            .revocations
            .as_ref()
            .is_some_and(|view| view.overflowed());
        match (overflowed, failed) {
            (true, _) => FEED_OVERFLOW_RETRY_MS,
            (false, true) => FEED_RETRY_MS,
            (false, false) => 0,
        }
    }

    /// The gauges at `now`.
    pub fn gauges(&mut self, now: Now) -> Gauges {
        let since = *self.gauges_since_ms.get_or_insert(now.unix_ms);
        let age_ms = |at: Option<u64>| now.unix_ms.saturating_sub(at.unwrap_or(since));
        let stream = self.revocations.as_ref().map(|view| StreamGauges {
            staleness_ms: age_ms(view.confirmed_at_ms()),
            max_staleness_ms: view.max_staleness_ms(),
            trusted: view.trusted(now.unix_ms),
        });
        let key_set_age_seconds = self
            .keys
            .fetched_at_ms()
            .into_iter()
            .map(|(idx, at)| (idx, age_ms(at) / 1000))
            .collect();
        Gauges {
            stream,
            key_set_age_seconds,
        }
    }

    /// Whether a verifier failure now is the first of its warning interval.
    pub(super) fn verifier_warning_due(&mut self, now_ms: u64) -> bool {
        let due = self
            .last_verifier_warning_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= VERIFIER_WARNING_INTERVAL_MS);
        if due {
            self.last_verifier_warning_ms = Some(now_ms);
        }
        due
    }
}
