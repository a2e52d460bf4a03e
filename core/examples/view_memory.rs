//! Heap bytes of stream mode's revocation view holding N revoked jtis (distinct users, 17-byte
//! `sub`, 32-byte `jti`, as the e2e tokens have), measured with a counting allocator. Native
//! 64-bit build; in wasm32 pointers and lengths are half as wide, so a VM needs at most this.
//! `cargo run --release -p warden-core --example view_memory -- 10000 100000`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use warden_core::protocol::feed::{PollAnswer, RevokedJti, Snapshot};
use warden_core::revocation_view::RevocationView;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let now = 1_800_000_000_000u64;
    for n in if counts.is_empty() {
        vec![10_000, 100_000]
    } else {
        counts
    } {
        let base = LIVE.load(Ordering::Relaxed);
        let snapshot = Snapshot {
            seq: 1,
            id: None,
            skew_seconds: 300,
            not_before: None,
            jtis: (0..n)
                .map(|i| RevokedJti {
                    sub: format!("user-{i:012}"),
                    jti: format!("{:032x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
                    until: Some(1_800_000_600),
                })
                .collect(),
            users: vec![],
            sessions: vec![],
            live: vec![],
            idp_issuers: Vec::new(),
            idp_sessions: Vec::new(),
        };
        let mut view = RevocationView::new(1000, n);
        let answer = PollAnswer::Snapshot(snapshot);
        let start = std::time::Instant::now();
        if let Err(e) = view.apply(answer, now, now) {
            eprintln!("{e}");
            return;
        }
        let applied_in = start.elapsed();
        // The answer was consumed and freed by `apply`: what is left is the view.
        let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(base);
        println!(
            "{n} revoked jtis: view {:.1} MiB ({:.0} bytes per jti), snapshot applied in {:.1} ms",
            bytes as f64 / 1_048_576.0,
            bytes as f64 / n as f64,
            applied_in.as_secs_f64() * 1000.0
        );
        // Cost of one local decision (a token of a user with revocations elsewhere).
        let request = warden_core::protocol::CheckRequest {
            sub: "user-000000000042".into(),
            jti: Some("not-revoked".into()),
            sid: None,
            ver: Some(0),
            iat: Some(1_799_999_000),
            exp: 1_800_000_600,
            iss: None,
        };
        let rounds = 1_000_000u32;
        let start = std::time::Instant::now();
        let mut allowed = 0u32;
        for _ in 0..rounds {
            let verdict = view.decide(std::hint::black_box(&request), now);
            allowed += u32::from(verdict == Some(warden_core::protocol::Verdict::Allow));
        }
        println!(
            "  one local decision: {:.0} ns ({allowed} of {rounds} allowed)",
            start.elapsed().as_secs_f64() * 1e9 / f64::from(rounds)
        );
        drop(view);
    }
}
