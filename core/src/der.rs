//! A small, strict DER reader (ITU-T X.690 §10) for public keys and certificates: definite
//! lengths in their shortest form, single-byte tags, no trailing bytes where a structure ends.
//! Anything else is refused rather than guessed at: a key is either read exactly or not at all.
//!
//! [`write`] is the other direction: the DER a host's signature check takes, built from keys
//! Warden has already read and validated.

pub mod oid;
pub mod write;

use std::fmt;

/// Universal tags Warden reads.
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
/// `[0]` constructed, context-specific: a certificate's explicit `version`.
pub const CONTEXT_0: u8 = 0xa0;

/// Nesting depth bound: keys and certificates need far less, hostile input gets no more.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// The input ends inside an element.
    Truncated,
    /// Bytes after the last element of a structure.
    TrailingData,
    /// A tag other than the one the structure requires here.
    UnexpectedTag {
        expected: u8,
        found: u8,
    },
    /// Multi-byte (high-number) tags are not used by keys or certificates.
    HighTagNumber,
    /// The indefinite length form (BER only).
    IndefiniteLength,
    /// A length not in its shortest form, or longer than the input could hold.
    BadLength,
    /// An INTEGER that is empty, not minimally encoded, or negative where it must not be.
    BadInteger,
    /// A BIT STRING with unused bits (keys are whole bytes) or an empty one.
    BadBitString,
    /// NULL with content, or an OID that is empty or not minimally encoded.
    BadPrimitive,
    TooDeep,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DerError::Truncated => f.write_str("DER input ends inside an element"),
            DerError::TrailingData => f.write_str("DER structure has trailing bytes"),
            DerError::UnexpectedTag { expected, found } => {
                write!(f, "DER tag {found:#04x} where {expected:#04x} is required")
            }
            DerError::HighTagNumber => f.write_str("DER high-number tags are not supported"),
            DerError::IndefiniteLength => f.write_str("DER indefinite length (BER) is refused"),
            DerError::BadLength => f.write_str("DER length not minimal or out of range"),
            DerError::BadInteger => f.write_str("DER INTEGER malformed"),
            DerError::BadBitString => f.write_str("DER BIT STRING malformed"),
            DerError::BadPrimitive => f.write_str("DER NULL or OID malformed"),
            DerError::TooDeep => f.write_str("DER nesting too deep"),
        }
    }
}

impl std::error::Error for DerError {}

/// One element: its tag and its content bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads elements one after the other from a byte string.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: input,
            depth: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, without reading it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>, DerError> {
        let (&tag, after_tag) = self.rest.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTagNumber);
        }
        let (&first, mut after) = after_tag.split_first().ok_or(DerError::Truncated)?;
        let len = match first {
            0x80 => return Err(DerError::IndefiniteLength),
            0..=0x7f => usize::from(first),
            _ => {
                let count = usize::from(first & 0x7f);
                // More than 4 length bytes describe more than any input here can hold.
                if count > 4 {
                    return Err(DerError::BadLength);
                }
                let (bytes, rest) = after.split_at_checked(count).ok_or(DerError::Truncated)?;
                after = rest;
                let len = bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                // Shortest form: no leading zero byte, and the long form only from 128 on.
                if bytes.first() == Some(&0) || len < 0x80 {
                    return Err(DerError::BadLength);
                }
                len
            }
        };
        let (content, rest) = after.split_at_checked(len).ok_or(DerError::Truncated)?;
        self.rest = rest;
        Ok(Tlv { tag, content })
    }

    /// The next element, which must have tag `tag`.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let tlv = self.any()?;
        if tlv.tag != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found: tlv.tag,
            });
        }
        Ok(tlv.content)
    }

    /// A reader over the content of the next element, which must be a SEQUENCE.
    pub fn sequence(&mut self) -> Result<Reader<'a>, DerError> {
        self.nested(SEQUENCE)
    }

    /// A reader over the content of the next element, which must be a constructed `tag`.
    pub fn nested(&mut self, tag: u8) -> Result<Reader<'a>, DerError> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(DerError::TooDeep);
        }
        let content = self.expect(tag)?;
        Ok(Reader {
            rest: content,
            depth: self.depth + 1,
        })
    }

    /// A non-negative INTEGER's magnitude, big-endian, without the sign byte: minimal encoding
    /// (no superfluous leading 0x00 or 0xff byte), non-empty, sign bit clear.
    pub fn unsigned_integer(&mut self) -> Result<&'a [u8], DerError> {
        let content = self.expect(INTEGER)?;
        match content {
            [] => Err(DerError::BadInteger),
            [first, ..] if first & 0x80 != 0 => Err(DerError::BadInteger),
            [0] => Ok(content),
            [0, second, ..] if second & 0x80 == 0 => Err(DerError::BadInteger),
            [0, rest @ ..] => Ok(rest),
            _ => Ok(content),
        }
    }

    /// Any INTEGER (e.g. a certificate serial), minimally encoded; returns its raw content.
    pub fn integer(&mut self) -> Result<&'a [u8], DerError> {
        let content = self.expect(INTEGER)?;
        match content {
            [] => Err(DerError::BadInteger),
            [0, second, ..] if second & 0x80 == 0 => Err(DerError::BadInteger),
            [0xff, second, ..] if second & 0x80 != 0 => Err(DerError::BadInteger),
            _ => Ok(content),
        }
    }

    /// A BIT STRING of whole bytes (no unused bits), its bytes.
    pub fn bit_string_bytes(&mut self) -> Result<&'a [u8], DerError> {
        match self.expect(BIT_STRING)? {
            [0, bytes @ ..] => Ok(bytes),
            _ => Err(DerError::BadBitString),
        }
    }

    /// An OBJECT IDENTIFIER's encoded content (compared byte for byte with known OIDs).
    pub fn oid(&mut self) -> Result<&'a [u8], DerError> {
        let content = self.expect(OID)?;
        // Each arc is base-128, its first byte never 0x80 (minimal); the last byte ends an arc.
        let mut arc_start = true;
        for &b in content {
            if arc_start && b == 0x80 {
                return Err(DerError::BadPrimitive);
            }
            arc_start = b & 0x80 == 0;
        }
        if content.is_empty() || !arc_start {
            return Err(DerError::BadPrimitive);
        }
        Ok(content)
    }

    /// NULL (empty content).
    pub fn null(&mut self) -> Result<(), DerError> {
        if self.expect(NULL)?.is_empty() {
            Ok(())
        } else {
            Err(DerError::BadPrimitive)
        }
    }

    /// Ends a structure: nothing may follow its last element.
    pub fn finish(self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let mut r = Reader::new(&[0x04, 0x02, 0xaa, 0xbb]);
        assert_eq!(r.expect(OCTET_STRING).unwrap(), &[0xaa, 0xbb]);
        assert!(r.is_empty());
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(Reader::new(&long).expect(OCTET_STRING).unwrap().len(), 128);
        let mut two = vec![0x04, 0x82, 0x01, 0x00];
        two.extend([7u8; 256]);
        assert_eq!(Reader::new(&two).expect(OCTET_STRING).unwrap().len(), 256);
    }

    #[test]
    fn non_minimal_and_indefinite_lengths_are_refused() {
        // 5 in the long form, a leading zero length byte, indefinite, 5 length bytes.
        for bad in [
            &[0x04, 0x81, 0x05, 1, 2, 3, 4, 5][..],
            &[0x04, 0x82, 0x00, 0x80][..],
            &[0x30, 0x80, 0x00, 0x00][..],
            &[0x04, 0x85, 1, 0, 0, 0, 0][..],
        ] {
            let e = Reader::new(bad).any().unwrap_err();
            assert!(
                matches!(e, DerError::BadLength | DerError::IndefiniteLength),
                "{bad:?}: {e:?}"
            );
        }
        assert_eq!(
            Reader::new(&[0x04, 0x05, 1]).any(),
            Err(DerError::Truncated)
        );
        assert_eq!(Reader::new(&[0x04]).any(), Err(DerError::Truncated));
        assert_eq!(
            Reader::new(&[0x1f, 0x01, 0x00]).any(),
            Err(DerError::HighTagNumber)
        );
    }

    #[test]
    fn integers_must_be_minimal_and_unsigned_ones_positive() {
        let int = |bytes: &[u8]| {
            let mut v = vec![INTEGER, bytes.len() as u8];
            v.extend_from_slice(bytes);
            v
        };
        assert_eq!(
            Reader::new(&int(&[0x00, 0x80])).unsigned_integer().unwrap(),
            &[0x80]
        );
        assert_eq!(
            Reader::new(&int(&[0x01, 0x00])).unsigned_integer().unwrap(),
            &[1, 0]
        );
        assert_eq!(Reader::new(&int(&[0])).unsigned_integer().unwrap(), &[0]);
        for bad in [&[][..], &[0x00, 0x01][..], &[0x80][..], &[0xff, 0x80][..]] {
            assert_eq!(
                Reader::new(&int(bad)).unsigned_integer(),
                Err(DerError::BadInteger),
                "{bad:?}"
            );
        }
        // A serial may be negative, still minimal.
        assert_eq!(Reader::new(&int(&[0x80])).integer().unwrap(), &[0x80]);
        assert_eq!(
            Reader::new(&int(&[0xff, 0x80])).integer(),
            Err(DerError::BadInteger)
        );
    }

    #[test]
    fn structures_end_exactly() {
        let seq = [0x30, 0x03, 0x02, 0x01, 0x05];
        let mut outer = Reader::new(&seq);
        let mut inner = outer.sequence().unwrap();
        assert_eq!(inner.unsigned_integer().unwrap(), &[5]);
        inner.finish().unwrap();
        outer.finish().unwrap();
        let extra = [0x30, 0x03, 0x02, 0x01, 0x05, 0x00];
        let mut outer = Reader::new(&extra);
        outer.sequence().unwrap();
        assert_eq!(outer.finish(), Err(DerError::TrailingData));
        assert_eq!(
            Reader::new(&[0x02, 0x01, 0x05]).sequence().unwrap_err(),
            DerError::UnexpectedTag {
                expected: SEQUENCE,
                found: INTEGER
            }
        );
    }

    #[test]
    fn bit_strings_oids_and_nulls() {
        assert_eq!(
            Reader::new(&[0x03, 0x03, 0x00, 0xab, 0xcd])
                .bit_string_bytes()
                .unwrap(),
            &[0xab, 0xcd]
        );
        assert_eq!(
            Reader::new(&[0x03, 0x02, 0x01, 0xab]).bit_string_bytes(),
            Err(DerError::BadBitString)
        );
        assert_eq!(
            Reader::new(&[0x03, 0x00]).bit_string_bytes(),
            Err(DerError::BadBitString)
        );
        // 1.3.101.112 (Ed25519).
        assert_eq!(
            Reader::new(&[0x06, 0x03, 0x2b, 0x65, 0x70]).oid().unwrap(),
            &[0x2b, 0x65, 0x70]
        );
        for bad in [
            &[0x06, 0x00][..],
            &[0x06, 0x02, 0x80, 0x01][..],
            &[0x06, 0x01, 0x81][..],
        ] {
            assert_eq!(
                Reader::new(bad).oid(),
                Err(DerError::BadPrimitive),
                "{bad:?}"
            );
        }
        Reader::new(&[0x05, 0x00]).null().unwrap();
        assert_eq!(
            Reader::new(&[0x05, 0x01, 0x00]).null(),
            Err(DerError::BadPrimitive)
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let empty_seq = [0x30, 0x00];
        let mut r = Reader::new(&empty_seq);
        r.depth = MAX_DEPTH - 1;
        assert!(r.clone().sequence().is_ok());
        r.depth = MAX_DEPTH;
        assert_eq!(r.sequence().unwrap_err(), DerError::TooDeep);
    }
}
