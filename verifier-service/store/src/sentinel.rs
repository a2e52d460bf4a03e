//! A master found through Redis Sentinel, followed across failovers.
//!
//! The redis crate's Sentinel client resolves a master once and then keeps talking to that
//! address: it does not follow `+switch-master` (redis-rs#1438). Here the resolved connection is
//! dropped — and the next call asks the sentinels again — when
//! - a call fails on the connection (I/O error, refused, dropped, timed out),
//! - Redis answers `READONLY` (the node was demoted to a replica),
//! - or the watcher, once per `watch_interval`, finds that the sentinels name another master or
//!   that our node no longer calls itself master (a failover that kept the old node reachable,
//!   where reads would otherwise go on, silently, against a replica).
//!
//! The failed call itself is not retried: its caller answers 503 and the next request goes to
//! the new master. Retrying writes blindly could apply one twice (`INCR`).

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::SentinelClient;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

#[derive(Clone)]
struct Current {
    generation: u64,
    address: String,
    connection: MultiplexedConnection,
}

struct Shared {
    resolver: tokio::sync::Mutex<SentinelClient>,
    current: Mutex<Option<Current>>,
    next_generation: AtomicU64,
    config: AsyncConnectionConfig,
    watch_interval: Duration,
    watching: AtomicBool,
    resolve_timeout: Duration,
}

/// A cheap handle (clones share one resolved connection).
#[derive(Clone)]
pub struct SentinelConnection {
    shared: Arc<Shared>,
}

/// Errors after which the connection cannot be trusted to reach the master any more.
pub fn means_master_lost(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
        || error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        || error.code() == Some("READONLY")
}

fn value_means_master_lost(value: &Value) -> bool {
    match value {
        Value::ServerError(e) => {
            e.kind() == Some(redis::ServerErrorKind::ReadOnly) || e.code() == "READONLY"
        }
        Value::Array(items) => items.iter().any(value_means_master_lost),
        _ => false,
    }
}

impl SentinelConnection {
    /// Nothing is connected until the first call. `watch_interval` bounds how long a failover
    /// that breaks no connection goes unnoticed.
    pub fn new(
        client: SentinelClient,
        config: AsyncConnectionConfig,
        resolve_timeout: Duration,
        watch_interval: Duration,
    ) -> SentinelConnection {
        SentinelConnection {
            shared: Arc::new(Shared {
                resolver: tokio::sync::Mutex::new(client),
                current: Mutex::new(None),
                next_generation: AtomicU64::new(1),
                config,
                watch_interval,
                watching: AtomicBool::new(false),
                resolve_timeout,
            }),
        }
    }

    fn cached(&self) -> Option<Current> {
        self.shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The address of the master in use, if one is resolved (for logs and tests).
    pub fn master_address(&self) -> Option<String> {
        self.cached().map(|c| c.address)
    }

    async fn resolve(&self) -> RedisResult<Current> {
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let mut resolver = self.shared.resolver.lock().await;
        if let Some(current) = self.cached() {
            return Ok(current);
        }
        let client = tokio::time::timeout(self.shared.resolve_timeout, resolver.async_get_client())
            .await
            .map_err(|_| RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
        let connection = client
            .get_multiplexed_async_connection_with_config(&self.shared.config)
            .await?;
        let current = Current {
            generation: self.shared.next_generation.fetch_add(1, Ordering::Relaxed),
            address: client.get_connection_info().addr().to_string(),
            connection,
        };
        tracing::info!(master = %current.address, "sentinel: using this master");
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(current.clone());
        drop(resolver);
        self.start_watching();
        Ok(current)
    }

    /// Drops the connection of `generation` (a newer one stays).
    fn forget(&self, generation: u64, why: &str) {
        let mut slot = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().map(|c| c.generation) == Some(generation) {
            if let Some(old) = slot.take() {
                tracing::warn!(master = %old.address, reason = why, "sentinel: master lost; asking the sentinels again");
            }
        }
    }

    fn start_watching(&self) {
        if self.shared.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        let interval = self.shared.watch_interval;
        tokio::spawn(watch(weak, interval));
    }
}

/// Every `interval`: ask the sentinels for the master; forget ours when it is not that one.
async fn watch(shared: Weak<Shared>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let this = SentinelConnection { shared };
        let Some(current) = this.cached() else {
            continue;
        };
        let named = {
            let mut resolver = this.shared.resolver.lock().await;
            tokio::time::timeout(this.shared.resolve_timeout, resolver.async_get_client()).await
        };
        match named {
            Ok(Ok(client)) => {
                let address = client.get_connection_info().addr().to_string();
                if address != current.address {
                    this.forget(current.generation, "the sentinels name another master");
                }
            }
            Ok(Err(e)) if e.kind() == redis::ErrorKind::MasterNameNotFoundBySentinel => {
                // The sentinels answer but name no node that is master: a failover in progress.
                this.forget(current.generation, "the sentinels confirm no master");
            }
            Ok(Err(e)) => {
                // Sentinels unreachable: no failover can happen without them either, so the
                // master in use stays; a broken master shows on the calls themselves.
                tracing::debug!(error = %e, "sentinel watch: lookup failed");
            }
            Err(_) => tracing::debug!("sentinel watch: lookup timed out"),
        }
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut current = self.resolve().await?;
            let result = current.connection.req_packed_command(cmd).await;
            match &result {
                Err(e) if means_master_lost(e) => self.forget(current.generation, "call failed"),
                Ok(v) if value_means_master_lost(v) => self.forget(current.generation, "READONLY"),
                _ => {}
            }
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut current = self.resolve().await?;
            let result = current
                .connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            match &result {
                Err(e) if means_master_lost(e) => self.forget(current.generation, "call failed"),
                Ok(values) if values.iter().any(value_means_master_lost) => {
                    self.forget(current.generation, "READONLY")
                }
                _ => {}
            }
            result
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readonly_answers_mean_the_master_is_lost() {
        let readonly =
            redis::parse_redis_value(b"-READONLY You can't write against a read only replica.\r\n")
                .unwrap();
        assert!(value_means_master_lost(&readonly));
        assert!(value_means_master_lost(&Value::Array(vec![
            Value::Okay,
            readonly.clone()
        ])));
        let other = redis::parse_redis_value(b"-ERR wrong number of arguments\r\n").unwrap();
        assert!(!value_means_master_lost(&other));
        assert!(!value_means_master_lost(&Value::Int(1)));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(means_master_lost(&refused));
    }
}
