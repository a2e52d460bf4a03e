//! Big-endian byte arithmetic for boundary values (n − 1, n + 1, …) in the differential targets.

/// `value + delta` (delta −1, 0 or +1) on a big-endian number of fixed width, wrapping.
pub fn add_small(value: &[u8], delta: i8) -> Vec<u8> {
    let mut out = value.to_vec();
    match delta {
        1 => {
            for b in out.iter_mut().rev() {
                let (v, carry) = b.overflowing_add(1);
                *b = v;
                if !carry {
                    break;
                }
            }
        }
        -1 => {
            for b in out.iter_mut().rev() {
                let (v, borrow) = b.overflowing_sub(1);
                *b = v;
                if !borrow {
                    break;
                }
            }
        }
        _ => {}
    }
    out
}

pub fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex constant"))
        .collect()
}

/// `bytes` left-padded with zeros (or cut from the left) to `len`.
pub fn fit(bytes: &[u8], len: usize) -> Vec<u8> {
    if bytes.len() >= len {
        bytes[bytes.len() - len..].to_vec()
    } else {
        let mut out = vec![0u8; len - bytes.len()];
        out.extend_from_slice(bytes);
        out
    }
}
