//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the request's `traceparent` and
//! `tracestate`, carried onto the verifier call so the verifier's span joins the request's trace.
//!
//! The values come from the client (or from a proxy in front), so only well-formed ones travel:
//! a `traceparent` the spec would reject is dropped, and `tracestate` goes only with a valid
//! `traceparent` (the spec's rule) and only within [`MAX_TRACESTATE_BYTES`]. Nothing here affects
//! a decision: a dropped context only starts a new trace at the verifier.

/// Longest `tracestate` carried on (the spec's 32 members of a short key and value fit; a longer
/// list is dropped whole rather than cut, so no member is ever truncated into another).
pub const MAX_TRACESTATE_BYTES: usize = 512;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Length of a version-00 `traceparent`: `vv-<32 hex>-<16 hex>-ff`.
const TRACEPARENT_LEN: usize = 55;

/// The trace context headers to send with the verifier call, from the request's headers (names in
/// lower case): `traceparent` when exactly one well-formed one came, then `tracestate` (several
/// headers joined with `,`, as the spec allows) when it is printable and short enough.
pub fn propagated(headers: &[(String, String)]) -> Vec<(&'static str, String)> {
    let mut parents = headers.iter().filter(|(n, _)| n == TRACEPARENT);
    let (Some((_, parent)), None) = (parents.next(), parents.next()) else {
        return Vec::new();
    };
    if !valid_traceparent(parent) {
        return Vec::new();
    }
    let mut out = vec![(TRACEPARENT, parent.clone())];
    let states: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == TRACESTATE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let state = states.join(",");
    let printable = state.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if !state.is_empty() && state.len() <= MAX_TRACESTATE_BYTES && printable {
        out.push((TRACESTATE, state));
    }
    out
}

/// `version-traceid-parentid-flags` in lower-case hex: version `ff` is invalid, version `00` is
/// exactly 55 characters, a later version may add fields after another `-`; the trace id and
/// the parent id are not all zeros.
pub fn valid_traceparent(value: &str) -> bool {
    let bytes = value.as_bytes();
    let (Some(head), rest) = (bytes.get(..TRACEPARENT_LEN), bytes.get(TRACEPARENT_LEN..)) else {
        return false;
    };
    let hex = |field: &[u8]| {
        field
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let zeros = |field: &[u8]| field.iter().all(|&b| b == b'0');
    let fields: Vec<&[u8]> = head.split(|&b| b == b'-').collect();
    let [version, trace_id, parent_id, flags] = fields.as_slice() else {
        return false;
    };
    let shaped = version.len() == 2
        && trace_id.len() == 32
        && parent_id.len() == 16
        && flags.len() == 2
        && [*version, *trace_id, *parent_id, *flags]
            .iter()
            .all(|field| hex(field));
    if !shaped || *version == b"ff" || zeros(trace_id) || zeros(parent_id) {
        return false;
    }
    match rest {
        None | Some([]) => true,
        // Version 00 has exactly four fields; a later version may append more.
        Some(more) => {
            *version != b"00"
                && more.first() == Some(&b'-')
                && more.iter().all(|b| (0x21..=0x7e).contains(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_valid_traceparent_and_its_tracestate_travel() {
        let got = propagated(&headers(&[
            (":path", "/"),
            ("traceparent", PARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]));
        assert_eq!(
            got,
            vec![
                ("traceparent", PARENT.to_string()),
                (
                    "tracestate",
                    "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_string()
                ),
            ]
        );
        assert_eq!(
            propagated(&headers(&[("traceparent", PARENT)])),
            vec![("traceparent", PARENT.to_string())]
        );
    }

    #[test]
    fn nothing_travels_without_one_valid_traceparent() {
        assert!(propagated(&headers(&[("tracestate", "congo=t61rcWkgMzE")])).is_empty());
        assert!(propagated(&headers(&[
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]))
        .is_empty());
        // Two traceparents: which one is meant is unknown, so neither.
        assert!(propagated(&headers(&[
            ("traceparent", PARENT),
            ("traceparent", PARENT)
        ]))
        .is_empty());
    }

    #[test]
    fn a_long_or_unprintable_tracestate_is_dropped_alone() {
        let long = format!("k={}", "v".repeat(MAX_TRACESTATE_BYTES));
        for state in [long.as_str(), "k=v\u{7f}", "k=\u{e9}"] {
            assert_eq!(
                propagated(&headers(&[("traceparent", PARENT), ("tracestate", state)])),
                vec![("traceparent", PARENT.to_string())],
                "{state:?}"
            );
        }
        let fits = format!("k={}", "v".repeat(MAX_TRACESTATE_BYTES - 2));
        assert_eq!(
            propagated(&headers(&[("traceparent", PARENT), ("tracestate", &fits)])).len(),
            2
        );
    }

    #[test]
    fn traceparent_shapes() {
        assert!(valid_traceparent(PARENT));
        assert!(valid_traceparent(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        ));
        // A later version may carry more fields.
        assert!(valid_traceparent(
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"
        ));
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01extra",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-011",
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(!valid_traceparent(bad), "{bad:?}");
        }
    }
}
