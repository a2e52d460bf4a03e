//! The one wall clock. Everything that needs the time reads it here, once per request, and passes
//! it on as `now` (so the logic below is tested with any time it likes).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The system clock reads before 1970, or past what an `i64` of milliseconds holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockError;

impl std::fmt::Display for ClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system clock is before 1970")
    }
}

impl std::error::Error for ClockError {}

/// Time since the Unix epoch.
pub fn since_epoch() -> Result<Duration, ClockError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ClockError)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> Result<i64, ClockError> {
    unix_seconds(since_epoch()?)
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> Result<i64, ClockError> {
    i64::try_from(since_epoch()?.as_millis()).map_err(|_| ClockError)
}

/// Whole seconds of `elapsed`.
pub fn unix_seconds(elapsed: Duration) -> Result<i64, ClockError> {
    i64::try_from(elapsed.as_secs()).map_err(|_| ClockError)
}

/// `elapsed` in whole seconds, rounded up: the first whole second not before it.
pub fn unix_seconds_rounded_up(elapsed: Duration) -> Result<i64, ClockError> {
    let seconds = elapsed
        .as_secs()
        .saturating_add(u64::from(elapsed.subsec_nanos() > 0));
    i64::try_from(seconds).map_err(|_| ClockError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_up_only_moves_partial_seconds() {
        assert_eq!(unix_seconds_rounded_up(Duration::from_secs(10)), Ok(10));
        assert_eq!(
            unix_seconds_rounded_up(Duration::from_millis(10_001)),
            Ok(11)
        );
        assert_eq!(unix_seconds(Duration::from_millis(10_999)), Ok(10));
        assert_eq!(unix_seconds(Duration::from_secs(u64::MAX)), Err(ClockError));
    }

    #[test]
    fn the_clock_reads_after_1970() {
        let ms = unix_now_ms().unwrap();
        let s = unix_now().unwrap();
        assert!(ms / 1000 <= s + 1 && s <= ms / 1000 + 1);
    }
}
