//! The shape of the verifier's session ids, `<22 random>.<22 tag>`, where the tag names the
//! owner: base64url of the first 128 bits of SHA-256(`sub`). The filter's view reads a token's
//! `sid` with it; the verifier makes its sids with it.

use crate::b64;
use sha2::{Digest, Sha256};

/// Characters of the user tag in a sid (base64url of the first 128 bits of SHA-256(sub)).
pub const USER_TAG_CHARS: usize = 22;
/// Characters of a sid's random half.
pub const SID_RANDOM_CHARS: usize = 22;

/// The verifier's user tag of `sub`.
pub fn user_tag(sub: &str) -> String {
    let mut tag = b64::encode(&Sha256::digest(sub.as_bytes()));
    tag.truncate(USER_TAG_CHARS);
    tag
}

/// The owner tag of a sid of the verifier's shape; `None` for any other text.
pub fn owner_tag(sid: &str) -> Option<&str> {
    let (random, tag) = sid.split_once('.')?;
    let shaped = |text: &str, len: usize| text.len() == len && b64::is_alphabet(text);
    (shaped(random, SID_RANDOM_CHARS) && shaped(tag, USER_TAG_CHARS)).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_shapes_match_the_verifier() {
        assert_eq!(user_tag("alice").len(), 22);
        let sid = format!("{}.{}", "A".repeat(22), user_tag("alice"));
        assert_eq!(owner_tag(&sid), Some(user_tag("alice").as_str()));
        assert!(owner_tag("short.tag").is_none());
        assert!(owner_tag(&format!("{}.{}", "A".repeat(22), "b".repeat(23))).is_none());
        assert!(owner_tag(&format!("{}.{}", "A+".repeat(11), "b".repeat(22))).is_none());
    }
}
