//! Target `feed_view`: stream mode's revocation view (`RevocationView`) fed by a model of the
//! verifier's feed, through appends, saves and rollbacks (Redis losing its last writes: numbers
//! given again, with new ids), trims, total loss, polls sent and answered later, answers with
//! gaps or foreign cursors, failed polls, view restarts and time passing. Each input byte picks
//! an operation; the bytes after it its arguments.
//!
//! Each revocation is one of three kinds, by its number: a jti (`revoked`), a user's not-before
//! (a token without `ver` issued at it: `user_revoked`) or an identity provider's session (a token
//! of that issuer with that `sid`: `session_revoked`; every answer lists the issuer).
//!
//! Oracles (checked after every operation), while the view is trusted: every revocation the
//! model's feed holds (and live) continuously since before the send of the poll whose answer
//! last confirmed the view denies its token with its reason; and so does every one held since at
//! least `max_staleness_ms` ago. A rollback takes away what was written after the save (so those are no longer "held");
//! what is acknowledged after it must reach the view like anything else. The model verifier answers as
//! the real one does (changes only when the feed holds the cursor's entry with the cursor's id,
//! else a snapshot); some answers are corrupted (a gap, another `after`, another `after_id`, or
//! the cursor checked by its number alone) and must be refused.

use super::input::Input;
use super::seeds::Seeds;
use std::collections::BTreeMap;
use warden_core::protocol::feed::{
    Change, Changes, FeedEntry, PollAnswer, RevokedIdpSession, RevokedJti, Snapshot, UserVersion,
};
use warden_core::protocol::{CheckRequest, Verdict};
use warden_core::revocation_view::RevocationView;
use warden_core::Reason;

const T0_MS: u64 = 1_800_000_000_000;
const STALENESS_MS: u64 = 1000;
const MAX_ENTRIES: usize = 64;
const JTIS: u8 = 16;
const SUB: &str = "u";
const IDP: &str = "https://idp.example";

/// Until of revocation `j` (unix s): even ones for good, odd ones lapse within the first minute.
fn until(j: u8) -> Option<i64> {
    (j % 2 == 1).then(|| (T0_MS / 1000) as i64 + 5 + 3 * i64::from(j))
}

fn jti_name(j: u8) -> String {
    format!("j{j}")
}

/// What revocation `j` revokes: `j % 4 == 2` a user (for good), `j % 4 == 3` an identity
/// provider's session (it lapses), the others a jti of `SUB`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jti,
    User,
    IdpSession,
}

fn kind(j: u8) -> Kind {
    match j % 4 {
        2 => Kind::User,
        3 => Kind::IdpSession,
        _ => Kind::Jti,
    }
}

fn user_name(j: u8) -> String {
    format!("user{j}")
}

fn idp_sid(j: u8) -> String {
    format!("idp-s-{j}")
}

/// The not-before revocation `j` gives its user (unix s).
fn user_not_before(j: u8) -> i64 {
    (T0_MS / 1000) as i64 + i64::from(j)
}

fn change_of(j: u8) -> Change {
    match kind(j) {
        Kind::Jti => Change::Jti {
            sub: SUB.into(),
            jti: jti_name(j),
            until: until(j),
        },
        Kind::User => Change::User {
            sub: user_name(j),
            version: 0,
            not_before: Some(user_not_before(j)),
        },
        Kind::IdpSession => Change::IdpSession {
            iss: IDP.into(),
            sid: idp_sid(j),
            until: until(j).unwrap_or(i64::MAX),
        },
    }
}

/// A token revocation `j` denies, and the reason.
fn denied_token(j: u8, now_secs: i64) -> (CheckRequest, Reason) {
    let mut request = CheckRequest {
        sub: SUB.into(),
        jti: Some(jti_name(j)),
        sid: None,
        ver: None,
        iat: Some(now_secs),
        exp: now_secs + 1_000_000,
        iss: None,
    };
    match kind(j) {
        Kind::Jti => (request, Reason::Revoked),
        Kind::User => {
            request.sub = user_name(j);
            request.jti = None;
            request.iat = Some(user_not_before(j));
            (request, Reason::UserRevoked)
        }
        Kind::IdpSession => {
            request.iss = Some(IDP.into());
            request.sid = Some(idp_sid(j));
            (request, Reason::SessionRevoked)
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    id: String,
    /// The revocation it announces (see [`kind`]).
    jti: u8,
}

/// The feed as Redis holds it.
#[derive(Clone, Debug)]
struct Feed {
    head: u64,
    head_id: Option<String>,
    log: Vec<Entry>,
    /// Revoked jti → since when (model ms, operation number) it has been held without a break.
    revoked: BTreeMap<u8, (u64, u64)>,
}

struct Model {
    feed: Feed,
    /// The last save (what a rollback returns to).
    saved: Option<Feed>,
    next_id: u64,
    now: u64,
    view: RevocationView,
    in_flight: Option<InFlight>,
    /// The operation being run (a logical clock: an append in the same ms as a send may still
    /// come after it).
    step: u64,
    /// The operation number of the send of the poll whose answer last confirmed the view.
    confirmed_step: Option<u64>,
}

/// The poll in flight.
enum InFlight {
    /// Sent at `sent`, not read by the verifier yet.
    Sent {
        after: Option<u64>,
        after_id: Option<String>,
        sent: u64,
        sent_step: u64,
    },
    /// Read (the answer is on its way back).
    Read {
        body: Vec<u8>,
        sent: u64,
        sent_step: u64,
    },
}

fn parse_poll(path: &str) -> (Option<u64>, Option<String>) {
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let mut after = None;
    let mut after_id = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("after", v)) => after = v.parse().ok(),
            Some(("after_id", v)) => after_id = Some(v.to_owned()),
            _ => {}
        }
    }
    (after, after_id)
}

impl Model {
    fn new() -> Model {
        Model {
            feed: Feed {
                head: 0,
                head_id: None,
                log: Vec::new(),
                revoked: BTreeMap::new(),
            },
            saved: None,
            next_id: 0,
            now: T0_MS,
            view: RevocationView::new(STALENESS_MS, MAX_ENTRIES),
            in_flight: None,
            step: 0,
            confirmed_step: None,
        }
    }

    fn append(&mut self, j: u8) {
        if self.feed.head == 0 {
            // A new counter starts at the time in ms × 1000, as the verifier's does.
            self.feed.head = self.now * 1000;
        }
        self.next_id += 1;
        let entry = Entry {
            seq: self.feed.head + 1,
            id: format!("e{}", self.next_id),
            jti: j,
        };
        self.feed.head = entry.seq;
        self.feed.head_id = Some(entry.id.clone());
        self.feed.log.push(entry);
        self.feed.revoked.entry(j).or_insert((self.now, self.step));
    }

    fn snapshot(&self) -> Snapshot {
        let now_secs = (self.now / 1000) as i64;
        let held = |k: Kind| {
            self.feed
                .revoked
                .keys()
                .copied()
                .filter(move |j| kind(*j) == k && until(*j).is_none_or(|u| u > now_secs))
        };
        Snapshot {
            seq: self.feed.head,
            id: self.feed.head_id.clone(),
            skew_seconds: 300,
            not_before: None,
            jtis: held(Kind::Jti)
                .map(|j| RevokedJti {
                    sub: SUB.into(),
                    jti: jti_name(j),
                    until: until(j),
                })
                .collect(),
            users: held(Kind::User)
                .map(|j| UserVersion {
                    sub: user_name(j),
                    version: 0,
                    not_before: Some(user_not_before(j)),
                })
                .collect(),
            sessions: vec![],
            live: vec![],
            idp_issuers: vec![IDP.into()],
            idp_sessions: held(Kind::IdpSession)
                .map(|j| RevokedIdpSession {
                    iss: IDP.into(),
                    sid: idp_sid(j),
                    until: until(j).unwrap_or(i64::MAX),
                })
                .collect(),
        }
    }

    /// The id the feed holds for entry `seq`: `Some(None)` when the entry exists without one,
    /// `None` when the feed does not hold it.
    fn held(&self, seq: u64) -> Option<Option<String>> {
        if let Some(e) = self.feed.log.iter().find(|e| e.seq == seq) {
            return Some(Some(e.id.clone()));
        }
        (seq == self.feed.head).then(|| self.feed.head_id.clone())
    }

    fn changes_after(&self, after: u64, after_id: Option<String>) -> PollAnswer {
        let changes: Vec<FeedEntry> = self
            .feed
            .log
            .iter()
            .filter(|e| e.seq > after)
            .map(|e| FeedEntry {
                seq: e.seq,
                id: Some(e.id.clone()),
                change: change_of(e.jti),
            })
            .collect();
        let seq = changes.last().map_or(after, |e| e.seq);
        PollAnswer::Changes(Changes {
            after,
            after_id,
            seq,
            changes,
            idp_issuers: vec![IDP.into()],
        })
    }

    /// The verifier's answer to a poll, read now. `by_number`: the cursor is checked by its
    /// number alone (no id check), and the feed's own id is sent back.
    fn answer(&self, after: Option<u64>, after_id: Option<&str>, by_number: bool) -> PollAnswer {
        let Some(after) = after else {
            return PollAnswer::Snapshot(self.snapshot());
        };
        // The log is contiguous up to the head: a seq it holds is followed by all the rest.
        match self.held(after) {
            Some(held) if by_number || after_id.is_none_or(|w| held.as_deref() == Some(w)) => {
                self.changes_after(after, held)
            }
            _ => PollAnswer::Snapshot(self.snapshot()),
        }
    }

    fn send(&mut self) {
        let (after, after_id) = parse_poll(&self.view.poll_path("/f"));
        self.in_flight = Some(InFlight::Sent {
            after,
            after_id,
            sent: self.now,
            sent_step: self.step,
        });
    }

    /// Variant 6 reads the answer now and leaves it in flight (it arrives on a later delivery,
    /// after whatever happens in between); 5 loses it; 1 to 4 corrupt it.
    fn deliver(&mut self, variant: u8) {
        let (after, after_id, sent, sent_step) = match self.in_flight.take() {
            None => return,
            Some(InFlight::Read {
                body,
                sent,
                sent_step,
            }) => {
                self.apply(&body, sent, sent_step);
                return;
            }
            Some(InFlight::Sent {
                after,
                after_id,
                sent,
                sent_step,
            }) => (after, after_id, sent, sent_step),
        };
        let by_number = variant == 1;
        let mut answer = self.answer(after, after_id.as_deref(), by_number);
        if let PollAnswer::Changes(c) = &mut answer {
            match variant {
                2 if c.changes.len() >= 2 => {
                    c.changes.remove(c.changes.len() / 2);
                }
                2 => {
                    for e in &mut c.changes {
                        e.seq += 1;
                    }
                    c.seq += 1;
                }
                3 => c.after = c.after.wrapping_sub(1),
                4 => c.after_id = Some("other".into()),
                _ => {}
            }
        }
        if variant == 5 {
            return; // no answer
        }
        let Ok(body) = serde_json::to_vec(&answer) else {
            return;
        };
        if variant == 6 {
            self.in_flight = Some(InFlight::Read {
                body,
                sent,
                sent_step,
            });
            return;
        }
        self.apply(&body, sent, sent_step);
    }

    fn apply(&mut self, body: &[u8], sent: u64, sent_step: u64) {
        if self.view.apply_body(body, sent, self.now).is_ok() {
            self.confirmed_step = Some(sent_step);
        }
    }

    fn check(&self) {
        if !self.view.trusted(self.now) {
            return;
        }
        let now_secs = (self.now / 1000) as i64;
        for (j, (since, since_step)) in &self.feed.revoked {
            let live = until(*j).is_none_or(|u| u > now_secs);
            let confirmed = self.confirmed_step.is_some_and(|c| *since_step < c);
            let old = since.saturating_add(STALENESS_MS) <= self.now;
            if !live || !(confirmed || old) {
                continue;
            }
            let (request, reason) = denied_token(*j, now_secs);
            assert_eq!(
                self.view.decide(&request, self.now),
                Some(Verdict::Deny(reason)),
                "revocation {j} held since {since} (now {}) but the trusted view allows it; \
                 cursor {:?}/{:?}, feed head {} {:?}",
                self.now,
                self.view.cursor(),
                self.view.cursor_id(),
                self.feed.head,
                self.feed.head_id,
            );
        }
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mut model = Model::new();
    for step in 0..512 {
        let &[op] = input.take(1) else {
            break;
        };
        model.step = step;
        match op % 10 {
            0 => {
                for _ in 0..=(input.byte() % 3) {
                    let j = input.byte() % JTIS;
                    model.append(j);
                }
            }
            1 => model.saved = Some(model.feed.clone()),
            2 => {
                if let Some(saved) = &model.saved {
                    model.feed = saved.clone();
                }
            }
            3 => {
                // Trimmed to the last k entries (0: all; the head's id stays in its own key).
                let keep = usize::from(input.byte() % 4);
                let len = model.feed.log.len();
                model.feed.log.drain(..len.saturating_sub(keep));
            }
            4 => {
                // Everything lost (a restart with no data, and no save to go back to).
                model.feed = Feed {
                    head: 0,
                    head_id: None,
                    log: Vec::new(),
                    revoked: BTreeMap::new(),
                };
                model.saved = None;
            }
            5 => {
                if model.in_flight.is_none() {
                    model.send();
                }
            }
            6 => {
                let variant = input.byte() % 8;
                model.deliver(variant);
            }
            7 => model.now += u64::from(input.byte()) * 8,
            8 => {
                model.view = RevocationView::new(STALENESS_MS, MAX_ENTRIES);
                model.in_flight = None;
                model.confirmed_step = None;
            }
            _ => {
                // Poll and answer at once (the common case), after a short wait.
                model.send();
                model.now += u64::from(input.byte() % 16);
                model.deliver(0);
            }
        }
        model.check();
    }
}

/// An operation of a seed, encoded as `run` reads it.
enum Op {
    /// 1 to 3 jtis revoked in one append.
    Append(&'static [u8]),
    Save,
    Rollback,
    /// Trim the log to its last N entries.
    Trim(u8),
    Wipe,
    Send,
    /// Answer the poll in flight (0 correct, 1 by number alone, 2 gap, 3 another `after`,
    /// 4 another `after_id`, 5 lost, 6 read now and delivered by the next `Deliver`).
    Deliver(u8),
    /// Time passes: N × 8 ms.
    Wait(u8),
    Restart,
    /// Poll and answer at once.
    Poll,
}

fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Append(js) => {
                out.push(0);
                out.push(u8::try_from(js.len().saturating_sub(1)).unwrap_or(0));
                out.extend_from_slice(js);
            }
            Op::Save => out.push(1),
            Op::Rollback => out.push(2),
            Op::Trim(keep) => out.extend([3, *keep]),
            Op::Wipe => out.push(4),
            Op::Send => out.push(5),
            Op::Deliver(variant) => out.extend([6, *variant]),
            Op::Wait(n) => out.extend([7, *n]),
            Op::Restart => out.push(8),
            Op::Poll => out.extend([9, 0]),
        }
    }
    out
}

/// Seeds: meaningful runs.
pub fn seeds() -> Seeds {
    use Op::*;
    // The finding: the cursor passes two entries, Redis goes back to the save, three new
    // entries reuse the numbers, and the poll sent before the loss is answered after it.
    let rollback = |variant: u8| {
        vec![
            Poll,
            Append(&[0]),
            Save,
            Append(&[2, 4]),
            Poll,
            Send,
            Rollback,
            Append(&[6, 8, 10]),
            Deliver(variant),
            Wait(200),
            Poll,
            Wait(200),
            Poll,
        ]
    };
    let runs: Vec<(&str, Vec<Op>)> = vec![
        (
            "sync-and-revoke",
            vec![Poll, Append(&[2]), Poll, Wait(200), Poll],
        ),
        ("rollback-reused-seq", rollback(0)),
        ("rollback-number-only-verifier", rollback(1)),
        (
            "rollback-late-answer",
            rollback(6)
                .into_iter()
                .chain([Deliver(0), Wait(100), Poll])
                .collect(),
        ),
        (
            "gap",
            vec![
                Poll,
                Append(&[0, 2, 4]),
                Send,
                Deliver(2),
                Wait(100),
                Poll,
                Wait(200),
            ],
        ),
        (
            "foreign-after-id",
            vec![Poll, Append(&[2]), Send, Deliver(4), Poll, Wait(250)],
        ),
        (
            "off-by-one-after",
            vec![Poll, Append(&[2]), Send, Deliver(3), Poll],
        ),
        // Read at once, delivered 800 ms later: it confirms the view as of its send only.
        (
            "slow-answer",
            vec![
                Poll,
                Send,
                Deliver(6),
                Append(&[0]),
                Wait(100),
                Deliver(0),
                Wait(30),
                Poll,
            ],
        ),
        (
            "trim-and-wipe",
            vec![
                Poll,
                Append(&[2]),
                Poll,
                Trim(0),
                Poll,
                Wipe,
                Append(&[0, 4]),
                Poll,
                Wait(200),
                Poll,
            ],
        ),
        (
            "restart-view",
            vec![
                Poll,
                Append(&[2]),
                Restart,
                Send,
                Append(&[4]),
                Deliver(0),
                Poll,
            ],
        ),
        (
            "lapse",
            vec![
                Poll,
                Append(&[1, 3]),
                Save,
                Poll,
                Wait(255),
                Wait(255),
                Poll,
                Wait(255),
                Poll,
            ],
        ),
    ];
    runs.into_iter()
        .map(|(name, ops)| (name.to_owned(), encode(&ops)))
        .collect()
}
