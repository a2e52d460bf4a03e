//! Session ids: `<22 chars of random>.<user tag>`, both base64url. The random half is 128 bits from
//! the OS; the tag half (see `store::keys`) lets the verifier find the session record from the sid
//! alone, in the owner's Redis slot, without a sid → sub index. A sid is 45 bytes.

use super::keys::UserTag;

const RANDOM_BYTES: usize = 16;

/// Makes a new sid for the user with this tag.
pub fn new_sid(tag: &UserTag) -> Result<String, crate::random::RandomError> {
    let random = crate::random::bytes::<RANDOM_BYTES>()?;
    Ok(format!(
        "{}.{}",
        warden_core::b64::encode(&random),
        tag.as_str()
    ))
}

/// The owner's tag, when the sid has the shape `new_sid` produces; `None` for anything else
/// (such a sid cannot name a live session).
pub fn owner_tag(sid: &str) -> Option<UserTag> {
    warden_core::protocol::sid::owner_tag(sid).and_then(UserTag::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sid_carries_the_owner_tag() {
        let tag = UserTag::of_sub("alice");
        let sid = new_sid(&tag).unwrap();
        assert_eq!(sid.len(), 45);
        assert_eq!(owner_tag(&sid), Some(tag));
    }

    /// The random half's length is the one core's shape check expects.
    #[test]
    fn the_random_half_has_cores_length() {
        let sid = new_sid(&UserTag::of_sub("bob")).unwrap();
        let (random, _) = sid.split_once('.').unwrap();
        assert_eq!(random.len(), warden_core::protocol::sid::SID_RANDOM_CHARS);
    }

    #[test]
    fn sids_are_unique() {
        let tag = UserTag::of_sub("alice");
        assert_ne!(new_sid(&tag).unwrap(), new_sid(&tag).unwrap());
    }

    #[test]
    fn malformed_sids_have_no_owner() {
        let tag = UserTag::of_sub("alice");
        for bad in [
            String::new(),
            "no-dot".to_owned(),
            format!("short.{}", tag.as_str()),
            format!("{}.{}", "a".repeat(22), "b".repeat(5)),
            format!("{}.{}", "a{".repeat(11), tag.as_str()),
            format!("{}.{}.x", "a".repeat(22), tag.as_str()),
        ] {
            assert_eq!(owner_tag(&bad), None, "{bad}");
        }
    }
}
