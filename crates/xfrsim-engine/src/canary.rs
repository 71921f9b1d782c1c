//! Planted bugs, one at a time, for proving that the explorer's checkers catch what they
//! claim to catch (FoundationDB and TigerBeetle plant bugs the same way to test their
//! simulators). Off unless a run asks for one: the field lives in [`crate::Behaviour`] but no
//! profile, option or scenario file can set it; only the harness's explore entry point does.

use std::fmt;

/// One planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canary {
    /// A transfer cut mid-stream is installed as if complete (RFC 5936 §2.2: an AXFR ends with
    /// the SOA again; a stream that ends sooner is incomplete and must be thrown away).
    AcceptTruncatedAxfr,
    /// A SOA answer with an equal serial does not reset the expire timer (RFC 1034 §4.3.5:
    /// expire counts from the last successful refresh, equal serial included).
    KeepExpireOnEqualSerial,
    /// A failed IXFR is not retried as AXFR (RFC 1995 §4; BIND xfrin.c retries with AXFR).
    NoAxfrFallback,
    /// Serials compared as plain integers instead of RFC 1982 sequence-space arithmetic.
    IntegerSerialCompare,
    /// A secondary serves the records received so far while a transfer is under way.
    ServeDuringTransfer,
}

impl Canary {
    pub const ALL: [Canary; 5] = [
        Canary::AcceptTruncatedAxfr,
        Canary::KeepExpireOnEqualSerial,
        Canary::NoAxfrFallback,
        Canary::IntegerSerialCompare,
        Canary::ServeDuringTransfer,
    ];

    /// The name on the command line (`--canary accept-truncated-axfr`).
    pub fn name(self) -> &'static str {
        match self {
            Canary::AcceptTruncatedAxfr => "accept-truncated-axfr",
            Canary::KeepExpireOnEqualSerial => "keep-expire-on-equal-serial",
            Canary::NoAxfrFallback => "no-axfr-fallback",
            Canary::IntegerSerialCompare => "integer-serial-compare",
            Canary::ServeDuringTransfer => "serve-during-transfer",
        }
    }

    pub fn from_name(name: &str) -> Option<Canary> {
        Canary::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
