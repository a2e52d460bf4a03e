//! Panics caught at the hooks, counted for the process (each request's own is also counted in
//! `warden.native.panics` of its configuration).

use std::sync::atomic::{AtomicU64, Ordering};

static CAUGHT: AtomicU64 = AtomicU64::new(0);

/// Counts one panic caught at a hook.
pub fn caught() {
    CAUGHT.fetch_add(1, Ordering::Relaxed);
}

/// Panics caught since the module loaded.
#[cfg(test)]
pub fn count() -> u64 {
    CAUGHT.load(Ordering::Relaxed)
}
