//! PEM text (RFC 7468): `-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`, as
//! Envoy's `jwt_authn` takes public keys and as Google and Firebase serve certificates. Strict:
//! only whitespace between blocks, the same label at both ends, standard base64 with padding.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// Bound on blocks in one document (a key set holds at most `jwk::MAX_KEYS` keys anyway).
pub const MAX_BLOCKS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    pub der: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// Text outside a block, or no block at all.
    NotPem,
    /// A block without its `-----END …-----` line, or one ending with another label.
    Unterminated(String),
    /// The body is not standard base64 (RFC 4648 §4) with its padding.
    NotBase64(String),
    TooManyBlocks,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NotPem => f.write_str("not PEM: expected \"-----BEGIN ...-----\""),
            PemError::Unterminated(label) => {
                write!(f, "PEM {label} block has no matching END line")
            }
            PemError::NotBase64(label) => write!(f, "PEM {label} block is not base64"),
            PemError::TooManyBlocks => write!(f, "more than {MAX_BLOCKS} PEM blocks"),
        }
    }
}

impl std::error::Error for PemError {}

/// Whether `text` looks like PEM (so that a key-set parser tries this reader, not JSON).
pub fn looks_like_pem(text: &str) -> bool {
    text.trim_start().starts_with("-----BEGIN ")
}

/// Every block of `text`, in order.
pub fn parse(text: &str) -> Result<Vec<Block>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let label = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .ok_or(PemError::NotPem)?;
        if blocks.len() >= MAX_BLOCKS {
            return Err(PemError::TooManyBlocks);
        }
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut ended = false;
        for line in lines.by_ref() {
            if line == end {
                ended = true;
                break;
            }
            if line.starts_with("-----") {
                break;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(PemError::Unterminated(label.to_owned()));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| PemError::NotBase64(label.to_owned()))?;
        blocks.push(Block {
            label: label.to_owned(),
            der,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NotPem);
    }
    Ok(blocks)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn blocks_in_order_with_any_line_breaks() {
        let text = "\n-----BEGIN PUBLIC KEY-----\r\nAAEC\r\nAw==\r\n-----END PUBLIC KEY-----\n\
                    -----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----";
        let blocks = parse(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "PUBLIC KEY");
        assert_eq!(blocks[0].der, vec![0, 1, 2, 3]);
        assert_eq!(blocks[1].label, "CERTIFICATE");
        assert_eq!(blocks[1].der, vec![4, 5]);
        assert!(looks_like_pem(text));
    }

    #[test]
    fn malformed_pem_is_refused() {
        assert_eq!(parse(""), Err(PemError::NotPem));
        assert_eq!(parse("hello"), Err(PemError::NotPem));
        assert_eq!(
            parse("junk\n-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----"),
            Err(PemError::NotPem)
        );
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY-----\nAA==\n-----END CERTIFICATE-----"),
            Err(PemError::Unterminated("PUBLIC KEY".into()))
        );
        assert_eq!(
            parse("-----BEGIN PUBLIC KEY-----\nAA==\n"),
            Err(PemError::Unterminated("PUBLIC KEY".into()))
        );
        for body in ["AA", "A*==", "AA==AA==", "AA-_"] {
            assert_eq!(
                parse(&format!("-----BEGIN X-----\n{body}\n-----END X-----")),
                Err(PemError::NotBase64("X".into())),
                "{body}"
            );
        }
        let many = "-----BEGIN X-----\nAA==\n-----END X-----\n".repeat(MAX_BLOCKS + 1);
        assert_eq!(parse(&many), Err(PemError::TooManyBlocks));
    }
}
