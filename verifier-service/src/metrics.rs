//! A small hand-written Prometheus registry: fixed label sets, atomics, text exposition format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use warden_core::Reason;

/// The reasons the verifier itself can give.
pub const DENY_REASONS: [Reason; 5] = [
    Reason::Revoked,
    Reason::StaleVersion,
    Reason::SessionMissing,
    Reason::SessionMismatch,
    Reason::RevokedAll,
];

/// Admin actions, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    RevokeToken,
    RevokeUser,
    CreateSession,
    ListSessions,
    DeleteSession,
    RevokeAll,
}

impl AdminAction {
    const ALL: [AdminAction; 6] = [
        AdminAction::RevokeToken,
        AdminAction::RevokeUser,
        AdminAction::CreateSession,
        AdminAction::ListSessions,
        AdminAction::DeleteSession,
        AdminAction::RevokeAll,
    ];

    fn label(self) -> &'static str {
        match self {
            AdminAction::RevokeToken => "revoke_token",
            AdminAction::RevokeUser => "revoke_user",
            AdminAction::CreateSession => "create_session",
            AdminAction::ListSessions => "list_sessions",
            AdminAction::DeleteSession => "delete_session",
            AdminAction::RevokeAll => "revoke_all",
        }
    }

    fn index(self) -> usize {
        self as usize
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

#[derive(Debug, Default)]
struct Histogram {
    /// Per-bucket counts (not cumulative); the last slot is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    checks_allowed: AtomicU64,
    checks_denied: [AtomicU64; DENY_REASONS.len()],
    checks_invalid: AtomicU64,
    checks_unavailable: AtomicU64,
    check_latency: Histogram,
    redis_errors: AtomicU64,
    admin_ok: [AtomicU64; AdminAction::ALL.len()],
    admin_failed: [AtomicU64; AdminAction::ALL.len()],
    admin_unauthorized: AtomicU64,
}

fn bump(counter: Option<&AtomicU64>) {
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn load(counter: Option<&AtomicU64>) -> u64 {
    counter.map_or(0, |c| c.load(Ordering::Relaxed))
}

impl Metrics {
    pub fn record_check(&self, outcome: CheckOutcome, elapsed: Duration) {
        match outcome {
            CheckOutcome::Allow => bump(Some(&self.checks_allowed)),
            CheckOutcome::Deny(reason) => {
                let slot = DENY_REASONS.iter().position(|r| *r == reason);
                bump(slot.and_then(|i| self.checks_denied.get(i)));
            }
            CheckOutcome::Invalid => bump(Some(&self.checks_invalid)),
            CheckOutcome::Unavailable => bump(Some(&self.checks_unavailable)),
        }
        if matches!(
            outcome,
            CheckOutcome::Allow | CheckOutcome::Deny(_) | CheckOutcome::Unavailable
        ) {
            self.check_latency.observe(elapsed);
        }
    }

    pub fn record_redis_error(&self) {
        bump(Some(&self.redis_errors));
    }

    pub fn record_admin(&self, action: AdminAction, ok: bool) {
        let counters = if ok {
            &self.admin_ok
        } else {
            &self.admin_failed
        };
        bump(counters.get(action.index()));
    }

    pub fn record_admin_unauthorized(&self) {
        bump(Some(&self.admin_unauthorized));
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP warden_verifier_checks_total Checks answered, by outcome and deny reason."
        );
        let _ = writeln!(out, "# TYPE warden_verifier_checks_total counter");
        let _ = writeln!(
            out,
            "warden_verifier_checks_total{{outcome=\"allow\"}} {}",
            load(Some(&self.checks_allowed))
        );
        for (i, reason) in DENY_REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "warden_verifier_checks_total{{outcome=\"deny\",reason=\"{}\"}} {}",
                reason.as_str(),
                load(self.checks_denied.get(i))
            );
        }
        let _ = writeln!(
            out,
            "warden_verifier_checks_total{{outcome=\"invalid\"}} {}",
            load(Some(&self.checks_invalid))
        );
        let _ = writeln!(
            out,
            "warden_verifier_checks_total{{outcome=\"unavailable\"}} {}",
            load(Some(&self.checks_unavailable))
        );

        let _ = writeln!(
            out,
            "# HELP warden_verifier_check_duration_seconds Time to answer a well-formed check."
        );
        let _ = writeln!(
            out,
            "# TYPE warden_verifier_check_duration_seconds histogram"
        );
        let mut cumulative = 0u64;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += load(self.check_latency.buckets.get(i));
            let _ = writeln!(
                out,
                "warden_verifier_check_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += load(self.check_latency.buckets.get(LATENCY_BUCKETS.len()));
        let _ = writeln!(
            out,
            "warden_verifier_check_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum_seconds = load(Some(&self.check_latency.sum_nanos)) as f64 / 1e9;
        let _ = writeln!(
            out,
            "warden_verifier_check_duration_seconds_sum {sum_seconds}"
        );
        let _ = writeln!(
            out,
            "warden_verifier_check_duration_seconds_count {}",
            load(Some(&self.check_latency.count))
        );

        let _ = writeln!(
            out,
            "# HELP warden_verifier_redis_errors_total Redis calls that failed or timed out."
        );
        let _ = writeln!(out, "# TYPE warden_verifier_redis_errors_total counter");
        let _ = writeln!(
            out,
            "warden_verifier_redis_errors_total {}",
            load(Some(&self.redis_errors))
        );

        let _ = writeln!(
            out,
            "# HELP warden_verifier_admin_actions_total Admin actions, by action and result."
        );
        let _ = writeln!(out, "# TYPE warden_verifier_admin_actions_total counter");
        for action in AdminAction::ALL {
            for (result, counters) in [("ok", &self.admin_ok), ("error", &self.admin_failed)] {
                let _ = writeln!(
                    out,
                    "warden_verifier_admin_actions_total{{action=\"{}\",result=\"{result}\"}} {}",
                    action.label(),
                    load(counters.get(action.index()))
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP warden_verifier_admin_unauthorized_total Admin requests refused for a missing or wrong token."
        );
        let _ = writeln!(
            out,
            "# TYPE warden_verifier_admin_unauthorized_total counter"
        );
        let _ = writeln!(
            out,
            "warden_verifier_admin_unauthorized_total {}",
            load(Some(&self.admin_unauthorized))
        );
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
        let text = m.render();
        assert_eq!(
            line_value(&text, "warden_verifier_checks_total{outcome=\"allow\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_checks_total{outcome=\"deny\",reason=\"revoked\"}"
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(
            line_value(&text, "warden_verifier_checks_total{outcome=\"invalid\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_check_duration_seconds_bucket{le=\"0.0005\"}"
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_check_duration_seconds_bucket{le=\"1\"}"
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_check_duration_seconds_bucket{le=\"+Inf\"}"
            )
            .as_deref(),
            Some("3")
        );
        assert_eq!(
            line_value(&text, "warden_verifier_check_duration_seconds_count").as_deref(),
            Some("3")
        );
    }

    #[test]
    fn counts_admin_actions() {
        let m = Metrics::default();
        m.record_admin(AdminAction::RevokeAll, true);
        m.record_admin(AdminAction::RevokeAll, false);
        m.record_admin_unauthorized();
        let text = m.render();
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_admin_actions_total{action=\"revoke_all\",result=\"ok\"}"
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            line_value(
                &text,
                "warden_verifier_admin_actions_total{action=\"revoke_all\",result=\"error\"}"
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            line_value(&text, "warden_verifier_admin_unauthorized_total").as_deref(),
            Some("1")
        );
    }
}
