//! The process's log output: text or JSON lines on stderr, the level from `WARDEN_LOG`; and the
//! one line each check decision (debug) and each admin action (info) writes.

use super::metrics::{AdminAction, CheckOutcome};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};
use warden_core::protocol::CheckRequest;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Target of the check decision lines.
pub const DECISION_TARGET: &str = "warden_verifier::decision";
/// Target of the admin action lines.
pub const ADMIN_TARGET: &str = "warden_verifier::admin";

/// The filter `WARDEN_LOG` gives (`info` when unset or unreadable).
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_env("WARDEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The log layer: events passing `filter`, as text or one JSON object per line, to `writer`.
/// Spans are for traces only: they neither pass nor decorate a line.
pub fn log_layer<S, W>(
    format: LogFormat,
    writer: W,
    filter: EnvFilter,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let events_only = tracing_subscriber::filter::filter_fn(|meta| !meta.is_span());
    let filter = filter.and(events_only);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    }
}

/// Installs the process's subscriber: the log layer on stderr, and with `traces` the layer that
/// exports spans. A second call keeps the first.
pub fn init(format: LogFormat, traces: Option<&SdkTracerProvider>) {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::registry()
        .with(log_layer::<Registry, _>(
            format,
            std::io::stderr,
            env_filter(),
            ansi,
        ))
        .with(traces.map(super::traces::layer))
        .try_init();
}

/// Who a check was about, as the audit events name people: never a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub sub: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub sid: Option<&'a str>,
}

impl<'a> Subject<'a> {
    pub fn of(request: &'a CheckRequest) -> Subject<'a> {
        Subject {
            sub: Some(&request.sub),
            jti: request.jti.as_deref(),
            sid: request.sid.as_deref(),
        }
    }
}

/// The metrics' `outcome` label and deny reason of a check.
pub fn decision_fields(outcome: CheckOutcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        CheckOutcome::Allow => ("allow", None),
        CheckOutcome::Deny(reason) => ("deny", Some(reason.as_str())),
        CheckOutcome::Invalid => ("invalid", None),
        CheckOutcome::Unavailable => ("unavailable", Some("verifier_unavailable")),
    }
}

/// One check decided on `route`: a debug line (target [`DECISION_TARGET`]) with the fields of
/// the metrics (`decision` = `outcome`, `reason`) and of the audit events (`sub`, `jti`, `sid`),
/// and the same decision on the request's span.
pub fn check_decided(route: &str, outcome: CheckOutcome, subject: Subject<'_>) {
    let (decision, reason) = decision_fields(outcome);
    super::traces::record_decision(decision, reason);
    tracing::debug!(
        target: DECISION_TARGET,
        route,
        decision,
        reason,
        sub = subject.sub,
        jti = subject.jti,
        sid = subject.sid,
        "check decided"
    );
}

/// What an admin action was about (what its audit event names), never a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActionFacts<'a> {
    pub sub: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub sid: Option<&'a str>,
    /// The identity provider's issuer of a session revocation.
    pub iss: Option<&'a str>,
}

/// One admin action: an info line (target [`ADMIN_TARGET`]) with the metrics' `action` and
/// `result` (`ok` or `failed`), the error answered if any (`status`, `error` code: a 404 of a
/// delete is an `ok` result answered 404), and the audit event's fields; and the action on the
/// request's span.
pub fn admin_action(
    action: AdminAction,
    ok: bool,
    answered_error: Option<(u16, &str)>,
    facts: ActionFacts<'_>,
) {
    super::traces::record_action(action.label());
    tracing::info!(
        target: ADMIN_TARGET,
        action = action.label(),
        result = if ok { "ok" } else { "failed" },
        status = answered_error.map(|(status, _)| status),
        error = answered_error.map(|(_, code)| code),
        sub = facts.sub,
        jti = facts.jti,
        sid = facts.sid,
        iss = facts.iss,
        "admin action"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use warden_core::Reason;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    fn lines_of(filter: &str, emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(log_layer::<Registry, _>(
            LogFormat::Json,
            buffer.clone(),
            EnvFilter::new(filter),
            false,
        ));
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn a_check_decision_is_one_json_line_at_debug() {
        let request: CheckRequest =
            serde_json::from_value(serde_json::json!({"sub": "alice", "jti": "j1", "exp": 0}))
                .unwrap();
        let lines = lines_of("warden_verifier=debug", || {
            check_decided(
                "/v1/check",
                CheckOutcome::Deny(Reason::Revoked),
                Subject::of(&request),
            );
            check_decided("/v1/ext_authz", CheckOutcome::Allow, Subject::default());
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let fields = &lines[0]["fields"];
        assert_eq!(lines[0]["level"], "DEBUG");
        assert_eq!(lines[0]["target"], DECISION_TARGET);
        assert_eq!(fields["message"], "check decided");
        assert_eq!(fields["route"], "/v1/check");
        assert_eq!(fields["decision"], "deny");
        assert_eq!(fields["reason"], "revoked");
        assert_eq!(fields["sub"], "alice");
        assert_eq!(fields["jti"], "j1");
        assert!(fields.get("sid").is_none(), "{fields}");
        let allowed = &lines[1]["fields"];
        assert_eq!(allowed["decision"], "allow");
        assert!(allowed.get("reason").is_none() && allowed.get("sub").is_none());
        // At the default level (info) decisions are not logged.
        let quiet = lines_of("info", || {
            check_decided("/v1/check", CheckOutcome::Allow, Subject::of(&request));
        });
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    #[test]
    fn an_admin_action_is_one_json_line_at_info() {
        let lines = lines_of("info", || {
            admin_action(
                AdminAction::RevokeToken,
                true,
                None,
                ActionFacts {
                    sub: Some("alice"),
                    jti: Some("j1"),
                    ..ActionFacts::default()
                },
            );
            admin_action(
                AdminAction::RevokeAll,
                false,
                Some((503, "unavailable")),
                ActionFacts::default(),
            );
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["target"], ADMIN_TARGET);
        let fields = &lines[0]["fields"];
        assert_eq!(fields["message"], "admin action");
        assert_eq!(fields["action"], "revoke_token");
        assert_eq!(fields["result"], "ok");
        assert!(fields.get("status").is_none() && fields.get("sid").is_none());
        assert_eq!(
            (&fields["sub"], &fields["jti"]),
            (&"alice".into(), &"j1".into())
        );
        let failed = &lines[1]["fields"];
        assert_eq!(
            (
                &failed["action"],
                &failed["result"],
                &failed["status"],
                &failed["error"]
            ),
            (
                &"revoke_all".into(),
                &"failed".into(),
                &503.into(),
                &"unavailable".into()
            )
        );
    }

    #[test]
    fn spans_stay_out_of_log_lines() {
        let lines = lines_of("info", || {
            let span = tracing::info_span!("request", http.route = "/v1/check");
            let _entered = span.enter();
            tracing::info!(k = 1, "inside");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].get("span").is_none() && lines[0].get("spans").is_none());
        assert_eq!(lines[0]["fields"]["message"], "inside");
    }
}
