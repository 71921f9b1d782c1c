//! RFC 1982 serial number arithmetic for SOA serials (SERIAL_BITS = 32).

use std::cmp::Ordering;
use std::fmt;

/// The largest increment RFC 1982 §3.1 allows in one addition: 2^31 - 1.
pub const MAX_SERIAL_INCREMENT: u32 = (1 << 31) - 1;

/// A zone serial number, compared in sequence space (RFC 1982).
///
/// The order is partial and not transitive over the whole ring, so this type deliberately
/// implements neither `PartialOrd` nor `Ord` (their contracts demand transitivity, which the
/// standard library's sorting relies on). Use [`Serial::compare`] and the `is_*` helpers.
///
/// "No zone yet" is not a serial: model it as `Option<Serial>`, never as serial 0, because
/// RFC 1982 says 4294967295 < 0 and a secondary starting at "0" would refuse that zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Serial(pub u32);

impl Serial {
    /// Compares two serials in sequence space (RFC 1982 §3.2).
    ///
    /// At distance exactly 2^31 the result is undefined by the RFC; like BIND's
    /// `isc_serial_gt`/`isc_serial_lt` we answer "neither is greater": `None`.
    pub fn compare(self, other: Serial) -> Option<Ordering> {
        if self.0 == other.0 {
            return Some(Ordering::Equal);
        }
        let forward = other.0.wrapping_sub(self.0);
        match forward.cmp(&(1u32 << 31)) {
            Ordering::Less => Some(Ordering::Less),
            Ordering::Greater => Some(Ordering::Greater),
            Ordering::Equal => None,
        }
    }

    /// True iff `self` is strictly greater than `other` in sequence space.
    pub fn is_newer_than(self, other: Serial) -> bool {
        self.compare(other) == Some(Ordering::Greater)
    }

    /// True iff `self` is strictly less than `other` in sequence space.
    pub fn is_older_than(self, other: Serial) -> bool {
        self.compare(other) == Some(Ordering::Less)
    }

    /// Serial addition (RFC 1982 §3.1): defined only for increments up to 2^31 - 1.
    pub fn checked_add(self, increment: u32) -> Option<Serial> {
        (increment <= MAX_SERIAL_INCREMENT).then(|| Serial(self.0.wrapping_add(increment)))
    }

    /// The next serial for an automatic increment: +1, wrapping past 2^32 - 1 and skipping 0,
    /// which RFC 2136 §7.11 and RFC 1982 §7 advise never to publish.
    pub fn next(self) -> Serial {
        match self.0.wrapping_add(1) {
            0 => Serial(1),
            n => Serial(n),
        }
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for Serial {
    fn from(value: u32) -> Self {
        Serial(value)
    }
}
