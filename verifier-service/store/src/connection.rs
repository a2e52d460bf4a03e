//! The store's connection: one reconnecting connection to a single Redis, the redis crate's
//! cluster client, or a Sentinel-resolved master. All three are `redis::aio::ConnectionLike +
//! Clone`, so scripts (`invoke_async`), commands and pipelines run on any of them unchanged.

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

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(c) => c.req_packed_command(cmd),
            RedisConnection::Cluster(c) => c.req_packed_command(cmd),
            RedisConnection::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConnection::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
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
