//! What each side of an event-sequence check did, as classes of the Windows catalog: the real
//! server's log lines through [`PATTERNS`], our events through [`our_class`], each stamped with
//! the wall-clock instant it appeared; and the comparison of two such sequences.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xfrsim_engine::EventKind;

use super::super::ORIGIN;
use crate::ours::OurNode;
use crate::peer::Peer;
use crate::wall_now;

/// How far apart the two secondaries may place the same thing.
pub(super) const TOLERANCE: f64 = 1.0;
/// Lines (or events) of one class less than this apart are one occurrence: one refresh
/// attempt can log more than one line (BIND: the UDP query, then TCP).
pub(super) const SAME_ATTEMPT: f64 = 0.5;

/// An event class: a Windows event ID, or one of xfrsim's NOTIFY events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// 6520: a transferred version was installed.
    Updated,
    /// 6521: the master's serial equals ours.
    InSync,
    /// 6522: a newer serial was found; a transfer starts.
    Transferring,
    /// 6523: the master could not be reached.
    MasterUnavailable,
    /// 6524: the master answered unusably.
    BadResponse,
    /// 6525: the master refused the transfer.
    Refused,
    /// 6526: the master's serial is lower than ours.
    SerialLower,
    /// 6527: the zone expired.
    Expired,
    /// 6534: the transfer stream stopped early.
    Aborted,
    /// 6536: the IXFR failed; AXFR follows from the same master.
    IxfrFallback,
    /// XFRSIM_NOTIFY_REFUSED: a NOTIFY from a host that is not a master.
    NotifyRefused,
    /// XFRSIM_NOTIFY_RECEIVED: a NOTIFY from a master, accepted.
    NotifyReceived,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Updated => "6520",
            Class::InSync => "6521",
            Class::Transferring => "6522",
            Class::MasterUnavailable => "6523",
            Class::BadResponse => "6524",
            Class::Refused => "6525",
            Class::SerialLower => "6526",
            Class::Expired => "6527",
            Class::Aborted => "6534",
            Class::IxfrFallback => "6536",
            Class::NotifyRefused => "NOTIFY_REFUSED",
            Class::NotifyReceived => "NOTIFY_RECEIVED",
        })
    }
}

/// One log-line pattern: a line of `peer`'s log that names our zone and contains every one of
/// `all` is one `class` event. Taken from the reference table (zone-transfer-events.md, table
/// 5) and checked against the lines named 9.18, knotd 3.2 and nsd 4.6 print here (docs/interop.md
/// quotes them). Lines that match no pattern are not events.
pub struct Pattern {
    pub peer: Peer,
    pub all: &'static [&'static str],
    pub class: Class,
}

pub(super) const fn p(peer: Peer, all: &'static [&'static str], class: Class) -> Pattern {
    Pattern { peer, all, class }
}

/// The table, first match wins.
pub const PATTERNS: &[Pattern] = &[
    // BIND 9.18, `named -g` (every category at info on stderr).
    p(Peer::Bind, &["transferred serial"], Class::Updated),
    p(Peer::Bind, &["Transfer started"], Class::Transferring),
    p(Peer::Bind, &["refresh: failure trying primary"], Class::MasterUnavailable),
    p(Peer::Bind, &["refresh: retry limit for primary"], Class::MasterUnavailable),
    p(Peer::Bind, &["failed to connect"], Class::MasterUnavailable),
    p(Peer::Bind, &["received from primary", "< ours"], Class::SerialLower),
    p(Peer::Bind, &["retrying with AXFR"], Class::IxfrFallback),
    // xfrin's info-level trace of the same fallback (the line above is debug 3): the transfer
    // object is reset and reconnects for AXFR.
    p(Peer::Bind, &["transfer of 'interop.test/IN'", ": resetting"], Class::IxfrFallback),
    p(Peer::Bind, &["refused notify from non-primary"], Class::NotifyRefused),
    p(Peer::Bind, &["notify from", "serial"], Class::NotifyReceived),
    p(Peer::Bind, &[": expired"], Class::Expired),
    // Knot 3.2, stderr (info; debug where a check asks, for the ACL line).
    p(Peer::Knot, &["zone updated"], Class::Updated),
    p(Peer::Knot, &["zone is up-to-date"], Class::InSync),
    p(Peer::Knot, &["zone is outdated"], Class::Transferring),
    // With no copy (bootstrap, or after expiry) Knot asks no SOA first and logs no "outdated":
    // the transfer's start is its trace.
    p(Peer::Knot, &["AXFR, incoming", "started"], Class::Transferring),
    p(Peer::Knot, &["IXFR, incoming", "started"], Class::Transferring),
    // One per address tried; the closed port shows as "connection reset" (knotd 3.2 connects
    // with TCP Fast Open, so the RST comes back on the first write) or "connection refused".
    // The "remote ... not usable" and "failed (no usable master)" lines that follow are the
    // same attempt and match nothing.
    p(Peer::Knot, &["refresh, remote", ", address ", "failed ("], Class::MasterUnavailable),
    p(Peer::Knot, &["remote is outdated"], Class::SerialLower),
    p(Peer::Knot, &["fallback to AXFR"], Class::IxfrFallback),
    p(Peer::Knot, &["ACL, denied, action notify"], Class::NotifyRefused),
    p(Peer::Knot, &["notify, incoming", "serial"], Class::NotifyReceived),
    p(Peer::Knot, &["zone expired"], Class::Expired),
    // NSD 4.6, `nsd -d` (stderr; `verbosity: 2`, 3 in the two NOTIFY/IXFR checks). xfrd logs no
    // transfer start and no "up to date" outside debug builds: 6522 and 6521 have no line.
    // The transfer is done when xfrd commits it (and takes its SOA timers from then); the
    // server's "serial A is updated to B" after the reload is the same event and matches nothing.
    p(Peer::Nsd, &["committed", "received update to serial"], Class::Updated),
    p(Peer::Nsd, &["Could not tcp connect to"], Class::MasterUnavailable),
    p(Peer::Nsd, &["ignoring old serial"], Class::SerialLower),
    // verbosity 3 only (below it xfrd logs this RCODE once IXFR is known to be off): the
    // IXFR's NOTIMP answer, after which xfrd asks the same master for AXFR.
    p(Peer::Nsd, &["received error code NOT IMPL"], Class::IxfrFallback),
    p(Peer::Nsd, &["notify for", "refused"], Class::NotifyRefused),
    p(Peer::Nsd, &["notify for", "serial"], Class::NotifyReceived),
    p(Peer::Nsd, &["has expired"], Class::Expired),
];

/// The class of one of the peer's log lines, if it is an event for our zone.
pub(super) fn peer_class(peer: Peer, line: &str) -> Option<Class> {
    let zone = ORIGIN.trim_end_matches('.');
    if !line.contains(zone) {
        return None;
    }
    PATTERNS.iter().find(|p| p.peer == peer && p.all.iter().all(|needle| line.contains(needle))).map(|p| p.class)
}

/// The class of one of our events.
pub(super) fn our_class(kind: &EventKind) -> Option<Class> {
    Some(match kind {
        EventKind::ZoneUpdate { .. } => Class::Updated,
        EventKind::ZoneInSync { .. } => Class::InSync,
        EventKind::ZoneTransferInProgress { .. } => Class::Transferring,
        EventKind::XfrMasterUnavailable { .. } => Class::MasterUnavailable,
        EventKind::AxfrBadResponse { .. } => Class::BadResponse,
        EventKind::AxfrRefused { .. } => Class::Refused,
        EventKind::ZoneNewerThanServerVersion { .. } => Class::SerialLower,
        EventKind::ZoneExpiration => Class::Expired,
        EventKind::XfrAbortedByMaster { .. } => Class::Aborted,
        EventKind::IxfrBadResponse { .. } => Class::IxfrFallback,
        EventKind::NotifyRefused { .. } => Class::NotifyRefused,
        EventKind::NotifyReceived { .. } => Class::NotifyReceived,
        _ => return None,
    })
}

/// Follows a log file as the server writes it, stamping each line with the wall-clock instant
/// it appeared (polled every 20 ms). Started before the server, so its first lines are stamped
/// as they come too.
pub(super) struct LogWatch {
    pub(super) lines: Arc<Mutex<Vec<(Instant, String)>>>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) thread: Option<JoinHandle<()>>,
}

impl LogWatch {
    pub(super) fn start(path: PathBuf) -> LogWatch {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (out, halt) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut offset = 0u64;
            let mut partial = Vec::new();
            loop {
                let last = halt.load(Ordering::Relaxed);
                if let Ok(mut file) = std::fs::File::open(&path) {
                    let mut fresh = Vec::new();
                    if file.seek(SeekFrom::Start(offset)).is_ok() && file.read_to_end(&mut fresh).is_ok() {
                        offset += fresh.len() as u64;
                        partial.extend_from_slice(&fresh);
                        let now = wall_now();
                        let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
                        while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = partial.drain(..=end).collect();
                            out.push((now, String::from_utf8_lossy(&line).trim_end().to_string()));
                        }
                    }
                }
                if last {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        LogWatch { lines, stop, thread: Some(thread) }
    }

    fn lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One occurrence of a class on one side.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) at: Instant,
    pub(super) class: Class,
    /// The log line or the event, for the failure report.
    pub(super) text: String,
}

/// What one secondary did, in order.
pub(super) struct Sequence {
    pub(super) who: String,
    pub(super) seen: Vec<Seen>,
}

impl Sequence {
    pub(super) fn of_peer(peer: Peer, watch: &LogWatch) -> Sequence {
        let seen = watch
            .lines()
            .into_iter()
            .filter_map(|(at, line)| Some(Seen { at, class: peer_class(peer, &line)?, text: line }))
            .collect();
        Sequence { who: peer.name().to_string(), seen }
    }

    pub(super) fn of_ours(node: &OurNode) -> Sequence {
        let seen = node
            .stamped_events()
            .into_iter()
            .filter_map(|(at, e)| {
                let class = our_class(&e.kind)?;
                Some(Seen { at, class, text: e.timeline_line(&node.name) })
            })
            .collect();
        Sequence { who: format!("ours ({})", node.name), seen }
    }

    /// Only `classes`, and lines of one class less than [`SAME_ATTEMPT`] apart made one.
    fn condensed(&self, classes: &[Class]) -> Sequence {
        let mut seen: Vec<Seen> = Vec::new();
        for s in self.seen.iter().filter(|s| classes.contains(&s.class)) {
            if let Some(last) = seen.last()
                && last.class == s.class
                && s.at.saturating_duration_since(last.at).as_secs_f64() < SAME_ATTEMPT
            {
                continue;
            }
            seen.push(s.clone());
        }
        Sequence { who: self.who.clone(), seen }
    }

    /// Cut after the first `class` (inclusive).
    fn through_first(mut self, class: Class) -> Sequence {
        if let Some(i) = self.seen.iter().position(|s| s.class == class) {
            self.seen.truncate(i + 1);
        }
        self
    }

    fn classes(&self) -> Vec<Class> {
        self.seen.iter().map(|s| s.class).collect()
    }

    /// The last 6520 before `fault`: the reference instant of this side.
    pub(super) fn last_good_before(&self, fault: Instant) -> Option<Instant> {
        self.seen.iter().filter(|s| s.class == Class::Updated && s.at <= fault).map(|s| s.at).next_back()
    }

    /// `class: time after reference` for each occurrence, one line.
    pub(super) fn show(&self, reference: Option<Instant>, fault: Instant) -> String {
        let rel = |at: Instant, from: Instant| signed_secs(at, from);
        let items: Vec<String> = self
            .seen
            .iter()
            .map(|s| match reference {
                Some(r) => format!("{}@{:+.1}s (fault{:+.1}s)", s.class, rel(s.at, r), rel(s.at, fault)),
                None => format!("{}@fault{:+.1}s", s.class, rel(s.at, fault)),
            })
            .collect();
        format!("{}: [{}]", self.who, items.join(", "))
    }
}

pub(super) fn signed_secs(at: Instant, from: Instant) -> f64 {
    match at.checked_duration_since(from) {
        Some(d) => d.as_secs_f64(),
        None => -from.duration_since(at).as_secs_f64(),
    }
}

/// What a check compares.
pub(super) struct Comparison {
    /// The classes compared; others are left out of both sequences.
    pub(super) classes: &'static [Class],
    /// Each sequence ends at its first occurrence of this class, inclusive.
    pub(super) through: Option<Class>,
    /// Occurrences of these classes (after the fault) must fall within ±[`TOLERANCE`] of each
    /// other, in seconds after each side's last good refresh.
    pub(super) timed: &'static [Class],
    /// Each side must show these classes after the fault (so an empty log cannot pass).
    pub(super) must_see: &'static [Class],
    /// What decides this sequence on our side, by `Behaviour` field (profile row): a failure
    /// names them, so a difference points at the row to re-read against the server.
    pub(super) rows: &'static str,
}

/// Compares our sequence with the peer's; `Err` carries why and both sequences.
pub(super) fn compare(peer: &Sequence, ours: &Sequence, fault: Instant, what: &Comparison) -> Result<(), String> {
    let condense = |s: &Sequence| {
        let c = s.condensed(what.classes);
        match what.through {
            Some(class) => c.through_first(class),
            None => c,
        }
    };
    let (theirs, mine) = (condense(peer), condense(ours));
    let (their_ref, our_ref) = (theirs.last_good_before(fault), mine.last_good_before(fault));
    let report = |why: String| {
        format!(
            "{why} (on our side: {})\n  {}\n  {}",
            what.rows,
            theirs.show(their_ref, fault),
            mine.show(our_ref, fault)
        )
    };
    if theirs.classes() != mine.classes() {
        return Err(report("the class sequences differ".to_string()));
    }
    for class in what.must_see {
        for side in [&theirs, &mine] {
            if !side.seen.iter().any(|s| s.class == *class && s.at > fault) {
                return Err(report(format!("{} shows no {class} after the fault", side.who)));
            }
        }
    }
    if what.timed.is_empty() {
        return Ok(());
    }
    let (Some(tr), Some(or)) = (their_ref, our_ref) else {
        return Err(report("no 6520 before the fault on one side".to_string()));
    };
    for (t, m) in theirs.seen.iter().zip(&mine.seen) {
        if t.at <= fault || !what.timed.contains(&t.class) {
            continue;
        }
        let (a, b) = (signed_secs(t.at, tr), signed_secs(m.at, or));
        if (a - b).abs() > TOLERANCE {
            return Err(report(format!(
                "{} at {a:.1}s ({}) but at {b:.1}s (ours) after the last good refresh: more than {TOLERANCE}s apart",
                t.class, peer.who
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_the_lines_seen() {
        let bind = "28-Nov-2026 10:00:00.000 zone interop.test/IN: transferred serial 2026112501";
        assert_eq!(peer_class(Peer::Bind, bind), Some(Class::Updated));
        let knot = "2026-11-28T10:00:00+0000 info: [interop.test.] zone expired";
        assert_eq!(peer_class(Peer::Knot, knot), Some(Class::Expired));
        assert_eq!(peer_class(Peer::Knot, bind), None);
        assert_eq!(peer_class(Peer::Bind, "zone other.test/IN: transferred serial 1"), None);
    }

    /// Lines nsd 4.6.1 printed in these checks (`verbosity: 3`).
    #[test]
    fn the_table_reads_nsd_lines() {
        let lines = [
            (
                "[2026-11-30 12:03:38.763] nsd[25000]: info: xfrd: zone interop.test. committed \"received update to \
                 serial 2026112501 at 2026-11-30T12:03:38 from 127.0.0.1@11762\"",
                Some(Class::Updated),
            ),
            (
                "[2026-11-30 12:02:42.007] nsd[23831]: info: zone interop.test. received update to serial 2026112501 \
                 at 2026-11-30T12:02:42 from 127.0.0.1@10610 of 101597 bytes in 0.001307 seconds",
                None,
            ),
            ("[2026-11-30 12:02:42.020] nsd[23827]: info: zone interop.test. serial 0 is updated to 2026112501", None),
            (
                "[2026-11-30 12:03:42.440] nsd[24948]: error: interop.test.: Could not tcp connect to \
                 127.0.0.1@11753: Connection refused",
                Some(Class::MasterUnavailable),
            ),
            (
                "[2026-11-30 12:03:42.606] nsd[24971]: info: xfrd: zone interop.test. ignoring old serial \
                 (2026112501/2026112500) from 127.0.0.1@11756",
                Some(Class::SerialLower),
            ),
            (
                "[2026-11-30 12:02:46.025] nsd[23827]: info: xfrd: zone interop.test. bad transfer 0 from 127.0.0.1@10610",
                None,
            ),
            ("[2026-11-30 12:03:51.615] nsd[24971]: error: xfrd: zone interop.test. has expired", Some(Class::Expired)),
            (
                "[2026-11-30 12:03:38.959] nsd[25000]: error: xfrd: zone interop.test. received error code NOT IMPL \
                 from 127.0.0.1@11762",
                Some(Class::IxfrFallback),
            ),
            (
                "[2026-11-30 12:03:40.570] nsd[25180]: info: notify for interop.test. from 127.0.0.2 refused, no acl matches.",
                Some(Class::NotifyRefused),
            ),
            (
                "[2026-11-30 12:03:38.951] nsd[25016]: info: notify for interop.test. from 127.0.0.1 serial 2026112502",
                Some(Class::NotifyReceived),
            ),
        ];
        for (line, class) in lines {
            assert_eq!(peer_class(Peer::Nsd, line), class, "{line}");
        }
    }
}
