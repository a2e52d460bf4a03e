//! Target `der_keys`: arbitrary bytes as DER (SubjectPublicKeyInfo, PKCS#1 RSA key, X.509
//! certificate) and as PEM / certificate-map text through `KeySet::parse`.
//!
//! Oracles: the DER reader is canonical — a run of elements it reads re-encodes (tag, shortest
//! length, content) to exactly the input bytes, and never past its end; a key read from DER
//! has the JWK members of its kind; a key set built from PEM text holds only asymmetric keys
//! of the kind their members name.

use warden_core::alg::KeyKind;
use warden_core::der::Reader;
use warden_core::jwk::KeySet;
use warden_core::pubkey;

pub fn run(data: &[u8]) {
    check_reader(data);
    for members in [
        pubkey::spki_jwk(data),
        pubkey::pkcs1_jwk(data),
        pubkey::certificate_jwk(data),
    ]
    .into_iter()
    .flatten()
    {
        let kty = members.get("kty").and_then(|v| v.as_str()).unwrap_or("");
        let needed: &[&str] = match kty {
            "RSA" => &["n", "e"],
            "EC" => &["crv", "x", "y"],
            "OKP" => &["crv", "x"],
            other => panic!("a DER key of unknown kind {other:?}"),
        };
        for name in needed {
            assert!(
                members.get(*name).is_some_and(|v| v.is_string()),
                "{kty} without {name}"
            );
        }
        // The members go through the one JWK path; whatever it decides, it must not panic.
        let _ = KeySet::parse(&serde_json::Value::Object(members).to_string());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(set) = KeySet::parse(text) {
            if warden_core::pem::looks_like_pem(text) {
                assert!(
                    set.keys.iter().all(|k| k.material.kind() != KeyKind::Hmac),
                    "a symmetric key out of PEM"
                );
            }
        }
    }
}

/// Elements read one after another (descending into SEQUENCEs) re-encode to the input.
fn check_reader(data: &[u8]) {
    let mut reader = Reader::new(data);
    let mut consumed = 0usize;
    while !reader.is_empty() {
        let Ok(tlv) = reader.any() else {
            return;
        };
        let encoded = encode(tlv.tag, tlv.content);
        let end = consumed + encoded.len();
        assert!(end <= data.len(), "an element past the end of the input");
        assert_eq!(
            &data[consumed..end],
            encoded.as_slice(),
            "a non-canonical element was accepted"
        );
        consumed = end;
        if tlv.tag == warden_core::der::SEQUENCE {
            check_reader(tlv.content);
        }
    }
    assert_eq!(consumed, data.len());
}

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}
