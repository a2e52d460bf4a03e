//! Percent-decoding (RFC 3986 §2.1), strict for judging paths and lenient for comparing names,
//! and the `application/x-www-form-urlencoded` form of it that OAuth request bodies use.

/// Decodes every `%XX`; `None` for a `%` not followed by two hex digits (upstreams disagree on
/// such an escape, so a path holding one is refused rather than guessed at).
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    decode_with(input, |_| None)
}

/// Decodes every `%XX` and keeps a malformed escape as it is, as lenient servers read names.
pub fn decode_lossy(input: &[u8]) -> Vec<u8> {
    decode_with(input, Some).unwrap_or_default()
}

/// One name or value of an `application/x-www-form-urlencoded` body (WHATWG URL §5.1, as RFC
/// 6749 §3.2 uses it): `+` is a space, every `%XX` is decoded strictly (`None` for a `%` without
/// two hex digits), and the result must be UTF-8 (`None` otherwise).
pub fn decode_form(input: &str) -> Option<String> {
    let spaced: Vec<u8> = input
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(decode(&spaced)?).ok()
}

/// `malformed` decides what a `%` without two hex digits after it becomes: a byte to keep, or
/// `None` to fail.
fn decode_with(input: &[u8], malformed: impl Fn(u8) -> Option<u8>) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let escape = (b == b'%')
            .then(|| {
                let hi = input.get(i + 1).copied().and_then(hex_value)?;
                let lo = input.get(i + 2).copied().and_then(hex_value)?;
                Some(hi << 4 | lo)
            })
            .flatten();
        match escape {
            Some(value) => {
                out.push(value);
                i += 3;
            }
            None if b == b'%' => {
                out.push(malformed(b)?);
                i += 1;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_lossy() {
        assert_eq!(decode(b"/%61%2Fb").as_deref(), Some(&b"/a/b"[..]));
        assert_eq!(decode(b"/%6"), None);
        assert_eq!(decode(b"/%zz"), None);
        assert_eq!(decode_lossy(b"a%5Fb%zz%4"), b"a_b%zz%4");
        assert_eq!(decode_lossy(b"%%41"), b"%A");
    }

    #[test]
    fn form_values() {
        assert_eq!(decode_form("a%2Eb+c").as_deref(), Some("a.b c"));
        // An escaped plus stays a plus; only a literal one is a space.
        assert_eq!(decode_form("%2B+").as_deref(), Some("+ "));
        assert_eq!(decode_form("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_form("").as_deref(), Some(""));
        assert_eq!(decode_form("a=%zz"), None);
        assert_eq!(decode_form("%4"), None);
        assert_eq!(decode_form("%ff"), None, "not UTF-8");
    }
}
