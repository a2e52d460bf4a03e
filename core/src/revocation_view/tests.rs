use super::*;
use crate::protocol::feed::*;

const T0: i64 = 1_800_000_000;

/// Unix ms of `secs` + `ms`.
fn now(secs: i64, ms: u64) -> u64 {
    u64::try_from(secs).unwrap() * 1000 + ms
}

fn request(sub: &str, jti: &str) -> CheckRequest {
    CheckRequest {
        sub: sub.into(),
        jti: Some(jti.into()),
        sid: None,
        ver: None,
        iat: Some(T0 - 10),
        exp: T0 + 600,
        iss: None,
    }
}

fn snapshot(seq: u64) -> Snapshot {
    Snapshot {
        seq,
        id: None,
        skew_seconds: 300,
        not_before: None,
        jtis: vec![],
        users: vec![],
        sessions: vec![],
        live: vec![],
        idp_issuers: Vec::new(),
        idp_sessions: Vec::new(),
    }
}

fn changes(after: u64, list: Vec<Change>) -> PollAnswer {
    let changes: Vec<FeedEntry> = list
        .into_iter()
        .zip(after + 1..)
        .map(|(change, seq)| FeedEntry {
            seq,
            id: None,
            change,
        })
        .collect();
    let seq = after + changes.len() as u64;
    PollAnswer::Changes(Changes {
        after,
        after_id: None,
        seq,
        changes,
        idp_issuers: Vec::new(),
    })
}

impl RevocationView {
    /// An answer that arrived as soon as its poll was sent.
    fn apply_now(&mut self, answer: PollAnswer, at_ms: u64) -> Result<Applied, ViewError> {
        self.apply(answer, at_ms, at_ms)
    }

    fn apply_body_now(&mut self, body: &[u8], at_ms: u64) -> Result<Applied, ViewError> {
        self.apply_body(body, at_ms, at_ms)
    }
}

fn synced(seq: u64) -> RevocationView {
    let mut view = RevocationView::new(1000, 100);
    view.apply_now(PollAnswer::Snapshot(snapshot(seq)), now(T0, 0))
        .unwrap();
    view
}

fn sid_of(sub: &str) -> String {
    format!("{}.{}", "A".repeat(22), user_tag(sub))
}

#[test]
fn untrusted_until_synchronised_and_after_staleness() {
    let mut view = RevocationView::new(1000, 100);
    assert_eq!(view.decide(&request("a", "j"), now(T0, 0)), None);
    view.apply_now(PollAnswer::Snapshot(snapshot(5)), now(T0, 0))
        .unwrap();
    assert_eq!(
        view.decide(&request("a", "j"), now(T0, 999)),
        Some(Verdict::Allow)
    );
    assert_eq!(view.decide(&request("a", "j"), now(T0, 1000)), None);
    // An empty answer confirms it again.
    view.apply_now(changes(5, vec![]), now(T0 + 1, 500))
        .unwrap();
    assert_eq!(
        view.decide(&request("a", "j"), now(T0 + 1, 600)),
        Some(Verdict::Allow)
    );
    // A clock that went back is not a confirmation.
    assert_eq!(view.decide(&request("a", "j"), now(T0, 0)), None);
}

#[test]
fn same_answers_as_the_verifier() {
    let mut view = synced(1);
    let sub = "alice";
    view.apply_now(
        changes(
            1,
            vec![
                Change::Jti {
                    sub: sub.into(),
                    jti: "gone".into(),
                    until: Some(T0 + 900),
                },
                Change::User {
                    sub: sub.into(),
                    version: 3,
                    not_before: None,
                },
                Change::Session {
                    sid: sid_of(sub),
                    until: T0 + 900,
                },
            ],
        ),
        now(T0, 10),
    )
    .unwrap();
    let at = now(T0, 20);
    let deny = |r| Some(Verdict::Deny(r));
    let mut r = request(sub, "gone");
    r.ver = Some(3);
    assert_eq!(view.decide(&r, at), deny(Reason::Revoked));
    // The jti is per user, as in the verifier's key layout.
    let mut other = request("bob", "gone");
    other.ver = Some(0);
    assert_eq!(view.decide(&other, at), Some(Verdict::Allow));
    let mut r = request(sub, "kept");
    r.ver = Some(2);
    assert_eq!(view.decide(&r, at), deny(Reason::StaleVersion));
    // A token without `ver` is judged by the user's not-before; a version without one is a
    // revocation from before not-befores, whose moment is unknown: refused, as check.lua does.
    r.ver = None;
    assert_eq!(view.decide(&r, at), deny(Reason::UserRevoked));
    r.ver = Some(3);
    assert_eq!(view.decide(&r, at), Some(Verdict::Allow));
    r.sid = Some(sid_of(sub));
    assert_eq!(view.decide(&r, at), deny(Reason::SessionMissing));
    // An own-slot sid the view does not know to be live: the verifier decides.
    r.sid = Some(format!("{}.{}", "B".repeat(22), user_tag(sub)));
    assert_eq!(view.decide(&r, at), None);
    r.sid = Some("no-such-session".into());
    assert_eq!(view.decide(&r, at), deny(Reason::SessionMissing));
    // Another user's sid: only the verifier knows whether it exists.
    r.sid = Some(sid_of("bob"));
    assert_eq!(view.decide(&r, at), None);
    // Past exp + the verifier's skew.
    let mut old = request(sub, "kept");
    old.ver = Some(3);
    old.exp = T0 - 300;
    assert_eq!(view.decide(&old, at), deny(Reason::TokenExpired));
    old.exp = T0 - 299;
    assert_eq!(view.decide(&old, at), Some(Verdict::Allow));
    old.exp = 0;
    assert_eq!(view.decide(&old, at), Some(Verdict::Allow));
}

#[test]
fn revoke_all_uses_the_verifier_rule() {
    let mut view = synced(1);
    view.apply_now(
        changes(1, vec![Change::NotBefore { not_before: T0 - 5 }]),
        now(T0, 0),
    )
    .unwrap();
    let at = now(T0, 1);
    let mut r = request("a", "j");
    r.iat = Some(T0 - 5);
    assert_eq!(view.decide(&r, at), Some(Verdict::Deny(Reason::RevokedAll)));
    r.iat = None;
    assert_eq!(view.decide(&r, at), Some(Verdict::Deny(Reason::RevokedAll)));
    r.iat = Some(T0 - 4);
    assert_eq!(view.decide(&r, at), Some(Verdict::Allow));
    // Never lowered.
    view.apply_now(
        changes(
            2,
            vec![Change::NotBefore {
                not_before: T0 - 100,
            }],
        ),
        now(T0, 2),
    )
    .unwrap();
    r.iat = Some(T0 - 5);
    assert_eq!(
        view.decide(&r, now(T0, 3)),
        Some(Verdict::Deny(Reason::RevokedAll))
    );
}

#[test]
fn entries_lapse_at_their_until_and_revocations_only_lengthen() {
    let mut view = synced(1);
    let jti = |until| Change::Jti {
        sub: "a".into(),
        jti: "j".into(),
        until,
    };
    view.apply_now(changes(1, vec![jti(Some(T0 + 5))]), now(T0, 0))
        .unwrap();
    view.apply_now(changes(2, vec![jti(Some(T0 + 2))]), now(T0, 1))
        .unwrap();
    let mut r = request("a", "j");
    r.exp = 0;
    assert_eq!(
        view.decide(&r, now(T0 + 4, 0)),
        None,
        "stale by then; confirm first"
    );
    view.apply_now(changes(3, vec![]), now(T0 + 4, 0)).unwrap();
    assert_eq!(
        view.decide(&r, now(T0 + 4, 1)),
        Some(Verdict::Deny(Reason::Revoked))
    );
    view.apply_now(changes(3, vec![]), now(T0 + 5, 0)).unwrap();
    assert_eq!(view.decide(&r, now(T0 + 5, 1)), Some(Verdict::Allow));
    view.apply_now(changes(3, vec![jti(None)]), now(T0 + 5, 2))
        .unwrap();
    view.apply_now(changes(4, vec![jti(Some(T0 + 6))]), now(T0 + 5, 3))
        .unwrap();
    view.apply_now(changes(5, vec![]), now(T0 + 100, 0))
        .unwrap();
    assert_eq!(
        view.decide(&r, now(T0 + 100, 1)),
        Some(Verdict::Deny(Reason::Revoked))
    );
}

#[test]
fn a_gap_or_a_foreign_cursor_loses_trust_and_asks_for_a_snapshot() {
    let mut view = synced(10);
    let gap = PollAnswer::Changes(Changes {
        after: 10,
        after_id: None,
        seq: 12,
        changes: vec![FeedEntry {
            seq: 12,
            id: None,
            change: Change::NotBefore { not_before: 1 },
        }],
        idp_issuers: Vec::new(),
    });
    assert!(matches!(
        view.apply_now(gap, now(T0, 1)),
        Err(ViewError::OutOfSequence { .. })
    ));
    assert_eq!(view.cursor(), None);
    assert_eq!(view.decide(&request("a", "j"), now(T0, 2)), None);
    assert_eq!(
        view.poll_path("/v1/revocations"),
        "/v1/revocations?ids=1&wait_ms=0&max_live=100"
    );

    let mut view = synced(10);
    assert!(view.apply_now(changes(9, vec![]), now(T0, 1)).is_err());
    assert_eq!(view.decide(&request("a", "j"), now(T0, 2)), None);

    // A seq that does not match the last change.
    let mut view = synced(10);
    let mut answer = changes(10, vec![Change::NotBefore { not_before: 1 }]);
    if let PollAnswer::Changes(c) = &mut answer {
        c.seq = 20;
    }
    assert!(view.apply_now(answer, now(T0, 1)).is_err());
}

#[test]
fn malformed_answers_are_not_confirmations() {
    let mut view = synced(3);
    let bodies: [&[u8]; 4] = [
        b"{\"kind\":\"changes\"",
        b"{\"kind\":\"changes\",\"after\":3,\"seq\":4,\"changes\":[{\"seq\":4,\"change\":{\"type\":\"later\"}}]}",
        b"{}",
        b"",
    ];
    for body in bodies {
        assert!(
            matches!(
                view.apply_body_now(body, now(T0 + 5, 0)),
                Err(ViewError::Malformed(_))
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(view.decide(&request("a", "j"), now(T0 + 5, 1)), None);
    }
    // The cursor survives, so the next good answer resumes.
    let ok = br#"{"kind":"changes","after":3,"seq":3,"changes":[]}"#;
    view.apply_body_now(ok, now(T0 + 5, 2)).unwrap();
    assert_eq!(
        view.decide(&request("a", "j"), now(T0 + 5, 3)),
        Some(Verdict::Allow)
    );
}

#[test]
fn past_max_entries_the_view_is_dropped_and_untrusted() {
    let mut view = RevocationView::new(1000, 3);
    let mut s = snapshot(1);
    for i in 0..4 {
        s.users.push(UserVersion {
            sub: format!("u{i}"),
            version: 1,
            not_before: None,
        });
    }
    assert_eq!(
        view.apply_now(PollAnswer::Snapshot(s.clone()), now(T0, 0)),
        Err(ViewError::Overflow(4))
    );
    assert!(view.overflowed());
    assert_eq!(view.decide(&request("a", "j"), now(T0, 1)), None);
    s.users.pop();
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 2)).unwrap();
    assert_eq!(view.len(), 3);
    let mut r = request("u0", "j");
    r.ver = Some(0);
    assert_eq!(
        view.decide(&r, now(T0, 3)),
        Some(Verdict::Deny(Reason::StaleVersion))
    );
    r.ver = Some(1);
    assert_eq!(view.decide(&r, now(T0, 3)), Some(Verdict::Allow));
    // One more by a change: dropped, untrusted, snapshot asked.
    let more = changes(
        1,
        vec![Change::Jti {
            sub: "a".into(),
            jti: "j".into(),
            until: None,
        }],
    );
    assert_eq!(
        view.apply_now(more, now(T0, 4)),
        Err(ViewError::Overflow(4))
    );
    assert_eq!(view.decide(&r, now(T0, 5)), None);
    assert_eq!(view.len(), 0);
    assert_eq!(view.cursor(), None);
}

#[test]
fn snapshots_leave_out_what_has_lapsed() {
    let mut view = RevocationView::new(1000, 2);
    let mut s = snapshot(1);
    s.jtis.push(RevokedJti {
        sub: "a".into(),
        jti: "old".into(),
        until: Some(T0 - 1),
    });
    s.sessions.push(EndedSession {
        sid: "x".into(),
        until: T0,
    });
    s.jtis.push(RevokedJti {
        sub: "a".into(),
        jti: "new".into(),
        until: None,
    });
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 0)).unwrap();
    assert_eq!(view.len(), 1);
}

#[test]
fn poll_paths() {
    let view = synced(42);
    assert_eq!(
        view.poll_path("/v1/revocations"),
        "/v1/revocations?after=42&ids=1&wait_ms=250&max_live=100"
    );
    assert_eq!(
        view.max_answer_bytes(),
        100 * (BYTES_PER_ENTRY + BYTES_PER_LIVE) + BYTES_FOR_IDP_ISSUERS
    );
    let slow = RevocationView::new(3_600_000, 1);
    assert_eq!(slow.wait_ms(), MAX_WAIT_MS);
}

fn start(sid: &str, until: i64) -> Change {
    Change::SessionStart {
        sid: sid.into(),
        until,
    }
}

fn end(sid: &str, until: i64) -> Change {
    Change::Session {
        sid: sid.into(),
        until,
    }
}

fn with_sid(sub: &str, sid: &str) -> CheckRequest {
    let mut r = request(sub, "j");
    r.sid = Some(sid.into());
    r
}

#[test]
fn a_started_session_is_allowed_until_its_record_expires_then_called_out() {
    let mut view = synced(1);
    let sid = sid_of("alice");
    let r = with_sid("alice", &sid);
    assert_eq!(view.decide(&r, now(T0, 1)), None, "unknown: call out");
    view.apply_now(changes(1, vec![start(&sid, T0 + 2)]), now(T0, 2))
        .unwrap();
    assert_eq!(view.decide(&r, now(T0, 3)), Some(Verdict::Allow));
    assert_eq!(view.live_len(), 1);
    assert_eq!(view.len(), 0, "live sessions are not revocation entries");
    // Only for its owner: another user's token naming it is still called out.
    assert_eq!(view.decide(&with_sid("bob", &sid), now(T0, 3)), None);
    // A later start extends it; an earlier one does not shorten it.
    view.apply_now(
        changes(2, vec![start(&sid, T0 + 5), start(&sid, T0 + 3)]),
        now(T0, 4),
    )
    .unwrap();
    view.apply_now(changes(4, vec![]), now(T0 + 4, 0)).unwrap();
    assert_eq!(view.decide(&r, now(T0 + 4, 1)), Some(Verdict::Allow));
    // Past its until the record may be gone: the verifier answers.
    view.apply_now(changes(4, vec![]), now(T0 + 5, 0)).unwrap();
    assert_eq!(view.decide(&r, now(T0 + 5, 1)), None);
    // The other checks still come first.
    view.apply_now(changes(4, vec![start(&sid, T0 + 50)]), now(T0 + 5, 2))
        .unwrap();
    let mut stale = r.clone();
    stale.jti = Some("gone".into());
    view.apply_now(
        changes(
            5,
            vec![Change::Jti {
                sub: "alice".into(),
                jti: "gone".into(),
                until: None,
            }],
        ),
        now(T0 + 5, 3),
    )
    .unwrap();
    assert_eq!(
        view.decide(&stale, now(T0 + 5, 4)),
        Some(Verdict::Deny(Reason::Revoked))
    );
    assert_eq!(view.decide(&r, now(T0 + 5, 4)), Some(Verdict::Allow));
}

#[test]
fn an_end_wins_over_a_start_in_either_order() {
    let deny = Some(Verdict::Deny(Reason::SessionMissing));
    // Started, then ended.
    let mut view = synced(1);
    let sid = sid_of("alice");
    let r = with_sid("alice", &sid);
    view.apply_now(changes(1, vec![start(&sid, T0 + 60)]), now(T0, 0))
        .unwrap();
    view.apply_now(changes(2, vec![end(&sid, T0 + 360)]), now(T0, 1))
        .unwrap();
    assert_eq!(view.decide(&r, now(T0, 2)), deny);
    assert_eq!(view.live_len(), 0);
    // Ended, then a late start announcement.
    let mut view = synced(1);
    view.apply_now(
        changes(1, vec![end(&sid, T0 + 360), start(&sid, T0 + 60)]),
        now(T0, 0),
    )
    .unwrap();
    assert_eq!(view.decide(&r, now(T0, 1)), deny);
    // Both in a snapshot.
    let mut view = RevocationView::new(1000, 10);
    let mut s = snapshot(3);
    s.sessions.push(EndedSession {
        sid: sid.clone(),
        until: T0 + 360,
    });
    s.live.push(LiveSession {
        sid: sid.clone(),
        until: T0 + 60,
    });
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 0)).unwrap();
    assert_eq!(view.decide(&r, now(T0, 1)), deny);
}

#[test]
fn an_end_already_past_its_until_still_ends_a_live_session() {
    let mut view = synced(1);
    let sid = sid_of("alice");
    let r = with_sid("alice", &sid);
    view.apply_now(changes(1, vec![start(&sid, T0 + 600)]), now(T0, 0))
        .unwrap();
    assert_eq!(view.decide(&r, now(T0, 1)), Some(Verdict::Allow));
    // The end arrives after its own until (a filter that was behind): it denies nothing by
    // itself, but the session must not stay live.
    view.apply_now(changes(2, vec![end(&sid, T0 + 5)]), now(T0 + 10, 0))
        .unwrap();
    assert_eq!(view.live_len(), 0);
    assert_eq!(view.decide(&r, now(T0 + 10, 1)), None);
}

#[test]
fn snapshots_carry_live_sessions() {
    let mut view = RevocationView::new(1000, 10);
    let (a, b, c) = (
        sid_of("alice"),
        format!("{}.{}", "C".repeat(22), user_tag("alice")),
        format!("{}.{}", "D".repeat(22), user_tag("alice")),
    );
    let mut s = snapshot(3);
    s.live.push(LiveSession {
        sid: a.clone(),
        until: T0 + 60,
    });
    s.live.push(LiveSession {
        sid: b.clone(),
        until: T0,
    });
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 0)).unwrap();
    assert_eq!(
        view.decide(&with_sid("alice", &a), now(T0, 1)),
        Some(Verdict::Allow)
    );
    assert_eq!(
        view.decide(&with_sid("alice", &b), now(T0, 1)),
        None,
        "lapsed"
    );
    assert_eq!(
        view.decide(&with_sid("alice", &c), now(T0, 1)),
        None,
        "unknown"
    );
    assert_eq!(view.live_len(), 1);
    // A new snapshot replaces the live set too.
    view.apply_now(PollAnswer::Snapshot(snapshot(4)), now(T0, 2))
        .unwrap();
    assert_eq!(view.decide(&with_sid("alice", &a), now(T0, 3)), None);
    // The body without `live` (an older verifier, or `max_live` not asked) still reads.
    let body = br#"{"kind":"snapshot","seq":9,"skew_seconds":300,"not_before":null,"jtis":[],"users":[],"sessions":[]}"#;
    view.apply_body_now(body, now(T0, 4)).unwrap();
    let text = serde_json::to_string(&PollAnswer::Snapshot(snapshot(9))).unwrap();
    assert!(!text.contains("live"), "{text}");
}

#[test]
fn live_sessions_take_only_the_room_revocations_leave_and_never_overflow() {
    let mut view = RevocationView::new(1000, 4);
    let sids: Vec<String> = (0..6)
        .map(|i| {
            format!(
                "{}.{}",
                char::from(b'A' + i).to_string().repeat(22),
                user_tag("alice")
            )
        })
        .collect();
    let mut s = snapshot(1);
    s.users.push(UserVersion {
        sub: "u".into(),
        version: 1,
        not_before: None,
    });
    for (i, sid) in sids.iter().enumerate() {
        s.live.push(LiveSession {
            sid: sid.clone(),
            until: T0 + 100 - i as i64,
        });
    }
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 0)).unwrap();
    assert!(!view.overflowed());
    assert_eq!((view.len(), view.live_len()), (1, 3));
    // The first listed (latest-expiring) are kept; the others are called out.
    let r = |i: usize| with_sid("alice", &sids[i]);
    assert_eq!(view.decide(&r(0), now(T0, 1)), Some(Verdict::Allow));
    assert_eq!(view.decide(&r(2), now(T0, 1)), Some(Verdict::Allow));
    assert_eq!(view.decide(&r(3), now(T0, 1)), None);
    // A start with no room is not recorded.
    view.apply_now(changes(1, vec![start(&sids[4], T0 + 500)]), now(T0, 2))
        .unwrap();
    assert_eq!(view.decide(&r(4), now(T0, 3)), None);
    assert_eq!(view.live_len(), 3);
    // Revocations push live sessions out (the soonest-expiring first), never the reverse.
    view.apply_now(
        changes(
            2,
            vec![
                Change::NotBefore { not_before: 1 },
                Change::User {
                    sub: "v".into(),
                    version: 2,
                    not_before: None,
                },
                Change::User {
                    sub: "w".into(),
                    version: 2,
                    not_before: None,
                },
            ],
        ),
        now(T0, 4),
    )
    .unwrap();
    assert!(!view.overflowed());
    assert_eq!((view.len(), view.live_len()), (3, 1));
    assert_eq!(view.decide(&r(0), now(T0, 5)), Some(Verdict::Allow));
    assert_eq!(view.decide(&r(1), now(T0, 5)), None);
    // An end takes room as a revocation entry and removes the live one.
    view.apply_now(changes(5, vec![end(&sids[0], T0 + 400)]), now(T0, 6))
        .unwrap();
    assert_eq!((view.len(), view.live_len()), (4, 0));
    assert_eq!(
        view.decide(&r(0), now(T0, 7)),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
}

fn entry(seq: u64, id: &str, change: Change) -> FeedEntry {
    FeedEntry {
        seq,
        id: Some(id.into()),
        change,
    }
}

fn with_ids(after: u64, after_id: Option<&str>, entries: Vec<FeedEntry>) -> PollAnswer {
    let seq = entries.last().map_or(after, |e| e.seq);
    PollAnswer::Changes(Changes {
        after,
        after_id: after_id.map(str::to_owned),
        seq,
        changes: entries,
        idp_issuers: Vec::new(),
    })
}

fn revoke(jti: &str) -> Change {
    Change::Jti {
        sub: "a".into(),
        jti: jti.into(),
        until: None,
    }
}

#[test]
fn changes_must_chain_to_the_cursor_id() {
    let mut view = RevocationView::new(1000, 100);
    let mut s = snapshot(10);
    s.id = Some("a".into());
    view.apply_now(PollAnswer::Snapshot(s.clone()), now(T0, 0))
        .unwrap();
    assert_eq!(view.cursor_id(), Some("a"));
    assert_eq!(
        view.poll_path("/f"),
        "/f?after=10&after_id=a&ids=1&wait_ms=250&max_live=100"
    );
    let entries = vec![entry(11, "x", revoke("j1")), entry(12, "y", revoke("j2"))];
    view.apply_now(with_ids(10, Some("a"), entries), now(T0, 1))
        .unwrap();
    assert_eq!((view.cursor(), view.cursor_id()), (Some(12), Some("y")));
    // An empty answer keeps the id.
    view.apply_now(with_ids(12, Some("y"), vec![]), now(T0, 2))
        .unwrap();
    assert_eq!((view.cursor(), view.cursor_id()), (Some(12), Some("y")));

    // The feed rolled back to 10 and gave 11, 12, 13 again with other ids: an answer after 12
    // whose entry 12 is another (or unknown) is refused, the cursor dropped, a snapshot asked.
    for after_id in [Some("y2"), None] {
        let mut view = RevocationView::new(1000, 100);
        view.apply_now(PollAnswer::Snapshot(s.clone()), now(T0, 0))
            .unwrap();
        view.apply_now(
            with_ids(
                10,
                Some("a"),
                vec![entry(11, "x", revoke("j1")), entry(12, "y", revoke("j2"))],
            ),
            now(T0, 1),
        )
        .unwrap();
        let reused = with_ids(12, after_id, vec![entry(13, "z", revoke("j5"))]);
        assert_eq!(
            view.apply_now(reused, now(T0, 2)),
            Err(ViewError::ForeignCursor { seq: 12 })
        );
        assert_eq!(view.cursor(), None);
        assert_eq!(view.decide(&request("b", "j"), now(T0, 3)), None);
        assert_eq!(view.poll_path("/f"), "/f?ids=1&wait_ms=0&max_live=100");
    }
}

#[test]
fn a_view_without_an_id_takes_the_feeds_and_bad_ids_are_refused() {
    // A snapshot from a feed whose head predates ids: the cursor has no id, and the poll sends
    // none; the first id the feed gives becomes the cursor's.
    let mut view = synced(10);
    assert_eq!(
        view.poll_path("/f"),
        "/f?after=10&ids=1&wait_ms=250&max_live=100"
    );
    view.apply_now(with_ids(10, Some("q"), vec![]), now(T0, 1))
        .unwrap();
    assert_eq!(view.cursor_id(), Some("q"));
    view.apply_now(
        with_ids(10, Some("q"), vec![entry(11, "r", revoke("j"))]),
        now(T0, 2),
    )
    .unwrap();
    assert_eq!(view.cursor_id(), Some("r"));

    let mut view = synced(10);
    let body = br#"{"kind":"changes","after":10,"after_id":"a&wait_ms=0","seq":10,"changes":[]}"#;
    assert!(matches!(
        view.apply_body_now(body, now(T0, 1)),
        Err(ViewError::Malformed(_))
    ));
    let body = br#"{"kind":"snapshot","seq":3,"id":"","skew_seconds":1,"jtis":[],"users":[],"sessions":[]}"#;
    assert!(matches!(
        view.apply_body_now(body, now(T0, 1)),
        Err(ViewError::Malformed(_))
    ));
}

#[test]
fn a_late_answer_confirms_only_as_of_its_send() {
    let mut view = RevocationView::new(1000, 100);
    // Sent at T0, arrived 900 ms later: the verifier read the feed somewhere in between.
    view.apply(PollAnswer::Snapshot(snapshot(5)), now(T0, 0), now(T0, 900))
        .unwrap();
    assert_eq!(
        view.decide(&request("a", "j"), now(T0, 999)),
        Some(Verdict::Allow)
    );
    assert_eq!(view.decide(&request("a", "j"), now(T0 + 1, 0)), None);
    assert_eq!(view.decide(&request("a", "j"), now(T0 + 1, 800)), None);
    // A slow empty answer likewise.
    view.apply(changes(5, vec![]), now(T0 + 2, 0), now(T0 + 2, 990))
        .unwrap();
    assert_eq!(view.decide(&request("a", "j"), now(T0 + 3, 0)), None);
    // A send time after the arrival (the clock went back) confirms no later than the arrival.
    view.apply(changes(5, vec![]), now(T0 + 9, 0), now(T0 + 4, 0))
        .unwrap();
    assert_eq!(view.decide(&request("a", "j"), now(T0 + 5, 0)), None);
}

fn user(sub: &str, version: u64, not_before: Option<i64>) -> Change {
    Change::User {
        sub: sub.into(),
        version,
        not_before,
    }
}

#[test]
fn a_token_without_ver_is_judged_by_the_users_not_before() {
    let mut view = synced(1);
    view.apply_now(
        changes(1, vec![user("alice", 1, Some(T0 - 10))]),
        now(T0, 0),
    )
    .unwrap();
    let at = now(T0, 1);
    let deny = Some(Verdict::Deny(Reason::UserRevoked));
    let mut r = request("alice", "j");
    r.iat = Some(T0 - 10);
    assert_eq!(view.decide(&r, at), deny, "issued at the not-before");
    r.iat = Some(T0 - 11);
    assert_eq!(view.decide(&r, at), deny, "issued before it");
    r.iat = None;
    assert_eq!(view.decide(&r, at), deny, "no iat once the user has one");
    r.iat = Some(T0 - 9);
    assert_eq!(view.decide(&r, at), Some(Verdict::Allow), "issued after it");
    // Other users are not touched.
    let mut bob = request("bob", "j");
    bob.iat = None;
    assert_eq!(view.decide(&bob, at), Some(Verdict::Allow));
    // A token with `ver` is judged by version only, whatever its iat.
    let mut versioned = request("alice", "j");
    versioned.iat = Some(T0 - 100);
    versioned.ver = Some(1);
    assert_eq!(view.decide(&versioned, at), Some(Verdict::Allow));
    versioned.ver = Some(0);
    assert_eq!(
        view.decide(&versioned, at),
        Some(Verdict::Deny(Reason::StaleVersion))
    );
    // Raised only: an older not-before (or none) does not lower it.
    view.apply_now(
        changes(
            2,
            vec![user("alice", 1, Some(T0 - 500)), user("alice", 1, None)],
        ),
        now(T0, 2),
    )
    .unwrap();
    r.iat = Some(T0 - 10);
    assert_eq!(view.decide(&r, now(T0, 3)), deny);
    view.apply_now(changes(4, vec![user("alice", 2, Some(T0 - 5))]), now(T0, 4))
        .unwrap();
    r.iat = Some(T0 - 9);
    assert_eq!(view.decide(&r, now(T0, 5)), deny, "raised to T0 - 5");
    r.iat = Some(T0 - 4);
    assert_eq!(view.decide(&r, now(T0, 5)), Some(Verdict::Allow));
    // The same from a snapshot.
    let mut view = RevocationView::new(1000, 10);
    let mut s = snapshot(7);
    s.users.push(UserVersion {
        sub: "alice".into(),
        version: 0,
        not_before: Some(T0 - 10),
    });
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 0)).unwrap();
    r.iat = Some(T0 - 10);
    assert_eq!(view.decide(&r, now(T0, 1)), deny);
    r.iat = Some(T0 - 9);
    assert_eq!(view.decide(&r, now(T0, 1)), Some(Verdict::Allow));
}

#[test]
fn a_user_revoked_before_not_befores_existed_refuses_tokens_without_ver() {
    let mut view = synced(1);
    view.apply_now(changes(1, vec![user("old", 2, None)]), now(T0, 0))
        .unwrap();
    let mut r = request("old", "j");
    r.iat = Some(T0);
    assert_eq!(
        view.decide(&r, now(T0, 1)),
        Some(Verdict::Deny(Reason::UserRevoked)),
        "the old revocation's moment is unknown"
    );
    r.ver = Some(2);
    assert_eq!(view.decide(&r, now(T0, 1)), Some(Verdict::Allow));
    // The next revocation stores a not-before, and later tokens pass again.
    r.ver = None;
    view.apply_now(changes(2, vec![user("old", 3, Some(T0 - 1))]), now(T0, 2))
        .unwrap();
    assert_eq!(view.decide(&r, now(T0, 3)), Some(Verdict::Allow));
}

#[test]
fn user_checks_come_after_the_jti_and_before_the_sessions() {
    let mut view = synced(1);
    view.apply_now(
        changes(
            1,
            vec![
                user("alice", 0, Some(T0 - 10)),
                Change::Jti {
                    sub: "alice".into(),
                    jti: "gone".into(),
                    until: None,
                },
            ],
        ),
        now(T0, 0),
    )
    .unwrap();
    let mut r = request("alice", "gone");
    r.iat = Some(T0 - 20);
    assert_eq!(
        view.decide(&r, now(T0, 1)),
        Some(Verdict::Deny(Reason::Revoked))
    );
    // A session the view would refuse, but the user's not-before answers first.
    r.jti = Some("kept".into());
    r.sid = Some("not-a-warden-sid".into());
    assert_eq!(
        view.decide(&r, now(T0, 1)),
        Some(Verdict::Deny(Reason::UserRevoked))
    );
    r.iat = Some(T0);
    assert_eq!(
        view.decide(&r, now(T0, 1)),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
}

#[test]
fn a_token_without_jti_skips_only_the_jti_lookup() {
    let mut view = synced(1);
    view.apply_now(
        changes(
            1,
            vec![
                Change::Jti {
                    sub: "alice".into(),
                    jti: "gone".into(),
                    until: None,
                },
                user("bob", 0, Some(T0 - 10)),
            ],
        ),
        now(T0, 0),
    )
    .unwrap();
    let at = now(T0, 1);
    let mut r = request("alice", "x");
    r.jti = None;
    assert_eq!(view.decide(&r, at), Some(Verdict::Allow));
    // Its user, its session and revoke-all still reach it.
    let mut bob = request("bob", "x");
    bob.jti = None;
    assert_eq!(
        view.decide(&bob, at),
        Some(Verdict::Deny(Reason::UserRevoked))
    );
    r.sid = Some("not-a-warden-sid".into());
    assert_eq!(
        view.decide(&r, at),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
    view.apply_now(
        changes(3, vec![Change::NotBefore { not_before: T0 }]),
        now(T0, 2),
    )
    .unwrap();
    assert_eq!(
        view.decide(&r, now(T0, 3)),
        Some(Verdict::Deny(Reason::RevokedAll))
    );
}

const IDP: &str = "https://idp.example";

fn idp_session(iss: &str, sid: &str, until: i64) -> Change {
    Change::IdpSession {
        iss: iss.into(),
        sid: sid.into(),
        until,
    }
}

fn idp_token(iss: &str, sid: Option<&str>) -> CheckRequest {
    let mut r = request("alice", "j");
    r.iss = Some(iss.into());
    r.sid = sid.map(str::to_owned);
    r
}

/// Changes after `after` that list `issuers` as the verifier's identity providers.
fn idp_changes(after: u64, issuers: &[&str], list: Vec<Change>) -> PollAnswer {
    let mut answer = changes(after, list);
    if let PollAnswer::Changes(c) = &mut answer {
        c.idp_issuers = issuers.iter().map(|i| (*i).to_owned()).collect();
    }
    answer
}

#[test]
fn identity_provider_sessions_are_refused_only_when_revoked() {
    let mut view = synced(1);
    view.apply_now(
        idp_changes(1, &[IDP], vec![idp_session(IDP, "idp-s-1", T0 + 60)]),
        now(T0, 0),
    )
    .unwrap();
    assert_eq!(view.len(), 1, "a revoked IdP session is a revocation entry");
    let at = now(T0, 1);
    assert_eq!(
        view.decide(&idp_token(IDP, Some("idp-s-1")), at),
        Some(Verdict::Deny(Reason::SessionRevoked))
    );
    // Another session of the same provider, and a token without sid: allowed, with no
    // Warden-session check (those sids are not Warden's shape).
    assert_eq!(
        view.decide(&idp_token(IDP, Some("idp-s-2")), at),
        Some(Verdict::Allow)
    );
    assert_eq!(view.decide(&idp_token(IDP, None), at), Some(Verdict::Allow));
    // The same sid under an issuer that is not an identity provider: Warden's semantics.
    assert_eq!(
        view.decide(&idp_token("https://other.example", Some("idp-s-1")), at),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
    let mut no_iss = idp_token(IDP, Some("idp-s-1"));
    no_iss.iss = None;
    assert_eq!(
        view.decide(&no_iss, at),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
    // A Warden sid under the IdP's issuer is the IdP's too: never looked up as Warden's.
    let warden_sid = sid_of("alice");
    view.apply_now(
        idp_changes(2, &[IDP], vec![end(&warden_sid, T0 + 60)]),
        now(T0, 2),
    )
    .unwrap();
    assert_eq!(
        view.decide(&idp_token(IDP, Some(&warden_sid)), now(T0, 3)),
        Some(Verdict::Allow)
    );
    // The checks before the sessions still apply to IdP tokens.
    view.apply_now(
        idp_changes(3, &[IDP], vec![user("alice", 0, Some(T0 - 5))]),
        now(T0, 4),
    )
    .unwrap();
    assert_eq!(
        view.decide(&idp_token(IDP, Some("idp-s-2")), now(T0, 5)),
        Some(Verdict::Deny(Reason::UserRevoked))
    );
}

#[test]
fn the_issuer_list_is_the_latest_answers() {
    let mut view = synced(1);
    view.apply_now(
        idp_changes(1, &[IDP], vec![idp_session(IDP, "s", T0 + 60)]),
        now(T0, 0),
    )
    .unwrap();
    let sid = sid_of("alice");
    let r = idp_token(IDP, Some(&sid));
    assert_eq!(view.decide(&r, now(T0, 1)), Some(Verdict::Allow));
    // An answer without the list: no identity providers any more, Warden semantics again
    // (an own-slot sid not known to be live is called out).
    view.apply_now(changes(2, vec![]), now(T0, 2)).unwrap();
    assert_eq!(view.decide(&r, now(T0, 3)), None);
    assert_eq!(
        view.decide(&idp_token(IDP, Some("s")), now(T0, 3)),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
    // Listed again by a later answer; the revocation was kept meanwhile.
    view.apply_now(idp_changes(2, &["https://b", IDP], vec![]), now(T0, 4))
        .unwrap();
    assert_eq!(
        view.decide(&idp_token(IDP, Some("s")), now(T0, 5)),
        Some(Verdict::Deny(Reason::SessionRevoked))
    );
    assert_eq!(
        view.decide(&idp_token("https://b", Some("s")), now(T0, 5)),
        Some(Verdict::Allow)
    );
    // A snapshot replaces the list and the revoked sessions.
    let mut s = snapshot(9);
    s.idp_issuers = vec!["https://b".into()];
    s.idp_sessions.push(RevokedIdpSession {
        iss: "https://b".into(),
        sid: "t".into(),
        until: T0 + 60,
    });
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 6)).unwrap();
    assert_eq!(
        view.decide(&idp_token("https://b", Some("t")), now(T0, 7)),
        Some(Verdict::Deny(Reason::SessionRevoked))
    );
    assert_eq!(
        view.decide(&idp_token(IDP, Some("s")), now(T0, 7)),
        Some(Verdict::Deny(Reason::SessionMissing)),
        "no longer an identity provider"
    );
    // Wire: a snapshot body with both fields reads, one without them means none.
    let body =
        br#"{"kind":"snapshot","seq":10,"skew_seconds":300,"jtis":[],"users":[],"sessions":[],
        "idp_issuers":["https://idp.example"],
        "idp_sessions":[{"iss":"https://idp.example","sid":"w","until":1800000060}]}"#;
    view.apply_body_now(body, now(T0, 8)).unwrap();
    assert_eq!(
        view.decide(&idp_token(IDP, Some("w")), now(T0, 9)),
        Some(Verdict::Deny(Reason::SessionRevoked))
    );
    let body = br#"{"kind":"changes","after":10,"seq":10,"changes":[]}"#;
    view.apply_body_now(body, now(T0, 10)).unwrap();
    assert_eq!(
        view.decide(&idp_token(IDP, Some("w")), now(T0, 11)),
        Some(Verdict::Deny(Reason::SessionMissing))
    );
}

#[test]
fn identity_provider_revocations_lapse_at_until_and_only_lengthen() {
    let mut view = synced(1);
    view.apply_now(
        idp_changes(
            1,
            &[IDP],
            vec![idp_session(IDP, "s", T0 + 5), idp_session(IDP, "s", T0 + 2)],
        ),
        now(T0, 0),
    )
    .unwrap();
    let r = idp_token(IDP, Some("s"));
    let revoked = Some(Verdict::Deny(Reason::SessionRevoked));
    view.apply_now(idp_changes(3, &[IDP], vec![]), now(T0 + 4, 0))
        .unwrap();
    assert_eq!(view.decide(&r, now(T0 + 4, 1)), revoked, "not shortened");
    view.apply_now(idp_changes(3, &[IDP], vec![]), now(T0 + 5, 0))
        .unwrap();
    assert_eq!(
        view.decide(&r, now(T0 + 5, 1)),
        Some(Verdict::Allow),
        "lapsed"
    );
    // Pruned once lapsed.
    view.apply_now(idp_changes(3, &[IDP], vec![]), now(T0 + 20, 0))
        .unwrap();
    assert_eq!(view.len(), 0);
    // A change already past its until, and such snapshot entries, are not recorded.
    view.apply_now(
        idp_changes(3, &[IDP], vec![idp_session(IDP, "s", T0 + 20)]),
        now(T0 + 20, 1),
    )
    .unwrap();
    assert_eq!(view.len(), 0);
    assert_eq!(view.decide(&r, now(T0 + 20, 2)), Some(Verdict::Allow));
    let mut s = snapshot(5);
    s.idp_issuers = vec![IDP.into()];
    s.idp_sessions = vec![
        RevokedIdpSession {
            iss: IDP.into(),
            sid: "s".into(),
            until: T0 + 20,
        },
        RevokedIdpSession {
            iss: IDP.into(),
            sid: "u".into(),
            until: T0 + 21,
        },
    ];
    view.apply_now(PollAnswer::Snapshot(s), now(T0 + 20, 3))
        .unwrap();
    assert_eq!(view.len(), 1);
    assert_eq!(view.decide(&r, now(T0 + 20, 4)), Some(Verdict::Allow));
    assert_eq!(
        view.decide(&idp_token(IDP, Some("u")), now(T0 + 20, 4)),
        revoked
    );
}

#[test]
fn identity_provider_sessions_count_against_max_entries() {
    let mut view = RevocationView::new(1000, 2);
    let mut s = snapshot(1);
    s.idp_issuers = vec![IDP.into()];
    for sid in ["a", "b", "c"] {
        s.idp_sessions.push(RevokedIdpSession {
            iss: IDP.into(),
            sid: sid.into(),
            until: T0 + 60,
        });
    }
    assert_eq!(
        view.apply_now(PollAnswer::Snapshot(s.clone()), now(T0, 0)),
        Err(ViewError::Overflow(3))
    );
    assert_eq!(view.decide(&idp_token(IDP, Some("z")), now(T0, 1)), None);
    s.idp_sessions.pop();
    view.apply_now(PollAnswer::Snapshot(s), now(T0, 2)).unwrap();
    assert_eq!(view.len(), 2);
    // The same session again takes no more room; a new one overflows.
    view.apply_now(
        idp_changes(1, &[IDP], vec![idp_session(IDP, "a", T0 + 90)]),
        now(T0, 3),
    )
    .unwrap();
    assert_eq!(view.len(), 2);
    assert_eq!(
        view.apply_now(
            idp_changes(2, &[IDP], vec![idp_session(IDP, "c", T0 + 60)]),
            now(T0, 4)
        ),
        Err(ViewError::Overflow(3))
    );
    assert_eq!(view.decide(&idp_token(IDP, Some("a")), now(T0, 5)), None);
    assert_eq!(view.cursor(), None);
}

#[test]
fn issuer_bounds() {
    let mut view = synced(1);
    let long = format!("https://{}", "i".repeat(MAX_ISS_BYTES));
    // An issuer list the view cannot hold: refused, cursor kept, view not confirmed.
    for issuers in [
        vec![long.clone()],
        (0..=MAX_IDP_ISSUERS)
            .map(|i| format!("https://{i}"))
            .collect(),
    ] {
        let answer = PollAnswer::Changes(Changes {
            after: 1,
            after_id: None,
            seq: 1,
            changes: vec![],
            idp_issuers: issuers,
        });
        assert!(matches!(
            view.apply_now(answer, now(T0 + 5, 0)),
            Err(ViewError::Malformed(_))
        ));
        assert_eq!(view.decide(&request("a", "j"), now(T0 + 5, 1)), None);
        assert_eq!(view.cursor(), Some(1));
    }
    let most: Vec<String> = (0..MAX_IDP_ISSUERS)
        .map(|i| format!("https://{i}/{}", "p".repeat(MAX_ISS_BYTES - 12)))
        .collect();
    assert!(most.iter().all(|i| i.len() <= MAX_ISS_BYTES));
    let answer = PollAnswer::Changes(Changes {
        after: 1,
        after_id: None,
        seq: 1,
        changes: vec![],
        idp_issuers: most.clone(),
    });
    view.apply_now(answer.clone(), now(T0 + 5, 2)).unwrap();
    assert!(serde_json::to_vec(&answer).unwrap().len() <= BYTES_FOR_IDP_ISSUERS);
    // A revoked session no token the view judges can carry (an issuer longer than any listed,
    // a sid longer than the filter sends) is not recorded.
    view.apply_now(
        idp_changes(
            1,
            &[IDP],
            vec![
                idp_session(&long, "s", T0 + 60),
                idp_session(IDP, &"s".repeat(MAX_ID_BYTES + 1), T0 + 60),
                idp_session(IDP, &"s".repeat(MAX_ID_BYTES), T0 + 60),
            ],
        ),
        now(T0 + 5, 3),
    )
    .unwrap();
    assert_eq!(view.len(), 1);
    assert_eq!(
        view.decide(
            &idp_token(IDP, Some(&"s".repeat(MAX_ID_BYTES))),
            now(T0 + 5, 4)
        ),
        Some(Verdict::Deny(Reason::SessionRevoked))
    );
}
