//! The fuzz targets' bodies live in `checks`, a module with no libFuzzer dependency, so the
//! stable test `core/tests/fuzz_regressions.rs` replays the corpora and crashers through the very
//! same code (it includes `src/checks/mod.rs` by path).

pub mod checks;
#[cfg(feature = "verifier")]
pub mod verifier;
