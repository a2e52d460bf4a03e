//! The OBJECT IDENTIFIERs Warden reads and writes in public keys, as their encoded content
//! (X.690 §8.19, without tag and length): the reader compares `Reader::oid`'s result with them
//! byte for byte, the writer wraps them in an OID TLV.

/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 3279 §2.3.1).
pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The named curves of EC keys (RFC 5480 §2.1.1.1): prime256v1 (P-256), 1.2.840.10045.3.1.7;
pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (P-384), 1.3.132.0.34;
pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// secp521r1 (P-521), 1.3.132.0.35.
pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
/// id-Ed25519, 1.3.101.112 (RFC 8410 §3).
pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
