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
