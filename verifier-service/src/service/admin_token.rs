//! The admin bearer token: read from a file, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest admin token accepted, in bytes.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 16;

#[derive(Clone)]
pub struct AdminToken {
    /// SHA-256 of the token: comparing digests keeps the comparison constant-time in the
    /// token's length as well as its content.
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminTokenError {
    TooShort { bytes: usize },
    NotText,
}

impl std::fmt::Display for AdminTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminTokenError::TooShort { bytes } => write!(
                f,
                "the token has {bytes} bytes; at least {MIN_ADMIN_TOKEN_BYTES} are required"
            ),
            AdminTokenError::NotText => f.write_str("the token must be printable ASCII"),
        }
    }
}

impl std::error::Error for AdminTokenError {}

impl AdminToken {
    /// From the token file's content; surrounding whitespace (a trailing newline) is ignored.
    pub fn from_file_content(content: &[u8]) -> Result<AdminToken, AdminTokenError> {
        let text = std::str::from_utf8(content).map_err(|_| AdminTokenError::NotText)?;
        let token = text.trim();
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminTokenError::NotText);
        }
        if token.len() < MIN_ADMIN_TOKEN_BYTES {
            return Err(AdminTokenError::TooShort { bytes: token.len() });
        }
        Ok(AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether an `Authorization` header value carries this token (`Bearer` scheme, any case).
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(scheme) = value.get(..7) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let presented = value.get(7..).unwrap_or_default().trim_ascii();
        let digest: [u8; 32] = Sha256::digest(presented).into();
        bool::from(digest.ct_eq(&self.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"0123456789abcdef-admin\n";

    #[test]
    fn accepts_only_the_right_bearer_token() {
        let token = AdminToken::from_file_content(TOKEN).unwrap();
        assert!(token.accepts(Some(b"Bearer 0123456789abcdef-admin")));
        assert!(token.accepts(Some(b"bearer 0123456789abcdef-admin")));
        assert!(!token.accepts(None));
        assert!(!token.accepts(Some(b"")));
        assert!(!token.accepts(Some(b"Bearer")));
        assert!(!token.accepts(Some(b"Bearer ")));
        assert!(!token.accepts(Some(b"Basic 0123456789abcdef-admin")));
        assert!(!token.accepts(Some(b"Bearer 0123456789abcdef-admiN")));
        assert!(!token.accepts(Some(b"Bearer 0123456789abcdef-admin2")));
        assert!(!token.accepts(Some(b"0123456789abcdef-admin")));
    }

    #[test]
    fn refuses_weak_or_odd_tokens() {
        assert_eq!(
            AdminToken::from_file_content(b"short\n").unwrap_err(),
            AdminTokenError::TooShort { bytes: 5 }
        );
        assert_eq!(
            AdminToken::from_file_content(b"").unwrap_err(),
            AdminTokenError::TooShort { bytes: 0 }
        );
        assert_eq!(
            AdminToken::from_file_content(b"0123456789 abcdef").unwrap_err(),
            AdminTokenError::NotText
        );
        assert_eq!(
            AdminToken::from_file_content(b"\xff\xfe0123456789abcdef").unwrap_err(),
            AdminTokenError::NotText
        );
    }
}
