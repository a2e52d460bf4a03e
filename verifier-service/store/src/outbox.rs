//! Session ends decided inside a script, and how long any session end is announced.
//!
//! A refresh script that ends a session (reuse detected, expiry, revoke-all, RFC 7009 revocation
//! by refresh token) deletes the record in the user's slot; the feed lives in the `{feed}` slot,
//! so no script can do both. The script therefore writes the end into an **outbox** in the user's
//! own slot, atomically with the deletion; whoever relays it (the handler at once, else the
//! background relay of any verifier instance) appends the end to the feed FIRST and removes the
//! outbox entry only after that succeeded. A relay repeated after a crash or a lost reply appends
//! the same end twice, which is harmless (the feed's state keeps the later `until`).
//!
//! The outbox is `warden:{T}:feedout` (`store::keys::outbox_key`): sid → `"<ended_at> <expires_at>"`
//! of an end not yet fed, kept a day after the latest end.
//!
//! The outbox keeps facts (when the session ended, when it would have expired), not the `until`
//! announced: [`EndWindow::until`] is the one place that turns them into how long an end is
//! announced, for every way a session ends.

use super::keys::{outbox_key, outbox_tag, UserTag, OUTBOX_PATTERN};
use super::{RedisConnection, Store, StoreError};
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::Value;
use warden_core::protocol::feed::LiveSession;

/// Keys asked per `SCAN` call.
const SCAN_COUNT: u64 = 1000;

/// Session records checked per pipeline (one Redis) or in flight at once (Cluster).
const EXISTS_BATCH: usize = 512;

/// How long the feed announces a session's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndWindow {
    /// The issuer's access-token lifetime (`--access-ttl-seconds`); `None` without an issuer,
    /// when the session's tokens come from elsewhere and may live as long as the session.
    pub access_ttl_seconds: Option<u64>,
    /// `--revocation-skew-seconds`: a filter refuses a token as expired only past `exp` + skew.
    pub skew_seconds: u64,
}

impl EndWindow {
    /// Until when the end of a session that ended at `ended_at` (and would have expired at
    /// `expires_at`) is announced: as long as a token it can deny may still be accepted. Every
    /// access token of the session was issued at or before its end, with `exp` at most the
    /// session's expiry and at most its issue time + the access TTL; a filter holds it valid until
    /// `exp` + skew. So: min(expiry, end + access TTL) + skew, never before the end itself.
    ///
    /// Past this time, a token naming the session is expired everywhere, and the sid is unknown
    /// to the views again (they ask the verifier, which finds no record). Announcing longer only
    /// fills the filters' `max_entries`.
    pub fn until(&self, ended_at: i64, expires_at: i64) -> i64 {
        let seconds = |s: u64| i64::try_from(s).unwrap_or(i64::MAX);
        let last_exp = match self.access_ttl_seconds {
            Some(ttl) => expires_at.min(ended_at.saturating_add(seconds(ttl))),
            None => expires_at,
        };
        last_exp
            .max(ended_at)
            .saturating_add(seconds(self.skew_seconds))
    }
}

/// One end waiting in an outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnd {
    pub sid: String,
    pub ended_at: i64,
    pub expires_at: i64,
}

fn parse_entry(sid: String, value: &str) -> Result<PendingEnd, StoreError> {
    let bad = || StoreError::UnexpectedReply(format!("outbox entry {sid}: {value:?}"));
    let (ended_at, expires_at) = value.split_once(' ').ok_or_else(bad)?;
    Ok(PendingEnd {
        ended_at: ended_at.parse().map_err(|_| bad())?,
        expires_at: expires_at.parse().map_err(|_| bad())?,
        sid,
    })
}

/// The keys of one `SCAN` reply: `[cursor, [key, …]]`.
fn scan_page(reply: Value) -> Result<(u64, Vec<String>), StoreError> {
    let (cursor, keys): (String, Vec<String>) = redis::from_redis_value(reply)?;
    let cursor = cursor
        .parse()
        .map_err(|_| StoreError::UnexpectedReply(format!("scan cursor {cursor}")))?;
    Ok((cursor, keys))
}

fn scan_cmd(cursor: u64) -> redis::Cmd {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor)
        .arg("MATCH")
        .arg(OUTBOX_PATTERN)
        .arg("COUNT")
        .arg(SCAN_COUNT)
        .arg("TYPE")
        .arg("hash");
    cmd
}

impl Store {
    /// The ends waiting in the user's outbox.
    pub async fn read_outbox(&self, tag: &UserTag) -> Result<Vec<PendingEnd>, StoreError> {
        let key = outbox_key(tag);
        let (flat,): (Vec<(String, String)>,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("HGETALL").arg(&key);
                pipe
            })
            .await?;
        flat.into_iter()
            .map(|(sid, value)| parse_entry(sid, &value))
            .collect()
    }

    /// Removes relayed ends from the user's outbox (call only after the feed took them).
    pub async fn clear_outbox(&self, tag: &UserTag, sids: &[String]) -> Result<(), StoreError> {
        if sids.is_empty() {
            return Ok(());
        }
        let key = outbox_key(tag);
        let _: (i64,) = self
            .run(self.options.timeout, |_| {
                let mut pipe = redis::pipe();
                pipe.cmd("HDEL").arg(&key).arg(sids);
                pipe
            })
            .await?;
        Ok(())
    }

    /// The tags of every outbox in Redis (on a Cluster, on every master): those left by any
    /// verifier instance, a crashed one included.
    pub async fn scan_outboxes(&self) -> Result<Vec<UserTag>, StoreError> {
        let mut keys = Vec::new();
        match &self.connection {
            RedisConnection::Cluster(cluster) => {
                let mut cluster = cluster.clone();
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let first = tokio::time::timeout(
                    self.options.timeout,
                    cluster.route_command(scan_cmd(0), all),
                )
                .await
                .map_err(|_| StoreError::Timeout)??;
                let Value::Map(per_node) = first else {
                    return Err(StoreError::UnexpectedReply("scan on every master".into()));
                };
                for (address, reply) in per_node {
                    let address: String = redis::from_redis_value(address)?;
                    let (host, port) = address
                        .rsplit_once(':')
                        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
                        .ok_or_else(|| StoreError::UnexpectedReply(address.clone()))?;
                    let (mut cursor, page) = scan_page(reply)?;
                    keys.extend(page);
                    while cursor != 0 {
                        let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port,
                        });
                        let reply = tokio::time::timeout(
                            self.options.timeout,
                            cluster.route_command(scan_cmd(cursor), node),
                        )
                        .await
                        .map_err(|_| StoreError::Timeout)??;
                        let (next, page) = scan_page(reply)?;
                        keys.extend(page);
                        cursor = next;
                    }
                }
            }
            _ => {
                let mut cursor = 0;
                loop {
                    let (reply,): (Value,) = self
                        .run(self.options.timeout, |_| {
                            let mut pipe = redis::pipe();
                            pipe.add_command(scan_cmd(cursor));
                            pipe
                        })
                        .await?;
                    let (next, page) = scan_page(reply)?;
                    keys.extend(page);
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys.iter().filter_map(|k| outbox_tag(k)).collect())
    }

    /// Drops from `live` every session whose record no longer exists. The feed's live set is only
    /// corrected when an end reaches the feed; the record is deleted atomically with the end
    /// itself (and its outbox entry), so its absence is the truth every verifier instance
    /// shares, also while the end waits to be relayed.
    pub async fn retain_existing_sessions(
        &self,
        live: &mut Vec<LiveSession>,
    ) -> Result<(), StoreError> {
        let mut keep = Vec::with_capacity(live.len());
        for chunk in live.chunks(EXISTS_BATCH) {
            let keys: Vec<Option<String>> = chunk
                .iter()
                .map(|s| super::sid::owner_tag(&s.sid).map(|tag| tag.session_key(&s.sid)))
                .collect();
            let exists = self.exist(&keys).await?;
            keep.extend(exists);
        }
        let mut flags = keep.into_iter();
        live.retain(|_| flags.next().unwrap_or(false));
        Ok(())
    }

    /// Whether each key exists (`None`: no key, so no).
    async fn exist(&self, keys: &[Option<String>]) -> Result<Vec<bool>, StoreError> {
        let present: Vec<&String> = keys.iter().flatten().collect();
        let found: Vec<bool> = match &self.connection {
            // One slot per key: the cluster client cannot pipeline across slots, so the calls go
            // out together on its multiplexed node connections.
            RedisConnection::Cluster(cluster) => {
                let mut calls = tokio::task::JoinSet::new();
                for (i, key) in present.iter().enumerate() {
                    let mut cluster = cluster.clone();
                    let cmd = redis::cmd("EXISTS").arg(key.as_str()).to_owned();
                    let timeout = self.options.timeout;
                    calls.spawn(async move {
                        let reply =
                            tokio::time::timeout(timeout, cmd.query_async::<i64>(&mut cluster))
                                .await
                                .map_err(|_| StoreError::Timeout)?
                                .map_err(StoreError::from)?;
                        Ok::<_, StoreError>((i, reply == 1))
                    });
                }
                let mut found = vec![false; present.len()];
                while let Some(done) = calls.join_next().await {
                    let (i, exists) = done
                        .map_err(|e| StoreError::UnexpectedReply(format!("exists task: {e}")))??;
                    if let Some(slot) = found.get_mut(i) {
                        *slot = exists;
                    }
                }
                found
            }
            _ => {
                let replies: Vec<i64> = self
                    .run(self.options.timeout, |_| {
                        let mut pipe = redis::pipe();
                        for key in &present {
                            pipe.cmd("EXISTS").arg(key.as_str());
                        }
                        pipe
                    })
                    .await?;
                replies.into_iter().map(|n| n == 1).collect()
            }
        };
        let mut found = found.into_iter();
        Ok(keys
            .iter()
            .map(|key| key.is_some() && found.next().unwrap_or(false))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_is_announced_while_a_token_it_denies_may_be_accepted() {
        let issuer = EndWindow {
            access_ttl_seconds: Some(300),
            skew_seconds: 60,
        };
        // A long session ended now: its tokens expire within the access TTL.
        assert_eq!(issuer.until(1_000, 1_000 + 30 * 86_400), 1_000 + 300 + 60);
        // A session expiring sooner than the access TTL: its tokens end with it.
        assert_eq!(issuer.until(1_000, 1_100), 1_100 + 60);
        // Ended after its own expiry (e.g. an expiry detected late): nothing left but the skew.
        assert_eq!(issuer.until(1_000, 900), 1_000 + 60);
        // Without an issuer the tokens may live as long as the session.
        let external = EndWindow {
            access_ttl_seconds: None,
            skew_seconds: 60,
        };
        assert_eq!(external.until(1_000, 1_000 + 86_400), 1_000 + 86_400 + 60);
        assert_eq!(external.until(1_000, 900), 1_060);
        // No overflow at the edges.
        let huge = EndWindow {
            access_ttl_seconds: Some(u64::MAX),
            skew_seconds: u64::MAX,
        };
        assert_eq!(huge.until(i64::MAX - 1, i64::MAX), i64::MAX);
    }

    #[test]
    fn outbox_entries_parse_or_are_refused() {
        assert_eq!(
            parse_entry("s".into(), "1700 1800").unwrap(),
            PendingEnd {
                sid: "s".into(),
                ended_at: 1700,
                expires_at: 1800
            }
        );
        for bad in ["", "1700", "x 1", "1 y", "1  2"] {
            assert!(matches!(
                parse_entry("s".into(), bad),
                Err(StoreError::UnexpectedReply(_))
            ));
        }
    }
}
