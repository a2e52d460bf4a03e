//! Target `host_crypto_args`: arbitrary bytes as the `verify_signature` arguments a native host
//! reads back (`host_crypto::decode_arguments`), and as a host's answer (`decode_result`).
//!
//! Oracles: neither panics; decoded arguments are slices of the input and re-encode
//! (`encode_arguments`) to a message that decodes to the same arguments; any four byte strings
//! with a UTF-8 hash name survive `encode_arguments` → `decode_arguments` exactly; an answer
//! `encode_result` writes decodes to the same verdict.

use warden_core::host_crypto::{
    decode_arguments, decode_result, encode_arguments, encode_result, SignatureArguments,
};

fn within(data: &[u8], part: &[u8]) -> bool {
    let range = data.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}

pub fn run(data: &[u8]) {
    let _ = decode_result(data);
    if let Some(arguments) = decode_arguments(data) {
        let SignatureArguments {
            hash_function,
            public_key,
            signature,
            text,
        } = arguments;
        for part in [hash_function.as_bytes(), public_key, signature, text] {
            assert!(within(data, part), "a decoded field outside the input");
        }
        let again = encode_arguments(hash_function, public_key, signature, text);
        assert_eq!(
            decode_arguments(&again),
            Some(arguments),
            "re-encoding changed it"
        );
    }
    // The input cut in four at lengths its first bytes give, as the four fields.
    let (head, rest) = data.split_at(data.len().min(3));
    let mut parts = Vec::new();
    let mut rest = rest;
    for &len in head {
        let (part, tail) = rest.split_at(rest.len().min(usize::from(len)));
        parts.push(part);
        rest = tail;
    }
    parts.resize(3, &[][..]);
    let hash = String::from_utf8_lossy(parts[0]);
    let (public_key, signature, text) = (parts[1], parts[2], rest);
    let encoded = encode_arguments(&hash, public_key, signature, text);
    assert_eq!(
        decode_arguments(&encoded),
        Some(SignatureArguments {
            hash_function: &hash,
            public_key,
            signature,
            text,
        }),
        "encode → decode is not the identity"
    );
    for ok in [false, true] {
        assert_eq!(decode_result(&encode_result(ok)), Ok(ok));
    }
}

pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut seed = |name: &str, bytes: Vec<u8>| out.push((name.to_owned(), bytes));
    seed("empty", Vec::new());
    seed(
        "rs256",
        encode_arguments(
            "sha256",
            &[0x30; 294],
            &[0x5a; 256],
            b"eyJhbGciOiJSUzI1NiJ9.e30",
        ),
    );
    seed(
        "es384",
        encode_arguments("sha384", &[0x30; 120], &[0x30; 104], b"a.b"),
    );
    seed(
        "eddsa",
        encode_arguments("sha512", &[0x30; 44], &[0x11; 64], b"a.b"),
    );
    seed("empty-fields", encode_arguments("", &[], &[], &[]));
    let mut unknown = vec![
        0x28, 0x96, 0x01, 0x31, 1, 2, 3, 4, 5, 6, 7, 8, 0x3d, 1, 2, 3, 4,
    ];
    unknown.extend(encode_arguments("sha256", b"k", b"s", b"t"));
    seed("unknown-fields", unknown);
    seed(
        "repeated",
        [
            encode_arguments("sha1", b"a", b"b", b"c"),
            encode_arguments("sha256", b"k", b"s", b"t"),
        ]
        .concat(),
    );
    seed(
        "truncated",
        encode_arguments("sha256", &[1; 40], &[2; 40], b"text")[..50].to_vec(),
    );
    seed("wrong-wire-type", vec![0x08, 0x01, 0x12, 0x01, 0x00]);
    seed(
        "long-varint",
        vec![
            0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
    );
    seed("answer-true", encode_result(true));
    seed("answer-error", vec![0x12, 0x03, b'b', b'a', b'd']);
    seed("not-utf8-hash", vec![0x0a, 0x02, 0xc3, 0x28]);
    out
}
