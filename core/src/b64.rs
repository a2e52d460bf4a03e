//! Strict base64url without padding (RFC 7515 §2): padding, `+`, `/`, whitespace and
//! non-canonical trailing bits are all rejected.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub fn decode(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

pub fn encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// Whether every character of `text` is of the base64url alphabet (`A`–`Z`, `a`–`z`, `0`–`9`,
/// `-`, `_`; RFC 4648 §5): the shape check for ids, tags and secrets that go into URLs, Redis
/// keys and headers as they are. It says nothing of length or trailing bits (`decode` does).
pub fn is_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_and_standard_alphabet() {
        assert_eq!(decode("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode("YQ=="), None);
        assert_eq!(decode("+/"), None);
        assert_eq!(decode("Y Q"), None);
        assert_eq!(decode("YR"), None, "non-canonical trailing bits");
        assert_eq!(decode("").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn the_alphabet_is_base64url_only() {
        assert!(is_alphabet("AZaz09-_"));
        assert!(is_alphabet(""));
        for other in ["+", "/", "=", " ", ".", "é", "A\n"] {
            assert!(!is_alphabet(other), "{other:?}");
        }
        // Every byte `encode` can write is in it.
        assert!(is_alphabet(&encode(&(0..=255).collect::<Vec<u8>>())));
    }
}
