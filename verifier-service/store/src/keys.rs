//! The Redis key layout: every key the store reads or writes is built here. Every key of one user
//! carries the same hash tag, so a check touches a single Redis Cluster slot and runs as one
//! script; every key of the revocation feed carries `{feed}`.
//!
//! The tag is not the raw `sub` (which may hold `{`, `}` or `:` and be 256 bytes long) but
//! `b64url(SHA-256(sub))` cut to 22 characters (128 bits): fixed length, no separator characters,
//! so no user's keys can be forged from another's name. Records that need the real `sub` store it.
//!
//! | key                              | type   | content                                  | expiry            |
//! |----------------------------------|--------|------------------------------------------|-------------------|
//! | `warden:{T}:ver`                 | string | the user's current version               | none              |
//! | `warden:{T}:nb`                  | string | the user's not-before (unix s) for tokens without `ver` | none |
//! | `warden:{T}:jti:<jti>`           | string | `1`: this jti is revoked                 | token `exp`+skew  |
//! | `warden:{T}:sessions`            | zset   | the user's sids, scored by expiry        | latest session    |
//! | `warden:{T}:session:<sid>`       | hash   | sub, device, created, last_seen, expires_at (+ the refresh family, `store::sessions`) | `store::sessions::session_record_expiry` |
//! | `warden:{T}:rtused:<sid>`        | set    | SHA-256 of every rotated refresh token   | session expiry    |
//! | `warden:{T}:rl:<sid>`            | string | the session's refresh/revoke budget (GCRA) | when refilled   |
//! | `warden:{T}:feedout`             | hash   | session ends not yet in the feed (`store::outbox`) | a day past them |
//! | `warden:rl:addr:{<address>}`     | string | a client address's refresh/revoke budget | when refilled     |
//! | `warden:events`                  | stream | audit events, capped (`MAXLEN ~`)        | none              |
//! | `warden:idp:{I}:jti:<J>`         | string | `1`: an identity provider's logout token or SET with this jti was accepted | the token's acceptance end + skew |
//! | `warden:global:not_before`       | string | global not-before (unix seconds)         | none              |
//! | `warden:idp:{I}:sid:<sid>`       | string | `1`: this identity-provider session is revoked | its `until` |
//!
//! `I` is the issuer's tag, made like a user's from the issuer string (`IssuerTag`): an issuer is
//! any string, and the sid follows the tag, so neither can reach into another issuer's keys.
//!
//! The revocation feed (`store::feed`), all in the `{feed}` slot:
//!
//! | key                        | type   | content                                              |
//! |----------------------------|--------|------------------------------------------------------|
//! | `warden:{feed}:seq`        | string | the last sequence number given                       |
//! | `warden:{feed}:seq_id`     | string | the id of entry `seq`                                |
//! | `warden:{feed}:log`        | stream | entry `<seq>-0`, field `c`: the change as JSON, `i`: its id |
//! | `warden:{feed}:jti`        | zset   | `["sub","jti"]` scored by until (`+inf`: for good)   |
//! | `warden:{feed}:ver`        | hash   | sub → highest version announced                      |
//! | `warden:{feed}:sid`        | zset   | ended sid scored by until                            |
//! | `warden:{feed}:nb`         | string | highest global not-before announced                  |
//! | `warden:{feed}:live`       | zset   | started, not ended sid scored by its record's expiry |
//! | `warden:{feed}:unb`        | hash   | sub → highest per-user not-before announced          |
//! | `warden:{feed}:idp`        | zset   | `["iss","sid"]` of revoked IdP sessions by until     |

/// Characters of the user tag (the shape is core's, which the filter's view reads too).
pub use warden_core::protocol::sid::USER_TAG_CHARS;

/// The single global key (not in any user's slot; read through the in-process cache).
pub const GLOBAL_NOT_BEFORE: &str = "warden:global:not_before";

/// The audit stream.
pub const EVENTS_STREAM: &str = "warden:events";

pub const FEED_SEQ: &str = "warden:{feed}:seq";
pub const FEED_SEQ_ID: &str = "warden:{feed}:seq_id";
pub const FEED_LOG: &str = "warden:{feed}:log";
pub const FEED_JTIS: &str = "warden:{feed}:jti";
pub const FEED_VERSIONS: &str = "warden:{feed}:ver";
pub const FEED_SESSIONS: &str = "warden:{feed}:sid";
pub const FEED_NOT_BEFORE: &str = "warden:{feed}:nb";
pub const FEED_LIVE: &str = "warden:{feed}:live";
pub const FEED_USER_NOT_BEFORES: &str = "warden:{feed}:unb";
pub const FEED_IDP_SESSIONS: &str = "warden:{feed}:idp";

/// The revocation of session `sid` of the identity provider whose issuer is `iss` (its own slot:
/// a provider's logout names the session, not always the user).
pub fn idp_session_key(iss: &str, sid: &str) -> String {
    format!("warden:idp:{{{}}}:sid:{sid}", IssuerTag::of_issuer(iss).0)
}

/// The hash tag of one issuer: made like a [`UserTag`] (fixed length, no separators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerTag(String);

impl IssuerTag {
    pub fn of_issuer(iss: &str) -> IssuerTag {
        IssuerTag(warden_core::protocol::sid::user_tag(iss))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `SCAN` matches outbox keys with (`{` and `}` are plain characters in a Redis pattern).
pub const OUTBOX_PATTERN: &str = "warden:{*}:feedout";

/// Marks that an identity provider's logout token or security event token was accepted (its
/// `jti` is single-use). Keyed by the issuer (`I`, hashed like a user tag, so a provider's
/// jtis share a slot) and the jti (`J`, hashed the same way: any length, any characters).
pub fn idp_event_jti_key(issuer: &str, jti: &str) -> String {
    let hash = warden_core::protocol::sid::user_tag;
    format!("warden:idp:{{{}}}:jti:{}", hash(issuer), hash(jti))
}

/// A client address's refresh/revoke budget (its own slot).
pub fn address_rate_key(address: &std::net::IpAddr) -> String {
    format!("warden:rl:addr:{{{address}}}")
}

/// The set of a family's rotated refresh-token hashes.
pub fn rotated_key(tag: &UserTag, sid: &str) -> String {
    format!("{}rtused:{sid}", tag.prefix())
}

/// A session's refresh/revoke budget.
pub fn session_rate_key(tag: &UserTag, sid: &str) -> String {
    format!("{}rl:{sid}", tag.prefix())
}

/// A user's outbox of session ends not yet in the feed.
pub fn outbox_key(tag: &UserTag) -> String {
    format!("{}feedout", tag.prefix())
}

/// The user tag of an outbox key, when it is one.
pub fn outbox_tag(key: &str) -> Option<UserTag> {
    let inner = key.strip_prefix("warden:{")?.strip_suffix("}:feedout")?;
    UserTag::parse(inner)
}

/// The hash tag of one user: base64url of the first 128 bits of SHA-256(sub).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTag(String);

impl UserTag {
    pub fn of_sub(sub: &str) -> UserTag {
        UserTag(warden_core::protocol::sid::user_tag(sub))
    }

    /// Accepts a tag read back from a sid when it has the exact shape of one.
    pub fn parse(text: &str) -> Option<UserTag> {
        let well_formed = text.len() == USER_TAG_CHARS && warden_core::b64::is_alphabet(text);
        well_formed.then(|| UserTag(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn prefix(&self) -> String {
        format!("warden:{{{}}}:", self.0)
    }

    pub fn version_key(&self) -> String {
        format!("{}ver", self.prefix())
    }

    /// The user's not-before for tokens without `ver` (a `revoke/user` moment).
    pub fn not_before_key(&self) -> String {
        format!("{}nb", self.prefix())
    }

    pub fn revoked_jti_key(&self, jti: &str) -> String {
        format!("{}jti:{jti}", self.prefix())
    }

    pub fn sessions_key(&self) -> String {
        format!("{}sessions", self.prefix())
    }

    /// Prefix of this user's session records; a script appends the sid.
    pub fn session_key_prefix(&self) -> String {
        format!("{}session:", self.prefix())
    }

    pub fn session_key(&self, sid: &str) -> String {
        format!("{}{sid}", self.session_key_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_fixed_length_and_free_of_separators() {
        for sub in ["alice", "", "a}:jti:x", "{weird}", &"x".repeat(256)] {
            let tag = UserTag::of_sub(sub);
            assert_eq!(tag.as_str().len(), USER_TAG_CHARS);
            assert!(!tag.as_str().contains(['{', '}', ':', '.']));
            assert_eq!(UserTag::parse(tag.as_str()), Some(tag));
        }
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let tag = UserTag::of_sub("alice");
        let wanted = format!("{{{}}}", tag.as_str());
        for key in [
            tag.version_key(),
            tag.not_before_key(),
            tag.revoked_jti_key("j}{1"),
            tag.sessions_key(),
            tag.session_key("abc.def"),
            rotated_key(&tag, "abc.def"),
            session_rate_key(&tag, "abc.def"),
            outbox_key(&tag),
        ] {
            let open = key.find('{').unwrap_or(usize::MAX);
            let close = key.find('}').unwrap_or(usize::MAX);
            assert_eq!(key.get(open..=close), Some(wanted.as_str()), "{key}");
        }
    }

    #[test]
    fn outbox_keys_parse_back_to_their_tag() {
        let tag = UserTag::of_sub("alice");
        assert_eq!(outbox_tag(&outbox_key(&tag)), Some(tag));
        assert_eq!(outbox_tag("warden:{feed}:feedout"), None);
        assert_eq!(outbox_tag("warden:{x}:session:y"), None);
    }

    #[test]
    fn feed_keys_share_the_feed_slot() {
        for key in [
            FEED_SEQ,
            FEED_SEQ_ID,
            FEED_LOG,
            FEED_JTIS,
            FEED_VERSIONS,
            FEED_SESSIONS,
            FEED_NOT_BEFORE,
            FEED_LIVE,
            FEED_USER_NOT_BEFORES,
            FEED_IDP_SESSIONS,
        ] {
            assert!(key.starts_with("warden:{feed}:"), "{key}");
        }
        let address = std::net::IpAddr::from([10, 0, 0, 1]);
        assert_eq!(address_rate_key(&address), "warden:rl:addr:{10.0.0.1}");
    }

    #[test]
    fn idp_jti_keys_are_per_issuer_and_bounded() {
        let a = idp_event_jti_key("https://idp.example", "j-1");
        assert_ne!(a, idp_event_jti_key("https://other.example", "j-1"));
        assert_ne!(a, idp_event_jti_key("https://idp.example", "j-2"));
        let long = idp_event_jti_key("https://idp.example", &"}{:".repeat(1000));
        assert_eq!(long.len(), a.len());
        assert!(a.starts_with("warden:idp:{"), "{a}");
    }

    #[test]
    fn idp_session_keys_are_tagged_by_issuer() {
        for iss in ["https://idp.example", "", "a}:sid:x", "{weird}"] {
            let key = idp_session_key(iss, "s}{1");
            let tag = IssuerTag::of_issuer(iss);
            assert_eq!(tag.as_str().len(), USER_TAG_CHARS);
            assert!(!tag.as_str().contains(['{', '}', ':']), "{iss}");
            assert_eq!(key, format!("warden:idp:{{{}}}:sid:s}}{{1", tag.as_str()));
        }
        assert_ne!(
            idp_session_key("https://a.example", "s"),
            idp_session_key("https://b.example", "s")
        );
        assert_ne!(
            idp_session_key("https://a.example", "s1"),
            idp_session_key("https://a.example", "s2")
        );
    }

    #[test]
    fn different_subs_get_different_tags() {
        assert_ne!(UserTag::of_sub("alice"), UserTag::of_sub("bob"));
        assert_eq!(UserTag::of_sub("alice"), UserTag::of_sub("alice"));
    }

    #[test]
    fn parse_refuses_other_shapes() {
        assert_eq!(UserTag::parse(""), None);
        assert_eq!(UserTag::parse("short"), None);
        assert_eq!(UserTag::parse("aaaaaaaaaaaaaaaaaaaa{}"), None);
        assert_eq!(UserTag::parse(&"a".repeat(23)), None);
    }
}
