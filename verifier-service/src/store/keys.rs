//! The Redis key layout. Every key of one user carries the same hash tag, so a check touches a single
//! Redis Cluster slot and runs as one script.
//!
//! The tag is not the raw `sub` (which may hold `{`, `}` or `:` and be 256 bytes long) but
//! `b64url(SHA-256(sub))` cut to 22 characters (128 bits): fixed length, no separator characters,
//! so no user's keys can be forged from another's name. Records that need the real `sub` store it.
//!
//! | key                              | type   | content                                  | expiry            |
//! |----------------------------------|--------|------------------------------------------|-------------------|
//! | `warden:{T}:ver`                 | string | the user's current version               | none              |
//! | `warden:{T}:jti:<jti>`           | string | `1`: this jti is revoked                 | token `exp`+skew  |
//! | `warden:{T}:sessions`            | zset   | the user's sids, scored by expiry        | latest session    |
//! | `warden:{T}:session:<sid>`       | hash   | sub, device, created, last_seen, expires_at | session expiry |
//! | `warden:global:not_before`       | string | global not-before (unix seconds)         | none              |

use sha2::{Digest, Sha256};

/// Characters of the user tag (22 base64url characters = 128 bits of SHA-256).
pub const USER_TAG_CHARS: usize = 22;

/// The single global key (not in any user's slot; read through the in-process cache).
pub const GLOBAL_NOT_BEFORE: &str = "warden:global:not_before";

/// The hash tag of one user: base64url of the first 128 bits of SHA-256(sub).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTag(String);

impl UserTag {
    pub fn of_sub(sub: &str) -> UserTag {
        let digest = Sha256::digest(sub.as_bytes());
        let mut encoded = warden_core::b64::encode(&digest);
        encoded.truncate(USER_TAG_CHARS);
        UserTag(encoded)
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
            tag.revoked_jti_key("j}{1"),
            tag.sessions_key(),
            tag.session_key("abc.def"),
        ] {
            let open = key.find('{').unwrap_or(usize::MAX);
            let close = key.find('}').unwrap_or(usize::MAX);
            assert_eq!(key.get(open..=close), Some(wanted.as_str()), "{key}");
        }
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
