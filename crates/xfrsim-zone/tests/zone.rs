//! The single integration-test binary of `xfrsim-zone`.
//!
//! Each module checks one promise the zone model makes to an operator:
//! - `serial`: RFC 1982 sequence-space comparison and increments;
//! - `journal`: dynamic updates, the IXFR journal, and IXFR-vs-AXFR agreement;
//! - `atomicity`: a bad diff chain leaves the zone untouched;
//! - `digest`: the content digest sees content, and only content;
//! - `diff`: `Diff::between` is an exact, minimal difference;
//! - `master_file`: RFC 1035 master files load, and errors point at the right line.
//! - `sources`: `$INCLUDE`, confinement to a directory, regular files only, size and include
//!   limits.
//! - `fidelity`: every type and escape BIND reads, to the octet; records survive text and
//!   wire unchanged, case included.

#[path = "zone/support.rs"]
mod support;

#[path = "zone/atomicity.rs"]
mod atomicity;
#[path = "zone/diff.rs"]
mod diff;
#[path = "zone/digest.rs"]
mod digest;
#[path = "zone/fidelity.rs"]
mod fidelity;
#[path = "zone/journal.rs"]
mod journal;
#[path = "zone/master_file.rs"]
mod master_file;
#[path = "zone/serial.rs"]
mod serial;
#[path = "zone/sources.rs"]
mod sources;
