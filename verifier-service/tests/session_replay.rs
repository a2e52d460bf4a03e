//! Replays random sequences of session operations against the session scripts on a real Redis and
//! checks every answer against a small model of what the scripts are meant to do: creation,
//! refresh with the current token, the immediate predecessor (within and past its retry grace), an
//! older rotated token, a stranger's or a made-up token; RFC 7009 revocation by refresh token;
//! revoke/user; revoke-all; introspection; the check; time passing (with Redis's own expiry of the
//! records emulated at the times the model expects). Besides each answer it checks the record's
//! expiry, the outbox every script-decided end leaves in the user's slot, that no session's end
//! is left there twice, and the feed entry each relayed end becomes (announced only for the access
//! TTL + skew).
//!
//! Deterministic: a seeded PRNG. `make test` runs a few seeds; `WARDEN_REPLAY_SEEDS=N` and
//! `WARDEN_REPLAY_OPS=M` run longer (see fuzz/README.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{test_store_options, unix_now, RedisServer};
use std::collections::{BTreeMap, BTreeSet};
use warden_core::protocol::feed::Change;
use warden_core::Reason;
use warden_verifier::store::feed::FeedRead;
use warden_verifier::store::keys::{outbox_key, rotated_key, UserTag};
use warden_verifier::store::outbox::{EndWindow, PendingEnd};
use warden_verifier::store::sessions::{
    FamilyGrant, NewFamily, RefreshCall, RefreshInfo, RefreshOutcome, RevokeRefreshOutcome,
};
use warden_verifier::store::{UserCheck, UserVerdict};
use warden_verifier::Store;

// An access TTL longer than the idle TTL keeps records past the refresh token's idle expiry, so
// refreshes can find an idle family (and end it) before Redis drops its record.
const ACCESS_TTL: i64 = 30;
const IDLE: i64 = 20;
const GRACE: i64 = 5;
const SKEW: i64 = 20;
const USERS: [&str; 3] = ["ann", "ben", "cy"];
/// Live sessions the replay keeps at most.
const MAX_LIVE: usize = 8;
/// The outbox lives this long past the latest end it holds (see `end_family`).
const OUTBOX_MARGIN: i64 = 86_400;

/// splitmix64: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Debug, Clone)]
struct Session {
    user: usize,
    sid: String,
    created: i64,
    expires_at: i64,
    claims: String,
    rt: String,
    rt_iat: i64,
    rt_idle: i64,
    prev: Option<String>,
    prev_until: i64,
    prev_box: String,
    used: Vec<String>,
    /// When Redis drops the record (its EXPIREAT).
    record_until: i64,
    /// The record exists.
    live: bool,
    /// In the user's sessions index.
    indexed: bool,
    /// Every refresh token ever handed out for it.
    tokens: Vec<String>,
}

#[derive(Default)]
struct Model {
    now: i64,
    not_before: Option<i64>,
    versions: [u64; 3],
    sessions: Vec<Session>,
    /// Ends waiting in each user's outbox: sid → (ended_at, expires_at).
    outbox: [BTreeMap<String, (i64, i64)>; 3],
    /// The outbox key's expected EXPIRETIME while it holds anything.
    outbox_expiry: [Option<i64>; 3],
    /// Every sid whose end a script decided (never twice).
    ended_by_script: BTreeSet<String>,
    counter: u64,
}

impl Model {
    fn fresh(&mut self, what: &str) -> String {
        self.counter += 1;
        format!("{what}-{}", self.counter)
    }

    /// A script ended session `i`: the record goes, the end goes into the outbox.
    fn end(&mut self, i: usize) {
        let now = self.now;
        let s = &mut self.sessions[i];
        assert!(
            self.ended_by_script.insert(s.sid.clone()),
            "{} ended twice",
            s.sid
        );
        s.live = false;
        s.indexed = false;
        let (user, sid, expires_at) = (s.user, s.sid.clone(), s.expires_at);
        self.outbox[user].insert(sid, (now, expires_at));
        let keep = expires_at.max(now) + OUTBOX_MARGIN;
        let expiry = &mut self.outbox_expiry[user];
        *expiry = Some(expiry.map_or(keep, |e| e.max(keep)));
    }

    fn refresh(&mut self, i: usize, h: &str, successor: &str, sealed: &str) -> RefreshOutcome {
        let now = self.now;
        let s = &self.sessions[i];
        if !s.live {
            return RefreshOutcome::Invalid;
        }
        let sub = USERS[s.user].to_owned();
        let kind = if h == s.rt {
            "current"
        } else if s.prev.as_deref() == Some(h) && now < s.prev_until {
            "grace"
        } else if s.prev.as_deref() == Some(h) || s.used.iter().any(|u| u == h) {
            "reuse"
        } else {
            return RefreshOutcome::Invalid;
        };
        if kind == "reuse" {
            self.end(i);
            return RefreshOutcome::ReuseDetected { sub };
        }
        if self.not_before.is_some_and(|nb| s.created <= nb) {
            self.end(i);
            return RefreshOutcome::RevokedAll { sub };
        }
        if now >= s.expires_at || (kind == "current" && now >= s.rt_idle) {
            self.end(i);
            return RefreshOutcome::Expired { sub };
        }
        let grant = FamilyGrant {
            sub,
            version: self.versions[s.user],
            expires_at: s.expires_at,
            claims_json: s.claims.clone(),
        };
        if kind == "grace" {
            return RefreshOutcome::Grace {
                grant,
                sealed: s.prev_box.clone(),
            };
        }
        let s = &mut self.sessions[i];
        s.used.push(h.to_owned());
        s.prev = Some(h.to_owned());
        s.prev_until = now + GRACE;
        s.prev_box = sealed.to_owned();
        s.rt = successor.to_owned();
        s.rt_iat = now;
        s.rt_idle = now + IDLE;
        s.record_until = (now + IDLE).max(now + ACCESS_TTL).min(s.expires_at);
        s.tokens.push(successor.to_owned());
        RefreshOutcome::Rotated(grant)
    }

    fn revoke(&mut self, i: usize, h: &str) -> RevokeRefreshOutcome {
        let s = &self.sessions[i];
        let known = h == s.rt || s.prev.as_deref() == Some(h) || s.used.iter().any(|u| u == h);
        if !s.live || !known {
            return RevokeRefreshOutcome::Unknown;
        }
        let sub = USERS[s.user].to_owned();
        self.end(i);
        RevokeRefreshOutcome::Ended { sub }
    }

    fn introspect(&self, i: usize, h: &str) -> Option<RefreshInfo> {
        let s = &self.sessions[i];
        let exp = s.rt_idle.min(s.expires_at);
        let revoked = self.not_before.is_some_and(|nb| s.created <= nb);
        (s.live && h == s.rt && self.now < exp && !revoked).then(|| RefreshInfo {
            sub: USERS[s.user].to_owned(),
            issued_at: s.rt_iat,
            expires_at: exp,
        })
    }
}

struct Replay {
    store: Store,
    redis: redis::aio::MultiplexedConnection,
    model: Model,
    rng: Rng,
    window: EndWindow,
    feed_cursor: u64,
    seed: u64,
    step: usize,
    /// Answers seen, by kind (printed, to show what a run covered).
    seen: BTreeMap<String, usize>,
}

impl Replay {
    fn tag(user: usize) -> UserTag {
        UserTag::of_sub(USERS[user])
    }

    fn at(&self) -> String {
        format!(
            "seed {} step {} (now {})",
            self.seed, self.step, self.model.now
        )
    }

    async fn expiretime(&mut self, key: &str) -> i64 {
        redis::cmd("EXPIRETIME")
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .unwrap()
    }

    /// A token to present for session `i`: mostly its own (current, predecessor, older), else a
    /// stranger's or a made-up one.
    fn pick_token(&mut self, i: usize) -> String {
        let s = &self.model.sessions[i];
        match self.rng.below(10) {
            0..=3 => s.rt.clone(),
            4..=5 => s.prev.clone().unwrap_or_else(|| s.rt.clone()),
            6..=7 => {
                let n = s.tokens.len();
                s.tokens[self.rng.below(n)].clone()
            }
            8 => {
                let other = self.rng.below(self.model.sessions.len());
                self.model.sessions[other].rt.clone()
            }
            _ => self.model.fresh("made-up"),
        }
    }

    async fn create(&mut self) {
        let user = self.rng.below(USERS.len());
        let tag = Self::tag(user);
        let now = self.model.now;
        let ttl = 20 + self.rng.below(400) as i64;
        self.model.counter += 1;
        let sid = format!("{:0>22}.{}", self.model.counter, tag.as_str());
        let rt = self.model.fresh("rt");
        let claims = format!("{{\"n\":{}}}", self.model.counter);
        let expires_at = now + ttl;
        let record_until = (now + IDLE).max(now + ACCESS_TTL).min(expires_at);
        let version = self
            .store
            .create_session_with_refresh(&NewFamily {
                tag: &tag,
                sid: &sid,
                sub: USERS[user],
                device: None,
                now,
                expires_at,
                refresh_hash: &rt,
                refresh_idle_until: now + IDLE,
                record_until,
                claims_json: &claims,
            })
            .await
            .unwrap();
        assert_eq!(version, self.model.versions[user], "{}", self.at());
        for s in self.model.sessions.iter_mut() {
            if s.user == user && s.expires_at <= now {
                s.indexed = false;
            }
        }
        self.model.sessions.push(Session {
            user,
            sid,
            created: now,
            expires_at,
            claims,
            rt: rt.clone(),
            rt_iat: now,
            rt_idle: now + IDLE,
            prev: None,
            prev_until: 0,
            prev_box: String::new(),
            used: Vec::new(),
            record_until,
            live: true,
            indexed: true,
            tokens: vec![rt],
        });
    }

    async fn refresh(&mut self, i: usize) {
        let h = self.pick_token(i);
        let successor = self.model.fresh("rt");
        let sealed = self.model.fresh("box");
        let s = self.model.sessions[i].clone();
        let tag = Self::tag(s.user);
        let now = self.model.now;
        let got = self
            .store
            .refresh(&RefreshCall {
                tag: &tag,
                sid: &s.sid,
                presented_hash: &h,
                successor_hash: &successor,
                successor_sealed: &sealed,
                now,
                now_ms: now * 1000,
                idle_ttl_seconds: IDLE as u64,
                retry_grace_seconds: GRACE as u64,
                retry_max_uses: 0,
                access_ttl_seconds: ACCESS_TTL as u64,
                not_before: self.model.not_before,
                rate_per_minute: 0,
            })
            .await
            .unwrap();
        let want = self.model.refresh(i, &h, &successor, &sealed);
        assert_eq!(got, want, "refresh of {} with {h}: {}", s.sid, self.at());
        let kind = format!("{got:?}");
        let kind = kind.split([' ', '(']).next().unwrap_or_default();
        *self.seen.entry(format!("refresh {kind}")).or_default() += 1;
        if matches!(got, RefreshOutcome::Rotated(_)) {
            let key = tag.session_key(&s.sid);
            let want = self.model.sessions[i].record_until;
            assert_eq!(
                self.expiretime(&key).await,
                want,
                "record expiry: {}",
                self.at()
            );
        }
    }

    async fn revoke(&mut self, i: usize) {
        let h = self.pick_token(i);
        let s = self.model.sessions[i].clone();
        let tag = Self::tag(s.user);
        let got = self
            .store
            .revoke_refresh_family(&tag, &s.sid, &h, self.model.now * 1000, 0)
            .await
            .unwrap();
        let want = self.model.revoke(i, &h);
        assert_eq!(got, want, "revoke of {} with {h}: {}", s.sid, self.at());
        let kind = format!("{got:?}");
        let kind = kind.split([' ', '(']).next().unwrap_or_default();
        *self.seen.entry(format!("revoke {kind}")).or_default() += 1;
    }

    async fn revoke_user(&mut self) {
        let user = self.rng.below(USERS.len());
        let got = self
            .store
            .revoke_user(&Self::tag(user), self.model.now)
            .await
            .unwrap();
        self.model.versions[user] += 1;
        let mut want: Vec<(String, i64)> = Vec::new();
        for s in self.model.sessions.iter_mut().filter(|s| s.user == user) {
            if s.indexed {
                want.push((s.sid.clone(), s.expires_at));
                s.live = false;
                s.indexed = false;
            }
        }
        let mut ended = got.sessions.clone();
        ended.sort();
        want.sort();
        assert_eq!(got.version, self.model.versions[user], "{}", self.at());
        assert_eq!(ended, want, "revoke/user {}: {}", USERS[user], self.at());
    }

    async fn introspect(&mut self, i: usize) {
        let h = self.pick_token(i);
        let s = self.model.sessions[i].clone();
        let got = self
            .store
            .introspect_refresh(
                &Self::tag(s.user),
                &s.sid,
                &h,
                self.model.now,
                self.model.not_before,
            )
            .await
            .unwrap();
        assert_eq!(got, self.model.introspect(i, &h), "{}", self.at());
        let kind = if got.is_some() { "active" } else { "inactive" };
        *self.seen.entry(format!("introspect {kind}")).or_default() += 1;
    }

    async fn check(&mut self, i: usize) {
        let s = self.model.sessions[i].clone();
        let (verdict, _) = self
            .store
            .check(
                &UserCheck {
                    tag: &Self::tag(s.user),
                    sub: USERS[s.user],
                    jti: Some("j"),
                    version: Some(self.model.versions[s.user]),
                    iat: None,
                    sid: Some(&s.sid),
                    idp_session: None,
                    now: self.model.now,
                    last_seen_interval_seconds: 5,
                },
                false,
            )
            .await
            .unwrap();
        let want = if s.live {
            UserVerdict::Allow
        } else {
            UserVerdict::Deny(Reason::SessionMissing)
        };
        assert_eq!(verdict, want, "check of {}: {}", s.sid, self.at());
        *self.seen.entry(format!("check {verdict:?}")).or_default() += 1;
    }

    /// Time passes; Redis drops the records whose expiry passed (emulated, since the replay's
    /// clock runs ahead of Redis's), after checking each expiry is the one the model expects.
    async fn advance(&mut self) {
        let step = if self.rng.chance(5) {
            30 + self.rng.below(200)
        } else {
            self.rng.below(7)
        };
        self.model.now += step as i64;
        for i in 0..self.model.sessions.len() {
            let s = self.model.sessions[i].clone();
            if s.live && self.model.now >= s.record_until {
                let key = Self::tag(s.user).session_key(&s.sid);
                assert_eq!(self.expiretime(&key).await, s.record_until, "{}", self.at());
                let _: () = redis::cmd("DEL")
                    .arg(&key)
                    .arg(rotated_key(&Self::tag(s.user), &s.sid))
                    .query_async(&mut self.redis)
                    .await
                    .unwrap();
                self.model.sessions[i].live = false;
                *self.seen.entry("expired by redis".into()).or_default() += 1;
            }
        }
    }

    /// Compares each user's outbox with the model and, now and then, relays it to the feed the
    /// way the verifier does (append first, then clear), checking the entries the feed got.
    async fn outboxes(&mut self, relay: bool) {
        for (user, name) in USERS.iter().enumerate() {
            let tag = Self::tag(user);
            let stored: BTreeMap<String, (i64, i64)> = self
                .store
                .read_outbox(&tag)
                .await
                .unwrap()
                .into_iter()
                .map(
                    |PendingEnd {
                         sid,
                         ended_at,
                         expires_at,
                     }| (sid, (ended_at, expires_at)),
                )
                .collect();
            assert_eq!(
                stored,
                self.model.outbox[user],
                "outbox of {}: {}",
                name,
                self.at()
            );
            if stored.is_empty() {
                continue;
            }
            let key = outbox_key(&tag);
            let want = self.model.outbox_expiry[user];
            assert_eq!(
                Some(self.expiretime(&key).await),
                want,
                "outbox expiry: {}",
                self.at()
            );
            if !relay {
                continue;
            }
            let mut changes = Vec::new();
            for (sid, (ended_at, expires_at)) in &stored {
                let until = self.window.until(*ended_at, *expires_at);
                assert!(
                    until <= ended_at + ACCESS_TTL + SKEW,
                    "{sid}: {}",
                    self.at()
                );
                changes.push(Change::Session {
                    sid: sid.clone(),
                    until,
                });
            }
            *self.seen.entry("ends relayed".into()).or_default() += changes.len();
            self.store
                .append_feed(&changes, self.model.now)
                .await
                .unwrap();
            let sids: Vec<String> = stored.keys().cloned().collect();
            self.store.clear_outbox(&tag, &sids).await.unwrap();
            self.model.outbox[user].clear();
            self.model.outbox_expiry[user] = None;
            let FeedRead::Changes { entries: list, .. } = self
                .store
                .read_feed(self.feed_cursor, None, 1000)
                .await
                .unwrap()
            else {
                panic!("feed cursor gone: {}", self.at())
            };
            let fed: Vec<Change> = list.iter().map(|e| e.change.clone()).collect();
            assert_eq!(fed, changes, "{}", self.at());
            self.feed_cursor = list.last().map_or(self.feed_cursor, |e| e.seq);
        }
    }

    /// A session to act on: mostly a live one, sometimes any (ended ones included).
    fn pick_session(&mut self) -> usize {
        let live: Vec<usize> = (0..self.model.sessions.len())
            .filter(|&i| self.model.sessions[i].live)
            .collect();
        if !live.is_empty() && self.rng.chance(85) {
            live[self.rng.below(live.len())]
        } else {
            self.rng.below(self.model.sessions.len())
        }
    }

    async fn step(&mut self) {
        let live = self.model.sessions.iter().filter(|s| s.live).count();
        let roll = self.rng.below(100);
        match roll {
            _ if live < 2 => self.create().await,
            0..=11 if live < MAX_LIVE => self.create().await,
            0..=49 => {
                let i = self.pick_session();
                self.refresh(i).await;
            }
            50..=59 => {
                let i = self.pick_session();
                self.revoke(i).await;
            }
            60..=61 => self.revoke_user().await,
            62 => self.model.not_before = Some(self.model.now),
            63..=70 => {
                let i = self.pick_session();
                self.introspect(i).await;
            }
            71..=78 => {
                let i = self.pick_session();
                self.check(i).await;
            }
            _ => self.advance().await,
        }
        let relay = self.rng.chance(30);
        self.outboxes(relay).await;
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
async fn the_session_scripts_match_the_model_on_random_sequences() {
    let seeds = env_number("WARDEN_REPLAY_SEEDS", 4);
    let ops = env_number("WARDEN_REPLAY_OPS", 400) as usize;
    let redis = RedisServer::start();
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 1..=seeds {
        let mut conn = redis.connection().await;
        let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await.unwrap();
        let store = Store::new(
            redis::Client::open(redis.url()).unwrap(),
            test_store_options(),
        )
        .unwrap();
        let feed_cursor = store
            .append_feed(&[Change::NotBefore { not_before: 1 }], unix_now())
            .await
            .unwrap();
        let mut replay = Replay {
            store,
            redis: conn,
            // Ahead of Redis's clock, so no record expires by Redis itself during the replay.
            model: Model {
                now: unix_now() + 1000,
                ..Model::default()
            },
            rng: Rng(seed),
            window: EndWindow {
                access_ttl_seconds: Some(ACCESS_TTL as u64),
                skew_seconds: SKEW as u64,
            },
            feed_cursor,
            seed,
            step: 0,
            seen: BTreeMap::new(),
        };
        for step in 0..ops {
            replay.step = step;
            replay.step().await;
        }
        replay.outboxes(true).await;
        *totals.entry("sessions".into()).or_default() += replay.model.sessions.len();
        *totals.entry("ended by a script".into()).or_default() +=
            replay.model.ended_by_script.len();
        for (kind, n) in replay.seen {
            *totals.entry(kind).or_default() += n;
        }
    }
    println!("replayed {seeds} seeds × {ops} operations: {totals:?}");
}
