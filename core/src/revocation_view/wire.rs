//! The wire format of `GET /v1/revocations` (the revocation feed). The verifier writes these
//! types and the filter reads them, so both sides agree by construction.
//!
//! An answer is either the changes after the filter's cursor (`kind: "changes"`, possibly none
//! after a long-poll that saw nothing) or a full snapshot (`kind: "snapshot"`) when the cursor is
//! absent, unknown or trimmed from the feed. Sequence numbers are strictly increasing and without
//! holes inside one feed; a jump means the feed was rebuilt and calls for a snapshot.

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
    /// Tokens of `sub` with `ver` below `version` are stale.
    User { sub: String, version: u64 },
    /// Session `sid` ended; it matters until `until` (unix s), when its tokens are past use.
    Session { sid: String, until: i64 },
    /// Session `sid` exists (its record is stored) and lasts at most until `until` (unix s), when
    /// its record expires. Announced after the record is stored, again when a refresh extends it.
    /// An end of the same sid wins over it, whatever their order.
    SessionStart { sid: String, until: i64 },
    /// Tokens issued at or before `not_before` (unix s) are void ("revoke all").
    NotBefore { not_before: i64 },
}

/// A change with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedEntry {
    pub seq: u64,
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
}

/// The changes after `after`, in order; `seq` is the new cursor (`after` when there are none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    pub after: u64,
    pub seq: u64,
    pub changes: Vec<FeedEntry>,
}

/// One answer of `GET /v1/revocations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PollAnswer {
    Changes(Changes),
    Snapshot(Snapshot),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let answer = PollAnswer::Changes(Changes {
            after: 4,
            seq: 5,
            changes: vec![FeedEntry {
                seq: 5,
                change: Change::Jti {
                    sub: "alice".into(),
                    jti: "j1".into(),
                    until: Some(99),
                },
            }],
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
    fn unknown_change_types_are_refused() {
        let text = r#"{"kind":"changes","after":1,"seq":2,"changes":[{"seq":2,"change":{"type":"new_thing"}}]}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
        let text = r#"{"kind":"other","seq":2}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
        let text = r#"{"kind":"changes","after":1,"seq":2,"changes":[{"seq":2,"change":{"type":"user","sub":"a","version":-1}}]}"#;
        assert!(serde_json::from_str::<PollAnswer>(text).is_err());
    }
}
