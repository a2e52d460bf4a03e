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
}
