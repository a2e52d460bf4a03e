//! The store's connection: one reconnecting connection to a single Redis, the redis crate's
//! cluster client, or a Sentinel-resolved master. All three are `redis::aio::ConnectionLike +
//! Clone`, so scripts (`invoke_async`), commands and pipelines run on any of them unchanged.
//!
//! Every round trip passes here, so each one is a span (`redis`, a client span named after its
//! command; a pipeline after its commands), a child of the request being served. Spans are
//! exported only when the verifier traces (`--otlp-endpoint`); otherwise none is made.

use super::sentinel::SentinelConnection;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

#[derive(Clone)]
pub enum RedisConnection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConnection),
}

impl RedisConnection {
    /// Whether keys of different hash slots may live on different nodes (so one pipeline must
    /// not mix them).
    pub fn is_cluster(&self) -> bool {
        matches!(self, RedisConnection::Cluster(_))
    }
}

/// Longest command name recorded (a real one is at most a few words).
const MAX_COMMAND_NAME: usize = 32;

/// The name of `cmd` (its first argument), upper case; `?` when it has none readable.
fn command_name(cmd: &Cmd) -> String {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(bytes)) if !bytes.is_empty() => bytes
            .iter()
            .take(MAX_COMMAND_NAME)
            .map(|&b| char::from(b.to_ascii_uppercase()))
            .filter(|c| c.is_ascii_graphic())
            .collect(),
        _ => "?".to_owned(),
    }
}

/// The span of one round trip; `commands` is computed only when the span is wanted.
fn round_trip_span(commands: impl FnOnce() -> (String, usize)) -> tracing::Span {
    let span = tracing::info_span!(
        "redis",
        otel.name = tracing::field::Empty,
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = "redis",
        db.operation.name = tracing::field::Empty,
        db.operation.batch.size = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let (name, count) = commands();
        span.record("otel.name", name.as_str());
        span.record("db.operation.name", name.as_str());
        if count > 1 {
            // As i64: OpenTelemetry has no unsigned attribute.
            span.record(
                "db.operation.batch.size",
                i64::try_from(count).unwrap_or(i64::MAX),
            );
        }
    }
    span
}

/// `call` inside `span`, its failure recorded on it.
fn traced<'a, T: Send + 'a>(span: tracing::Span, call: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
    use tracing::Instrument;
    if span.is_disabled() {
        return call;
    }
    let outer = span.clone();
    Box::pin(
        async move {
            let result = call.await;
            if let Err(e) = &result {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", format!("{:?}", e.kind()).as_str());
            }
            result
        }
        .instrument(outer),
    )
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let span = round_trip_span(|| (command_name(cmd), 1));
        let call = match self {
            RedisConnection::Single(c) => c.req_packed_command(cmd),
            RedisConnection::Cluster(c) => c.req_packed_command(cmd),
            RedisConnection::Sentinel(c) => c.req_packed_command(cmd),
        };
        traced(span, call)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let span = round_trip_span(|| {
            let names: Vec<String> = pipeline.cmd_iter().map(command_name).collect();
            let sent = names.len();
            (names.join(" "), sent)
        });
        let call = match self {
            RedisConnection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        };
        traced(span, call)
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(c) => c.get_db(),
            RedisConnection::Cluster(c) => c.get_db(),
            RedisConnection::Sentinel(c) => c.get_db(),
        }
    }
}

// Helpers elsewhere in the store use the connection with `AsyncCommands` and
// `Script::invoke_async`, which need these bounds: checked when the crate compiles.
const _: () = {
    const fn usable<T: ConnectionLike + redis::AsyncCommands + Clone + Send + Sync + 'static>() {}
    usable::<RedisConnection>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_named_by_their_first_argument() {
        let mut evalsha = redis::cmd("evalsha");
        evalsha.arg("abc").arg(1).arg("secret-key");
        assert_eq!(command_name(&evalsha), "EVALSHA");
        assert_eq!(command_name(&redis::cmd("SCRIPT")), "SCRIPT");
        let long = "x".repeat(100);
        assert_eq!(command_name(&redis::cmd(&long)).len(), MAX_COMMAND_NAME);
        assert_eq!(command_name(&Cmd::new()), "?");
    }
}
