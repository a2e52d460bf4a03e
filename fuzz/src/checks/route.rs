//! Target `route_metadata`: arbitrary bytes as `xds.route_metadata` through
//! `route::decode_route_metadata`.
//!
//! Oracles: it never panics; a requirement name it reads is text the input holds; input that
//! has no `warden` bytes at all never selects anything but the path rules; appending a well-formed
//! `warden` entry to input that decodes makes that entry decide (the last entry wins).

use warden_core::route::{decode_route_metadata, RouteChoice};

fn len(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(number << 3) | 2];
    let mut n = bytes.len();
    loop {
        let b = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
    out
}

pub fn run(data: &[u8]) {
    let decoded = decode_route_metadata(data);
    match &decoded {
        Ok(RouteChoice::Requirement(name)) => {
            assert!(
                data.windows(name.len().max(1))
                    .any(|w| w == name.as_bytes())
                    || name.is_empty(),
                "a requirement name the input does not hold: {name:?}"
            );
        }
        Ok(RouteChoice::Disabled) | Ok(RouteChoice::PathRules) | Err(_) => {}
    }
    if !data.windows(6).any(|w| w == b"warden") {
        assert!(
            matches!(decoded, Ok(RouteChoice::PathRules) | Err(_)),
            "selected {decoded:?} without a warden entry"
        );
    }
    if decoded.is_ok() {
        let value = len(3, b"fuzz");
        let field = len(1, &[len(1, b"requirement"), len(2, &value)].concat());
        let entry = len(1, &[len(1, b"warden"), len(2, &field)].concat());
        let mut appended = data.to_vec();
        appended.extend(entry);
        assert_eq!(
            decode_route_metadata(&appended),
            Ok(RouteChoice::Requirement("fuzz".into())),
            "the last warden entry does not decide"
        );
    }
}

fn entry(key: &str, value: &[u8]) -> Vec<u8> {
    len(1, &[len(1, key.as_bytes()), len(2, value)].concat())
}

/// `Metadata` with `filter_metadata[ns] = Struct { fields }`.
fn metadata(ns: &str, fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let strukt: Vec<u8> = fields.iter().flat_map(|(k, v)| entry(k, v)).collect();
    entry(ns, &strukt)
}

/// Seeds: the shapes Envoy sends (no metadata, other filters' namespaces, a requirement,
/// `disabled`, both, wrong types, nested values, repeated entries) and a few broken ones.
pub fn seeds() -> super::seeds::Seeds {
    let string = |s: &str| len(3, s.as_bytes());
    let boolean = |b: bool| vec![4 << 3, u8::from(b)];
    let number = [vec![2 << 3 | 1], 1.5f64.to_le_bytes().to_vec()].concat();
    let requirement = metadata("warden", &[("requirement", string("strict"))]);
    let mut out: super::seeds::Seeds = vec![
        ("empty".into(), Vec::new()),
        ("requirement".into(), requirement.clone()),
        (
            "disabled".into(),
            metadata("warden", &[("disabled", boolean(true))]),
        ),
        (
            "not-disabled".into(),
            metadata("warden", &[("disabled", boolean(false))]),
        ),
        (
            "both".into(),
            metadata(
                "warden",
                &[("disabled", boolean(true)), ("requirement", string("r"))],
            ),
        ),
        (
            "requirement-bool".into(),
            metadata("warden", &[("requirement", boolean(true))]),
        ),
        (
            "disabled-number".into(),
            metadata("warden", &[("disabled", number.clone())]),
        ),
        (
            "other-namespace".into(),
            metadata(
                "envoy.filters.http.jwt_authn",
                &[("requirement", string("x"))],
            ),
        ),
        (
            "nested-struct".into(),
            metadata(
                "warden",
                &[
                    ("extra", len(5, &entry("k", &string("v")))),
                    ("requirement", string("r")),
                ],
            ),
        ),
        (
            "repeated".into(),
            [
                metadata("warden", &[("disabled", boolean(true))]),
                requirement.clone(),
            ]
            .concat(),
        ),
        (
            "typed-filter-metadata".into(),
            len(2, &entry("warden", b"\x0a\x00")),
        ),
        (
            "truncated".into(),
            requirement[..requirement.len() - 2].to_vec(),
        ),
        ("group-wire-type".into(), vec![0x0b, 0x0c]),
        (
            "long-varint".into(),
            vec![
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ),
    ];
    out.push((
        "bad-utf8".into(),
        metadata("warden", &[("requirement", len(3, &[0xc3, 0x28]))]),
    ));
    out
}
