//! The verifier's metrics, kept in a `prometheus-client` registry: every label set exists from the
//! start (a counter that never moved still reads 0), and `/metrics` speaks both exposition
//! formats — OpenMetrics to a scraper that asks for it (Prometheus does), the Prometheus text
//! format 0.0.4 to everyone else.

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;
use warden_core::Reason;

/// The reasons the verifier itself can give.
pub const DENY_REASONS: [Reason; 7] = [
    Reason::Revoked,
    Reason::StaleVersion,
    Reason::SessionMissing,
    Reason::SessionMismatch,
    Reason::RevokedAll,
    Reason::UserRevoked,
    Reason::SessionRevoked,
];

/// Admin actions, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    RevokeToken,
    RevokeUser,
    RevokeSession,
    CreateSession,
    ListSessions,
    DeleteSession,
    RevokeAll,
    Introspect,
}

impl AdminAction {
    const ALL: [AdminAction; 8] = [
        AdminAction::RevokeToken,
        AdminAction::RevokeUser,
        AdminAction::RevokeSession,
        AdminAction::CreateSession,
        AdminAction::ListSessions,
        AdminAction::DeleteSession,
        AdminAction::RevokeAll,
        AdminAction::Introspect,
    ];

    pub fn label(self) -> &'static str {
        match self {
            AdminAction::RevokeToken => "revoke_token",
            AdminAction::RevokeUser => "revoke_user",
            AdminAction::RevokeSession => "revoke_session",
            AdminAction::CreateSession => "create_session",
            AdminAction::ListSessions => "list_sessions",
            AdminAction::DeleteSession => "delete_session",
            AdminAction::RevokeAll => "revoke_all",
            AdminAction::Introspect => "introspect",
        }
    }
}

/// How a check ended, for the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Allow,
    Deny(Reason),
    /// 400 or 413: the request itself was bad.
    Invalid,
    /// 503: Redis could not answer.
    Unavailable,
}

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition format of one `/metrics` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (counters typed under their `_total` name, no `# EOF`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`# TYPE` without `_total`, `# UNIT`, ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header lists it with a non-zero q, as Prometheus's scrape
    /// requests do; the Prometheus text format otherwise (curl, older scrapers).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.unwrap_or_default().split(',').any(|range| {
            let mut params = range.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            let refused = params.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::PrometheusText => prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

type Labels = Vec<(&'static str, &'static str)>;
/// Labels with a configured value (an identity provider's name).
type OwnedLabels = Vec<(&'static str, String)>;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    // Handles to the registered values, one per label set, so recording takes no lock.
    checks_allowed: Counter,
    checks_denied: [Counter; DENY_REASONS.len()],
    checks_invalid: Counter,
    checks_unavailable: Counter,
    check_latency: Histogram,
    redis_errors: Counter,
    admin_ok: [Counter; AdminAction::ALL.len()],
    admin_failed: [Counter; AdminAction::ALL.len()],
    admin_unauthorized: Counter,
    security_events: Family<Labels, Counter>,
    idp_events: Family<OwnedLabels, Counter>,
    outbox_pending: Gauge,
}

fn idp_labels(provider: &str, event: &str, outcome: &str) -> OwnedLabels {
    vec![
        ("provider", provider.to_owned()),
        ("event", event.to_owned()),
        ("outcome", outcome.to_owned()),
    ]
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric registered and every label set created, so each one reads 0 from the start.
    /// Counter names get their `_total` suffix from the registry; HELP texts their final period.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();

        let checks = Family::<Labels, Counter>::default();
        registry.register(
            "warden_verifier_checks",
            "Checks answered, by outcome and deny reason",
            checks.clone(),
        );
        let check = |labels: Labels| checks.get_or_create_owned(&labels);
        let checks_allowed = check(vec![("outcome", "allow")]);
        let checks_denied = DENY_REASONS
            .map(|reason| check(vec![("outcome", "deny"), ("reason", reason.as_str())]));
        let checks_invalid = check(vec![("outcome", "invalid")]);
        let checks_unavailable = check(vec![("outcome", "unavailable")]);

        let check_latency = Histogram::new(LATENCY_BUCKETS);
        registry.register_with_unit(
            "warden_verifier_check_duration",
            "Time to answer a well-formed check",
            Unit::Seconds,
            check_latency.clone(),
        );

        let redis_errors = Counter::default();
        registry.register(
            "warden_verifier_redis_errors",
            "Redis calls that failed or timed out",
            redis_errors.clone(),
        );

        let admin = Family::<Labels, Counter>::default();
        registry.register(
            "warden_verifier_admin_actions",
            "Admin actions, by action and result",
            admin.clone(),
        );
        let action = |result: &'static str| {
            AdminAction::ALL.map(|a| {
                admin.get_or_create_owned(&vec![("action", a.label()), ("result", result)])
            })
        };
        let (admin_ok, admin_failed) = (action("ok"), action("error"));

        let admin_unauthorized = Counter::default();
        registry.register(
            "warden_verifier_admin_unauthorized",
            "Admin requests refused for a missing or wrong token",
            admin_unauthorized.clone(),
        );

        let security_events = Family::<Labels, Counter>::default();
        registry.register(
            "warden_verifier_security_events",
            "Security events of the token life cycle (also on the warden:events stream), by event",
            security_events.clone(),
        );
        for event in super::events::SecurityEvent::ALL {
            let _ = security_events.get_or_create_owned(&vec![("event", event.name())]);
        }

        let idp_events = Family::<OwnedLabels, Counter>::default();
        registry.register(
            "warden_verifier_idp_events",
            "Logout tokens and security events from identity providers, by provider, event and outcome",
            idp_events.clone(),
        );

        let outbox_pending = Gauge::default();
        registry.register(
            "warden_verifier_feed_outbox_pending",
            "Session ends stored but not yet in the revocation feed, as this instance last saw them",
            outbox_pending.clone(),
        );

        Metrics {
            registry,
            checks_allowed,
            checks_denied,
            checks_invalid,
            checks_unavailable,
            check_latency,
            redis_errors,
            admin_ok,
            admin_failed,
            admin_unauthorized,
            security_events,
            idp_events,
            outbox_pending,
        }
    }

    /// Creates the identity-provider label sets `(provider, event, outcome)` (the configured
    /// providers are known only once the settings are), so each reads 0 from the start.
    pub fn prepare_idp_events<'a>(
        &self,
        label_sets: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) {
        for (provider, event, outcome) in label_sets {
            let _ = self
                .idp_events
                .get_or_create_owned(&idp_labels(provider, event, outcome));
        }
    }

    pub fn record_idp_event(&self, provider: &str, event: &str, outcome: &str) {
        self.idp_events
            .get_or_create(&idp_labels(provider, event, outcome))
            .inc();
    }

    pub fn set_outbox_pending(&self, pending: usize) {
        self.outbox_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    pub fn record_security_event(&self, event: super::events::SecurityEvent) {
        self.security_events
            .get_or_create(&vec![("event", event.name())])
            .inc();
    }

    pub fn record_check(&self, outcome: CheckOutcome, elapsed: Duration) {
        match outcome {
            CheckOutcome::Allow => {
                self.checks_allowed.inc();
            }
            CheckOutcome::Deny(reason) => {
                let slot = DENY_REASONS.iter().position(|r| *r == reason);
                if let Some(counter) = slot.and_then(|i| self.checks_denied.get(i)) {
                    counter.inc();
                }
            }
            CheckOutcome::Invalid => {
                self.checks_invalid.inc();
            }
            CheckOutcome::Unavailable => {
                self.checks_unavailable.inc();
            }
        }
        if matches!(
            outcome,
            CheckOutcome::Allow | CheckOutcome::Deny(_) | CheckOutcome::Unavailable
        ) {
            self.check_latency.observe(elapsed.as_secs_f64());
        }
    }

    pub fn record_redis_error(&self) {
        self.redis_errors.inc();
    }

    pub fn record_admin(&self, action: AdminAction, ok: bool) {
        let counters = if ok {
            &self.admin_ok
        } else {
            &self.admin_failed
        };
        if let Some(counter) = counters.get(action as usize) {
            counter.inc();
        }
    }

    pub fn record_admin_unauthorized(&self) {
        self.admin_unauthorized.inc();
    }

    /// The exposition in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::with_capacity(4096);
        let encoded = match format {
            Format::PrometheusText => prometheus_text::encode(&mut out, &self.registry),
            Format::OpenMetrics => text::encode(&mut out, &self.registry),
        };
        // Writing into a String cannot fail; an error here would be a bug in the encoder.
        if let Err(error) = encoded {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_value(text: &str, prefix: &str) -> Option<String> {
        text.lines()
            .find(|l| l.starts_with(prefix) && l.get(prefix.len()..prefix.len() + 1) == Some(" "))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    }

    fn both_formats(m: &Metrics) -> [String; 2] {
        [
            m.render(Format::PrometheusText),
            m.render(Format::OpenMetrics),
        ]
    }

    #[test]
    fn the_outbox_gauge_reads_what_was_set_last() {
        let m = Metrics::default();
        for text in both_formats(&m) {
            assert_eq!(
                line_value(&text, "warden_verifier_feed_outbox_pending").as_deref(),
                Some("0"),
                "{text}"
            );
        }
        m.set_outbox_pending(3);
        m.set_outbox_pending(2);
        for text in both_formats(&m) {
            assert!(
                text.contains("# TYPE warden_verifier_feed_outbox_pending gauge"),
                "{text}"
            );
            assert_eq!(
                line_value(&text, "warden_verifier_feed_outbox_pending").as_deref(),
                Some("2")
            );
        }
    }

    #[test]
    fn counts_checks_by_outcome_and_reason() {
        let m = Metrics::default();
        m.record_check(CheckOutcome::Allow, Duration::from_micros(300));
        m.record_check(
            CheckOutcome::Deny(Reason::Revoked),
            Duration::from_millis(2),
        );
        m.record_check(CheckOutcome::Deny(Reason::Revoked), Duration::from_secs(3));
        m.record_check(CheckOutcome::Invalid, Duration::ZERO);
        for text in both_formats(&m) {
            for (series, value) in [
                ("warden_verifier_checks_total{outcome=\"allow\"}", "1"),
                (
                    "warden_verifier_checks_total{outcome=\"deny\",reason=\"revoked\"}",
                    "2",
                ),
                (
                    "warden_verifier_checks_total{outcome=\"deny\",reason=\"stale_version\"}",
                    "0",
                ),
                ("warden_verifier_checks_total{outcome=\"invalid\"}", "1"),
                ("warden_verifier_checks_total{outcome=\"unavailable\"}", "0"),
                (
                    "warden_verifier_check_duration_seconds_bucket{le=\"0.0001\"}",
                    "0",
                ),
                (
                    "warden_verifier_check_duration_seconds_bucket{le=\"0.0005\"}",
                    "1",
                ),
                (
                    "warden_verifier_check_duration_seconds_bucket{le=\"0.25\"}",
                    "2",
                ),
                (
                    "warden_verifier_check_duration_seconds_bucket{le=\"+Inf\"}",
                    "3",
                ),
                ("warden_verifier_check_duration_seconds_count", "3"),
                ("warden_verifier_redis_errors_total", "0"),
            ] {
                assert_eq!(
                    line_value(&text, series).as_deref(),
                    Some(value),
                    "{series} in\n{text}"
                );
            }
            let sum: f64 = line_value(&text, "warden_verifier_check_duration_seconds_sum")
                .unwrap()
                .parse()
                .unwrap();
            assert!((sum - 3.0023).abs() < 1e-9, "{sum}");
        }
    }

    #[test]
    fn every_bucket_bound_is_exposed() {
        let text = Metrics::default().render(Format::PrometheusText);
        let bounds: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("warden_verifier_check_duration_seconds_bucket{le=\""))
            .filter_map(|l| l.split('"').next())
            .filter(|b| *b != "+Inf")
            .map(|b| b.parse().unwrap())
            .collect();
        assert_eq!(bounds, LATENCY_BUCKETS);
    }

    #[test]
    fn counts_admin_actions() {
        let m = Metrics::default();
        m.record_admin(AdminAction::RevokeAll, true);
        m.record_admin(AdminAction::RevokeAll, false);
        m.record_admin(AdminAction::RevokeAll, false);
        m.record_admin_unauthorized();
        m.record_redis_error();
        for text in both_formats(&m) {
            for (series, value) in [
                (
                    "warden_verifier_admin_actions_total{action=\"revoke_all\",result=\"ok\"}",
                    "1",
                ),
                (
                    "warden_verifier_admin_actions_total{action=\"revoke_all\",result=\"error\"}",
                    "2",
                ),
                (
                    "warden_verifier_admin_actions_total{action=\"revoke_token\",result=\"ok\"}",
                    "0",
                ),
                ("warden_verifier_admin_unauthorized_total", "1"),
                ("warden_verifier_redis_errors_total", "1"),
            ] {
                assert_eq!(
                    line_value(&text, series).as_deref(),
                    Some(value),
                    "{series} in\n{text}"
                );
            }
        }
    }

    #[test]
    fn the_two_formats_differ_where_their_specifications_do() {
        let m = Metrics::default();
        let prometheus = m.render(Format::PrometheusText);
        assert!(prometheus.contains("# TYPE warden_verifier_checks_total counter\n"));
        assert!(prometheus.contains(
            "# HELP warden_verifier_checks_total Checks answered, by outcome and deny reason.\n"
        ));
        assert!(prometheus.contains("# TYPE warden_verifier_check_duration_seconds histogram\n"));
        assert!(!prometheus.contains("# EOF"));
        let openmetrics = m.render(Format::OpenMetrics);
        assert!(openmetrics.contains("# TYPE warden_verifier_checks counter\n"));
        assert!(openmetrics.contains("# UNIT warden_verifier_check_duration_seconds seconds\n"));
        assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
        // Bucket bounds: Go's formatting in the text format, a float in OpenMetrics.
        assert!(prometheus.contains("_bucket{le=\"1\"} 0\n"), "{prometheus}");
        assert!(
            openmetrics.contains("_bucket{le=\"1.0\"} 0\n"),
            "{openmetrics}"
        );
    }

    #[test]
    fn openmetrics_only_when_asked_for() {
        let prometheus_scrape = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Format::negotiate(Some(prometheus_scrape)),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text")),
            Format::OpenMetrics
        );
        for accept in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain;version=0.0.4, application/openmetrics-text;q=0"),
            Some(""),
        ] {
            assert_eq!(
                Format::negotiate(accept),
                Format::PrometheusText,
                "{accept:?}"
            );
        }
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(
            Format::PrometheusText.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
