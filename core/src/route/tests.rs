use super::*;

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn len(number: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(number << 3) | 2];
    varint(bytes.len(), &mut out);
    out.extend_from_slice(bytes);
    out
}

fn entry(key: &str, value: &[u8]) -> Vec<u8> {
    len(1, &[len(1, key.as_bytes()), len(2, value)].concat())
}

/// `Metadata` with `filter_metadata[ns] = Struct { fields }`.
fn metadata(ns: &str, fields: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let strukt: Vec<u8> = fields.iter().flat_map(|(k, v)| entry(k, v)).collect();
    entry(ns, &strukt)
}

fn string(s: &str) -> Vec<u8> {
    len(3, s.as_bytes())
}

fn boolean(b: bool) -> Vec<u8> {
    vec![4 << 3, u8::from(b)]
}

#[test]
fn a_requirement_name_or_disabled_is_read_from_the_warden_namespace() {
    assert_eq!(
        decode_route_metadata(&metadata("warden", &[("requirement", string("strict"))])),
        Ok(RouteChoice::Requirement("strict".into()))
    );
    assert_eq!(
        decode_route_metadata(&metadata("warden", &[("disabled", boolean(true))])),
        Ok(RouteChoice::Disabled)
    );
    assert_eq!(
        decode_route_metadata(&metadata(
            "warden",
            &[("disabled", boolean(false)), ("requirement", string("r"))]
        )),
        Ok(RouteChoice::Requirement("r".into()))
    );
    assert_eq!(
        decode_route_metadata(&metadata("warden", &[("disabled", boolean(false))])),
        Ok(RouteChoice::PathRules)
    );
}

#[test]
fn other_namespaces_fields_and_unknown_members_are_ignored() {
    assert_eq!(decode_route_metadata(&[]), Ok(RouteChoice::PathRules));
    assert_eq!(
        decode_route_metadata(&metadata(
            "envoy.filters.http.jwt_authn",
            &[("requirement", string("x"))]
        )),
        Ok(RouteChoice::PathRules)
    );
    // Other keys, a number value, a typed_filter_metadata entry (field 2) and a fixed32 field.
    let mut bytes = metadata(
        "warden",
        &[
            ("note", len(5, &[])),
            ("weight", [vec![2 << 3 | 1], vec![0; 8]].concat()),
            ("requirement", string("r")),
        ],
    );
    bytes.extend(len(2, &entry("x", b"")));
    bytes.extend([7 << 3 | 5, 0, 0, 0, 0]);
    assert_eq!(
        decode_route_metadata(&bytes),
        Ok(RouteChoice::Requirement("r".into()))
    );
}

#[test]
fn the_last_warden_entry_and_the_last_value_win_as_in_protobuf() {
    let bytes = [
        metadata("warden", &[("requirement", string("first"))]),
        metadata("warden", &[("requirement", string("second"))]),
    ]
    .concat();
    assert_eq!(
        decode_route_metadata(&bytes),
        Ok(RouteChoice::Requirement("second".into()))
    );
    // Oneof: string then bool in one Value reads as the bool.
    let value = [string("r"), boolean(true)].concat();
    assert_eq!(
        decode_route_metadata(&metadata("warden", &[("requirement", value)])),
        Err(MetadataError::WrongType("requirement"))
    );
}

#[test]
fn wrong_types_conflicts_and_broken_bytes_are_errors() {
    assert_eq!(
        decode_route_metadata(&metadata("warden", &[("disabled", string("true"))])),
        Err(MetadataError::WrongType("disabled"))
    );
    assert_eq!(
        decode_route_metadata(&metadata(
            "warden",
            &[("disabled", boolean(true)), ("requirement", string("r"))]
        )),
        Err(MetadataError::Conflict)
    );
    let good = metadata("warden", &[("requirement", string("r"))]);
    // Every truncation of a well-formed message is refused or reads as something valid; none
    // panics, none reads past the end.
    for cut in 0..good.len() {
        let _ = decode_route_metadata(&good[..cut]);
    }
    assert_eq!(
        decode_route_metadata(&good[..good.len() - 1]),
        Err(MetadataError::Malformed)
    );
    for bad in [
        vec![0x0a, 0x80],                         // length varint cut short
        vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // length past the end
        vec![0x0b],                               // a group
        vec![0x00, 0x00],                         // field number 0
        vec![
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ], // varint > u64
        entry("warden", &entry("requirement", &len(3, &[0xff]))), // not UTF-8
    ] {
        assert_eq!(
            decode_route_metadata(&bad),
            Err(MetadataError::Malformed),
            "{bad:?}"
        );
    }
}

#[test]
fn values_read_by_key_choose_as_the_protobuf_does() {
    let values = |requirement, disabled| RouteMetadata::Values {
        requirement,
        disabled,
    };
    use MetadataValue::{Bool, Null, Other, String as Text};
    assert_eq!(values(Null, Null).choice(), Ok(RouteChoice::PathRules));
    assert_eq!(values(Null, Bool(true)).choice(), Ok(RouteChoice::Disabled));
    assert_eq!(
        values(Text("admin".into()), Bool(false)).choice(),
        Ok(RouteChoice::Requirement("admin".into()))
    );
    assert_eq!(
        values(Other, Null).choice(),
        Err(MetadataError::WrongType("requirement"))
    );
    assert_eq!(
        values(Null, Text("yes".into())).choice(),
        Err(MetadataError::WrongType("disabled"))
    );
    assert_eq!(
        values(Text("a".into()), Bool(true)).choice(),
        Err(MetadataError::Conflict)
    );
}
