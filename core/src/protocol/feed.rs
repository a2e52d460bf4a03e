//! The wire format of `GET /v1/revocations` (the revocation feed). The verifier writes these
//! types and the filter reads them, so both sides agree by construction.
//!
//! An answer is either the changes after the filter's cursor (`kind: "changes"`, possibly none
//! after a long-poll that saw nothing) or a full snapshot (`kind: "snapshot"`) when the cursor is
//! absent, unknown or trimmed from the feed. Sequence numbers are strictly increasing and without
//! holes inside one feed; a jump means the feed was rebuilt and calls for a snapshot.
//!
//! Entry ids: every entry also carries a random `id`, so a cursor is the pair (seq, id). After
//! Redis lost its last writes (a failover to a lagging replica, a restart from an older
//! snapshot), the feed's seq and log roll back together and new entries reuse numbers a filter
//! already passed; their ids differ, so the verifier answers a cursor whose id it does not hold
//! with a snapshot, and the view refuses changes that do not chain to its cursor's id. Ids are
//! sent only to a poll that asks for them (`ids=1`), so an older filter, which refuses unknown
//! fields, still reads the answers (without the protection).

use crate::b64;
use serde::{Deserialize, Serialize};

/// One change that can deny a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Token `jti` of `sub` is revoked until `until` (unix s; `None`: for good).
    Jti {
        sub: String,
        jti: String,
        #[serde(default)]
        until: Option<i64>,
    },
    /// Tokens of `sub` with `ver` below `version` are stale; tokens of `sub` without `ver` issued
    /// at or before `not_before` (unix s), or without `iat`, are refused (`user_revoked`).
    /// `not_before` is absent only in entries written before per-user not-befores existed.
    User {
        sub: String,
        version: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_before: Option<i64>,
    },
    /// Session `sid` ended; it matters until `until` (unix s), when its tokens are past use.
    Session { sid: String, until: i64 },
    /// Session `sid` exists (its record is stored) and lasts at most until `until` (unix s), when
    /// its record expires. Announced after the record is stored, again when a refresh extends it.
    /// An end of the same sid wins over it, whatever their order.
    SessionStart { sid: String, until: i64 },
    /// Tokens issued at or before `not_before` (unix s) are void ("revoke all").
    NotBefore { not_before: i64 },
    /// Session `sid` of the identity provider whose issuer is `iss` was revoked; it matters
    /// until `until` (unix s), when every access token it could cover has expired.
    IdpSession {
        iss: String,
        sid: String,
        until: i64,
    },
}

/// Longest entry id accepted (the verifier makes 11 characters: 64 random bits, base64url).
pub const MAX_ID_CHARS: usize = 64;

/// Whether `id` has the shape of a feed entry id: 1 to [`MAX_ID_CHARS`] base64url characters (so
/// it goes into a query string as it is).
pub fn valid_id(id: &str) -> bool {
    (1..=MAX_ID_CHARS).contains(&id.len()) && b64::is_alphabet(id)
}

/// A change with its sequence number and, when the poll asked for ids, its entry's random id
/// (absent for entries written before the feed had ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedJti {
    pub sub: String,
    pub jti: String,
    #[serde(default)]
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserVersion {
    pub sub: String,
    pub version: u64,
    /// The user's not-before (unix s) for tokens without `ver`; see [`Change::User`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
}

/// A revoked session of a configured identity provider, keyed by its issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedIdpSession {
    pub iss: String,
    pub sid: String,
    pub until: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndedSession {
    pub sid: String,
    pub until: i64,
}

/// A session known to exist until `until` (its record's expiry, unix s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSession {
    pub sid: String,
    pub until: i64,
}

/// The whole revocation state as of `seq`, bounded by what can still deny a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub seq: u64,
    /// The id of entry `seq` (when the poll asked for ids and the feed has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The verifier's revocation skew: it refuses every token past `exp` + this.
    pub skew_seconds: u64,
    #[serde(default)]
    pub not_before: Option<i64>,
    pub jtis: Vec<RevokedJti>,
    pub users: Vec<UserVersion>,
    pub sessions: Vec<EndedSession>,
    /// Sessions started and not ended, those expiring latest first, at most the `max_live` the
    /// poll asked for (none when it did not ask). Left out of the body when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveSession>,
    /// Revoked sessions of configured identity providers, still within their `until`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idp_sessions: Vec<RevokedIdpSession>,
    /// The issuers of the configured identity providers: a token with one of these `iss` carries
    /// that provider's `sid` (allowed unless revoked), not a Warden session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idp_issuers: Vec<String>,
}

/// The changes after `after`, in order; `seq` is the new cursor (`after` when there are none).
/// `after_id` is the id the feed holds for entry `after` (when the poll asked for ids): the poll's
/// `after_id`, which the verifier checked, or the feed's own when the poll sent none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    pub after: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_id: Option<String>,
    pub seq: u64,
    pub changes: Vec<FeedEntry>,
    /// The verifier's identity-provider issuers as of this answer (see [`Snapshot::idp_issuers`]),
    /// so a view learns a changed list without waiting for a snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idp_issuers: Vec<String>,
}

/// One answer of `GET /v1/revocations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PollAnswer {
    Changes(Changes),
    Snapshot(Snapshot),
}

impl PollAnswer {
    /// The answer without entry ids, for a poll that did not ask for them.
    pub fn without_ids(self) -> PollAnswer {
        match self {
            PollAnswer::Changes(mut c) => {
                c.after_id = None;
                for entry in &mut c.changes {
                    entry.id = None;
                }
                PollAnswer::Changes(c)
            }
            PollAnswer::Snapshot(mut s) => {
                s.id = None;
                PollAnswer::Snapshot(s)
            }
        }
    }

    /// Whether every id in the answer has the shape [`valid_id`] accepts.
    pub fn ids_valid(&self) -> bool {
        let ok = |id: &Option<String>| id.as_deref().is_none_or(valid_id);
        match self {
            PollAnswer::Changes(c) => ok(&c.after_id) && c.changes.iter().all(|e| ok(&e.id)),
            PollAnswer::Snapshot(s) => ok(&s.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let answer = PollAnswer::Changes(Changes {
            after: 4,
            after_id: None,
            seq: 5,
            changes: vec![FeedEntry {
                seq: 5,
                id: None,
                change: Change::Jti {
                    sub: "alice".into(),
                    jti: "j1".into(),
                    until: Some(99),
                },
            }],
            idp_issuers: Vec::new(),
        });
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"changes","after":4,"seq":5,"changes":[{"seq":5,"change":{"type":"jti","sub":"alice","jti":"j1","until":99}}]}"#
        );
        assert_eq!(serde_json::from_str::<PollAnswer>(&text).unwrap(), answer);
        let snapshot = r#"{"kind":"snapshot","seq":7,"skew_seconds":300,"not_before":null,
            "jtis":[{"sub":"a","jti":"b","until":null}],"users":[{"sub":"a","version":2}],
            "sessions":[{"sid":"s","until":10}]}"#;
        assert!(matches!(
            serde_json::from_str::<PollAnswer>(snapshot).unwrap(),
            PollAnswer::Snapshot(Snapshot { seq: 7, .. })
        ));
    }

    #[test]
    fn session_start_wire_format() {
        let entry = FeedEntry {
            seq: 3,
            id: None,
            change: Change::SessionStart {
                sid: "s".into(),
                until: 10,
            },
        };
        let text = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            text,
            r#"{"seq":3,"change":{"type":"session_start","sid":"s","until":10}}"#
        );
        let snapshot = r#"{"kind":"snapshot","seq":7,"skew_seconds":300,"jtis":[],"users":[],
            "sessions":[],"live":[{"sid":"s","until":10}]}"#;
        let PollAnswer::Snapshot(s) = serde_json::from_str::<PollAnswer>(snapshot).unwrap() else {
            panic!("not a snapshot");
        };
        assert_eq!(
            s.live,
            vec![LiveSession {
                sid: "s".into(),
                until: 10
            }]
        );
    }

    #[test]
    fn entry_ids_on_the_wire() {
        let answer = PollAnswer::Changes(Changes {
            after: 4,
            after_id: Some("a-_9".into()),
            seq: 5,
            changes: vec![FeedEntry {
                seq: 5,
                id: Some("Zz0".into()),
                change: Change::NotBefore { not_before: 1 },
            }],
            idp_issuers: Vec::new(),
        });
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"changes","after":4,"after_id":"a-_9","seq":5,"changes":[{"seq":5,"id":"Zz0","change":{"type":"not_before","not_before":1}}]}"#
        );
        assert!(answer.ids_valid());
        let bare = answer.without_ids();
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"kind":"changes","after":4,"seq":5,"changes":[{"seq":5,"change":{"type":"not_before","not_before":1}}]}"#
        );
        let snapshot = r#"{"kind":"snapshot","seq":7,"id":"x","skew_seconds":1,"jtis":[],"users":[],"sessions":[]}"#;
        let PollAnswer::Snapshot(s) = serde_json::from_str::<PollAnswer>(snapshot).unwrap() else {
            panic!("not a snapshot");
        };
        assert_eq!(s.id.as_deref(), Some("x"));
        for bad in ["", "a b", "a&b", "é", &"a".repeat(MAX_ID_CHARS + 1)] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_id(&"a".repeat(MAX_ID_CHARS)));
    }

    #[test]
    fn unknown_change_types_are_refused() {
        let text = r#"{"kind":"changes","after":1,"seq":2,"changes":[{"seq":2,"change":{"type":"new_thing"}}]}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
        let text = r#"{"kind":"other","seq":2}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
        let text = r#"{"kind":"changes","after":1,"seq":2,"changes":[{"seq":2,"change":{"type":"user","sub":"a","version":-1}}]}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
    }
}
