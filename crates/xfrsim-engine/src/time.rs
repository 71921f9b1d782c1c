//! Simulated time as the engine sees it: a point handed in by the driver, never read from a clock.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point in time, measured from an origin the driver chooses (the simulation epoch, or the
/// moment a real node started). The engine only compares and offsets these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(Duration);

impl Time {
    pub const ZERO: Time = Time(Duration::ZERO);

    pub fn from_duration(since_origin: Duration) -> Self {
        Time(since_origin)
    }

    pub fn from_millis(millis: u64) -> Self {
        Time(Duration::from_millis(millis))
    }

    pub fn from_secs(secs: u64) -> Self {
        Time(Duration::from_secs(secs))
    }

    pub fn since_origin(self) -> Duration {
        self.0
    }

    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, rhs: Duration) -> Time {
        Time(self.0.saturating_add(rhs))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, rhs: Duration) -> Time {
        Time(self.0.saturating_sub(rhs))
    }
}

/// `[d]d]hh:mm:ss.mmm`, e.g. `2d03:04:05.006`: days appear only once a day has passed.
impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_ms = self.as_millis();
        let (days, rest) = (total_ms / 86_400_000, total_ms % 86_400_000);
        let (hours, rest) = (rest / 3_600_000, rest % 3_600_000);
        let (minutes, rest) = (rest / 60_000, rest % 60_000);
        let (seconds, millis) = (rest / 1000, rest % 1000);
        if days > 0 {
            write!(f, "{days}d")?;
        }
        write!(f, "{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
    }
}
