//! Safe wrappers over the callbacks of `abi`.

use crate::abi::EnvoyBuffer;

/// The bytes of an Envoy buffer (empty for a null one).
///
/// # Safety
/// `buffer` must be live for `'a` (Envoy's buffers live until the hook returns).
pub unsafe fn bytes<'a>(buffer: EnvoyBuffer) -> &'a [u8] {
    if buffer.ptr.is_null() || buffer.length == 0 {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { std::slice::from_raw_parts(buffer.ptr, buffer.length) }
}
