//! Event-sequence interop: one situation, two secondaries side by side — the real server and
//! our node behaving as that server's profile — pulling from one primary we control. What
//! each logs is mapped to the event classes of the Windows catalog (the real server's log lines
//! through [`PATTERNS`], ours through [`our_class`]) and the two sequences are compared: the
//! same classes in the same order, the failed attempts at the same times, the expiry at the
//! same instant after the last good refresh.
//!
//! Times are seconds after each secondary's last good refresh before the fault (its last
//! 6520): that is what both servers schedule refresh, retry and expire from. The two took
//! their first copy up to a second apart (named starts slower than our node), so times after
//! the fault itself would differ by that skew. Both are printed on failure.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xfrsim_engine::{Behaviour, Command, EventKind, Profile};

use super::{ORIGIN, SERIAL, SOON, Session, generated_zone, port, primary_config, secondary_config};
use crate::ours::OurNode;
use crate::peer::{Peer, PeerRole, PeerServer, SecondaryOptions};
use crate::proxy::IxfrRefusingRelay;
use crate::zonetext::{SoaTimers, ZoneChange, ZoneText};
use crate::{wait_until, wall_now};

/// How far apart the two secondaries may place the same thing.
const TOLERANCE: f64 = 1.0;
/// Lines (or events) of one class less than this apart are one occurrence: one refresh
/// attempt can log more than one line (BIND: the UDP query, then TCP).
const SAME_ATTEMPT: f64 = 0.5;

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

const fn p(peer: Peer, all: &'static [&'static str], class: Class) -> Pattern {
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
pub fn peer_class(peer: Peer, line: &str) -> Option<Class> {
    let zone = ORIGIN.trim_end_matches('.');
    if !line.contains(zone) {
        return None;
    }
    PATTERNS.iter().find(|p| p.peer == peer && p.all.iter().all(|needle| line.contains(needle))).map(|p| p.class)
}

/// The class of one of our events.
pub fn our_class(kind: &EventKind) -> Option<Class> {
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
struct LogWatch {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LogWatch {
    fn start(path: PathBuf) -> LogWatch {
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
struct Seen {
    at: Instant,
    class: Class,
    /// The log line or the event, for the failure report.
    text: String,
}

/// What one secondary did, in order.
struct Sequence {
    who: String,
    seen: Vec<Seen>,
}

impl Sequence {
    fn of_peer(peer: Peer, watch: &LogWatch) -> Sequence {
        let seen = watch
            .lines()
            .into_iter()
            .filter_map(|(at, line)| Some(Seen { at, class: peer_class(peer, &line)?, text: line }))
            .collect();
        Sequence { who: peer.name().to_string(), seen }
    }

    fn of_ours(node: &OurNode) -> Sequence {
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
    fn last_good_before(&self, fault: Instant) -> Option<Instant> {
        self.seen.iter().filter(|s| s.class == Class::Updated && s.at <= fault).map(|s| s.at).next_back()
    }

    /// `class: time after reference` for each occurrence, one line.
    fn show(&self, reference: Option<Instant>, fault: Instant) -> String {
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

fn signed_secs(at: Instant, from: Instant) -> f64 {
    match at.checked_duration_since(from) {
        Some(d) => d.as_secs_f64(),
        None => -from.duration_since(at).as_secs_f64(),
    }
}

/// What a check compares.
struct Comparison {
    /// The classes compared; others are left out of both sequences.
    classes: &'static [Class],
    /// Each sequence ends at its first occurrence of this class, inclusive.
    through: Option<Class>,
    /// Occurrences of these classes (after the fault) must fall within ±[`TOLERANCE`] of each
    /// other, in seconds after each side's last good refresh.
    timed: &'static [Class],
    /// Each side must show these classes after the fault (so an empty log cannot pass).
    must_see: &'static [Class],
    /// What decides this sequence on our side, by `Behaviour` field (profile row): a failure
    /// names them, so a difference points at the row to re-read against the server.
    rows: &'static str,
}

/// Compares our sequence with the peer's; `Err` carries why and both sequences.
fn compare(peer: &Sequence, ours: &Sequence, fault: Instant, what: &Comparison) -> Result<(), String> {
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

/// The profile our secondary runs for `peer`, with the minimum timers lowered as in the real
/// server's configuration ([`SecondaryOptions::lower_clamps`]).
fn profile_for(peer: Peer) -> Behaviour {
    let mut behaviour = Behaviour::of(match peer {
        Peer::Bind => Profile::Bind,
        Peer::Knot => Profile::Knot,
        Peer::Nsd => Profile::Nsd,
    });
    behaviour.min_refresh = Duration::from_secs(1);
    behaviour.min_retry = Duration::from_secs(1);
    behaviour.min_expire = Duration::from_secs(1);
    behaviour
}

/// The expire interval both secondaries run `timers` by: the engine's own clamp under the
/// profile our secondary runs for `peer`, the real server's clamps lowered alike.
fn expire_for(peer: Peer, timers: SoaTimers) -> Duration {
    profile_for(peer).clamp_timers(timers.refresh, timers.retry, timers.expire).2
}

/// The two secondaries and their primary.
struct SideBySide {
    primary: Rc<OurNode>,
    real: Rc<PeerServer>,
    ours: Rc<OurNode>,
    watch: LogWatch,
    /// Where the secondaries send their queries: the primary, or the relay in front of it.
    master: SocketAddr,
    /// Held for the check's length.
    _relay: Option<IxfrRefusingRelay>,
}

struct Setup {
    zone: ZoneText,
    /// Our primary NOTIFYs both secondaries.
    notify: bool,
    /// The secondaries reach the primary through [`IxfrRefusingRelay`].
    relay: bool,
    /// The real server's log at debug (Knot `any: debug`, BIND `-d 3`, NSD `verbosity: 3`).
    debug_log: bool,
}

/// Starts our primary, the real secondary, then ours, and waits until both hold the zone. The
/// real one starts first (named takes the longer to start), ours as soon as it has the zone, so
/// their first copies are close together.
fn side_by_side(s: &mut Session, peer: Peer, setup: Setup) -> Result<SideBySide, String> {
    let (primary_addr, peer_addr, our_addr) = (port()?, port()?, port()?);
    let notify = if setup.notify { vec![peer_addr, our_addr] } else { Vec::new() };
    // Our primary NOTIFYs at once after a change (BIND's notify-delay is 5 s).
    let mut quick = Behaviour::of(Profile::Bind);
    quick.notify_delay = Duration::ZERO;
    let primary = s.start_named("primary", primary_addr, vec![primary_config(&setup.zone, notify)?], Some(quick))?;
    let relay = if setup.relay { Some(IxfrRefusingRelay::start(port()?, primary_addr)?) } else { None };
    let master = relay.as_ref().map_or(primary_addr, |r| r.addr);
    let dir = s.dir.subdir(peer.name()).map_err(|e| format!("cannot create a directory: {e}"))?;
    let watch = LogWatch::start(PeerServer::log_file(&dir, peer));
    let options = SecondaryOptions { lower_clamps: true, debug_log: setup.debug_log };
    let real = s.start_peer(peer, peer_addr, &[PeerRole::Secondary { master, origin: ORIGIN.to_string(), options }])?;
    real.wait_serial(ORIGIN, setup.zone.serial, SOON)?;
    let ours = s.start_named("secondary", our_addr, vec![secondary_config(vec![master])], Some(profile_for(peer)))?;
    super::wait_installed(&ours, master, setup.zone.serial, SOON)?;
    Ok(SideBySide { primary, real, ours, watch, master, _relay: relay })
}

impl SideBySide {
    fn sequences(&self) -> (Sequence, Sequence) {
        (Sequence::of_peer(self.real.peer, &self.watch), Sequence::of_ours(&self.ours))
    }

    /// Waits until both sides show `class` after `fault` (or `timeout`).
    fn wait_both(&self, class: Class, fault: Instant, timeout: Duration) -> bool {
        wait_until(timeout, || {
            let (t, o) = self.sequences();
            let has = |s: &Sequence| s.seen.iter().any(|x| x.class == class && x.at > fault);
            (has(&t) && has(&o)).then_some(())
        })
        .is_some()
    }
}

/// The compared sequences, for the docs and for the curious: printed when
/// `XFRSIM_INTEROP_SHOW` is set.
fn show_if_asked(peer: Peer, check: &str, theirs: &Sequence, ours: &Sequence, fault: Instant) {
    if std::env::var_os("XFRSIM_INTEROP_SHOW").is_some() {
        let (tr, or) = (theirs.last_good_before(fault), ours.last_good_before(fault));
        eprintln!("interop {} {check}:\n  {}\n  {}", peer.name(), theirs.show(tr, fault), ours.show(or, fault));
        for s in theirs.seen.iter().chain(&ours.seen) {
            eprintln!("    {} {}", s.class, s.text);
        }
    }
}

const MASTER_DOWN_TIMERS: SoaTimers = SoaTimers { refresh: 4, retry: 6, expire: 11, minimum: 60 };

/// The primary goes down after the first transfer: our primary node stops, so its port is
/// closed (TCP answers RST, UDP an ICMP port unreachable: connection refused on both, at once;
/// no timeouts). Both secondaries fail their refresh at REFRESH after the transfer, then every
/// RETRY, and expire at EXPIRE after the transfer.
///
/// Timers refresh 4, retry 6, expire 11: BIND waits [0.75, 1] × each (its jitter), so its
/// attempts fall in [3, 4] and [7.5, 10] and the third not before 12, after the expiry — the
/// count before the expiry does not depend on the draw. Retry ≠ refresh, so the cadence tells
/// which one was used.
pub fn master_down(s: &mut Session, peer: Peer) -> Result<(), String> {
    let zone = generated_zone().with_timers(MASTER_DOWN_TIMERS);
    let sides = side_by_side(s, peer, Setup { zone, notify: false, relay: false, debug_log: false })?;
    sides.primary.stop()?;
    let fault = wall_now();
    let expire = expire_for(peer, MASTER_DOWN_TIMERS);
    if !sides.wait_both(Class::Expired, fault, expire + Duration::from_secs(4)) {
        let (t, o) = sides.sequences();
        return Err(format!(
            "no 6527 on both sides within {}s of the fault\n  {}\n  {}",
            expire.as_secs() + 4,
            t.show(t.last_good_before(fault), fault),
            o.show(o.last_good_before(fault), fault)
        ));
    }
    let (theirs, ours) = sides.sequences();
    show_if_asked(peer, "events-master-down", &theirs, &ours, fault);
    let what = Comparison {
        classes: &[Class::Updated, Class::MasterUnavailable, Class::Expired],
        through: Some(Class::Expired),
        timed: &[Class::MasterUnavailable, Class::Expired],
        must_see: &[Class::MasterUnavailable, Class::Expired],
        rows: "Behaviour::{min_refresh, min_retry, min_expire, jitter_percent, soa_query, timeouts, expire_covers_refresh_retry}",
    };
    compare(&theirs, &ours, fault, &what)?;
    expiry_after_last_good(&theirs, &ours, fault, expire)?;
    Ok(())
}

/// Both expire EXPIRE after their last good refresh (±[`TOLERANCE`]).
fn expiry_after_last_good(theirs: &Sequence, ours: &Sequence, fault: Instant, expire: Duration) -> Result<(), String> {
    for side in [theirs, ours] {
        let reference =
            side.last_good_before(fault).ok_or_else(|| format!("{}: no 6520 before the fault", side.who))?;
        let expired = side
            .seen
            .iter()
            .find(|s| s.class == Class::Expired && s.at > fault)
            .ok_or_else(|| format!("{}: no 6527", side.who))?;
        let after = signed_secs(expired.at, reference);
        if (after - expire.as_secs_f64()).abs() > TOLERANCE {
            return Err(format!(
                "{} expired {after:.1}s after its last good refresh; EXPIRE is {}s\n  {}",
                side.who,
                expire.as_secs(),
                side.show(Some(reference), fault)
            ));
        }
    }
    Ok(())
}

const LOWER_SERIAL_TIMERS: SoaTimers = SoaTimers { refresh: 4, retry: 7, expire: 13, minimum: 60 };

/// The primary reloads the zone with a LOWER serial (a restore from an old backup) right
/// after the first transfer, and NOTIFYs nobody. At each refresh both secondaries see "< ours"
/// (6526) and transfer nothing; no refresh succeeds, so both expire EXPIRE after the transfer,
/// and then take the lower serial at once (a zone with no data takes any serial).
///
/// Both wait RETRY after "< ours": BIND because its round set the timer to RETRY at its start
/// and nothing resets it, knotd 3.2 because it counts the outdated master as a failed refresh
/// ("failed (processing error)", "no usable master"): `Behaviour::round_verdict`. Timers
/// refresh 4, retry 7, expire 13: both check at 4 and 11, then expire at 13.
pub fn lower_serial(s: &mut Session, peer: Peer) -> Result<(), String> {
    let zone = generated_zone().with_timers(LOWER_SERIAL_TIMERS);
    let sides = side_by_side(s, peer, Setup { zone: zone.clone(), notify: false, relay: false, debug_log: false })?;
    let mut older = zone.clone();
    older.serial = SERIAL - 1;
    let data = older.to_zone().map_err(|e| format!("the older zone does not load: {e}"))?;
    sides.primary.command(Command::Reload { zone: Box::new(data) })?;
    let fault = wall_now();
    let expire = expire_for(peer, LOWER_SERIAL_TIMERS);
    // After the expiry BIND and Knot transfer the lower serial: wait for that 6520. NSD keeps
    // the expired copy and asks IXFR with its serial; the lower serial's one-SOA answer is taken
    // as a NOTIFY and the connection waits (`Behaviour::expired_keeps_copy`): it never takes
    // the lower serial, so there the whole window passes and neither side may transfer.
    let takes_lower = peer != Peer::Nsd;
    let after_expiry =
        |s: &Sequence| s.seen.iter().skip_while(|x| x.class != Class::Expired).any(|x| x.class == Class::Updated);
    let window = expire + Duration::from_secs(6);
    let fetched = if takes_lower {
        wait_until(window, || {
            let (t, o) = sides.sequences();
            (after_expiry(&t) && after_expiry(&o)).then_some(())
        })
    } else {
        std::thread::sleep(window);
        Some(())
    };
    let (theirs, ours) = sides.sequences();
    show_if_asked(peer, "events-lower-serial", &theirs, &ours, fault);
    if !takes_lower && (after_expiry(&theirs) || after_expiry(&ours)) {
        return Err(format!(
            "a secondary took serial {} after the expiry; NSD never does\n  {}\n  {}",
            SERIAL - 1,
            theirs.show(theirs.last_good_before(fault), fault),
            ours.show(ours.last_good_before(fault), fault)
        ));
    }
    if fetched.is_none() {
        return Err(format!(
            "not both secondaries expired and took serial {} within {}s\n  {}\n  {}",
            SERIAL - 1,
            expire.as_secs() + 6,
            theirs.show(theirs.last_good_before(fault), fault),
            ours.show(ours.last_good_before(fault), fault)
        ));
    }
    // knotd 3.2 follows "remote is outdated" with "failed (processing error)" in the same
    // attempt, which the pattern table reads as 6523; xfrsim reports that attempt once, as
    // 6526 (nothing failed to connect). So against Knot 6523 is not compared; against BIND it
    // is, and must not appear on either side.
    let classes: &[Class] = match peer {
        Peer::Knot => &[Class::Updated, Class::Transferring, Class::SerialLower, Class::Expired],
        _ => &[Class::Updated, Class::Transferring, Class::MasterUnavailable, Class::SerialLower, Class::Expired],
    };
    let what = Comparison {
        classes,
        through: None,
        timed: &[Class::SerialLower, Class::Expired],
        must_see: if takes_lower {
            &[Class::SerialLower, Class::Expired, Class::Updated]
        } else {
            &[Class::SerialLower, Class::Expired]
        },
        rows: "Behaviour::{round_verdict (what follows \"< ours\": REFRESH or RETRY), retry_backoff, jitter_percent, min_refresh, min_retry, min_expire, backoff_after_expiry, expired_keeps_copy}",
    };
    compare(&theirs, &ours, fault, &what)?;
    expiry_after_last_good(&theirs, &ours, fault, expire)?;
    if !takes_lower {
        return Ok(());
    }
    let served = sides.real.peer.client().soa_serial(sides.real.addr, ORIGIN)?;
    if served != Some(SERIAL - 1) {
        return Err(format!("{} serves {served:?} after the expiry; expected {}", peer.name(), SERIAL - 1));
    }
    super::our_zone(&sides.ours, SERIAL - 1)?;
    Ok(())
}

/// Our primary takes a dynamic update and NOTIFYs both secondaries; they ask for IXFR, which
/// the master they know (the relay in front of our primary) answers NOTIMP. Both log the
/// failed IXFR (6536) and fetch the new serial by AXFR from the same master.
pub fn ixfr_fallback(s: &mut Session, peer: Peer) -> Result<(), String> {
    let zone = generated_zone();
    let sides = side_by_side(s, peer, Setup { zone: zone.clone(), notify: true, relay: true, debug_log: true })?;
    let change = ZoneChange::sample(ORIGIN);
    let next = zone.changed(&change);
    let fault = wall_now();
    peer.client().update(sides.primary.addr, ORIGIN, &change)?;
    sides.real.wait_serial(ORIGIN, next.serial, SOON)?;
    let incremental = super::wait_installed(&sides.ours, sides.master, next.serial, SOON)?;
    if incremental {
        return Err(format!("our secondary installed serial {} by IXFR through a relay refusing IXFR", next.serial));
    }
    // The peer's last lines (its AXFR done) may still be on their way to the log.
    sides.wait_both(Class::Updated, fault, Duration::from_secs(3));
    let (theirs, ours) = sides.sequences();
    show_if_asked(peer, "events-ixfr-fallback", &theirs, &ours, fault);
    let what = Comparison {
        // 6522 is left out here: Knot logs a transfer start for the IXFR and another for the
        // AXFR after the fallback, BIND and xfrsim one for both.
        classes: &[Class::Updated, Class::IxfrFallback, Class::NotifyReceived],
        through: None,
        timed: &[],
        must_see: &[Class::NotifyReceived, Class::IxfrFallback, Class::Updated],
        rows: "Behaviour::{request_ixfr, notify_ignore, master_order}; the fallback itself is in no row (secondary transfer_failed)",
    };
    compare(&theirs, &ours, fault, &what)?;
    Ok(())
}

/// Another host on this machine (127.0.0.2, not a master) sends each secondary a NOTIFY for
/// the zone. The primary has a newer serial by then (it told nobody), so a NOTIFY taken for a
/// master's would bring that serial within a second; refused, nothing moves until REFRESH, an
/// hour away. Both log the refusal; neither transfers.
pub fn notify_non_master(s: &mut Session, peer: Peer) -> Result<(), String> {
    let zone = generated_zone();
    let sides = side_by_side(s, peer, Setup { zone: zone.clone(), notify: false, relay: false, debug_log: true })?;
    let change = ZoneChange::sample(ORIGIN);
    peer.client().update(sides.primary.addr, ORIGIN, &change)?;
    let next = zone.changed(&change);
    let fault = wall_now();
    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let answers = [sides.real.addr, sides.ours.addr].map(|to| send_notify(from, to, next.serial));
    // Refused or not, a NOTIFY answered or not: give a transfer time to start and finish.
    std::thread::sleep(Duration::from_secs(4));
    let (theirs, ours) = sides.sequences();
    show_if_asked(peer, "events-notify-non-master", &theirs, &ours, fault);
    if let [Ok(theirs), Ok(mine)] = answers
        && theirs != mine
    {
        return Err(format!(
            "{} answers the refused NOTIFY with RCODE {theirs}, xfrsim with {mine} \
             (Behaviour::notify_refused_rcode)",
            peer.name()
        ));
    }
    let what = Comparison {
        classes: &[Class::Updated, Class::Transferring, Class::NotifyRefused, Class::NotifyReceived],
        through: None,
        timed: &[],
        must_see: &[Class::NotifyRefused],
        rows: "Behaviour::notify_refused_rcode; who may NOTIFY is RFC 1996 §3.10 in serve.rs answer_notify",
    };
    compare(&theirs, &ours, fault, &what)?;
    let after: BTreeSet<Class> =
        theirs.seen.iter().chain(&ours.seen).filter(|x| x.at > fault).map(|x| x.class).collect();
    if after.contains(&Class::Updated) || after.contains(&Class::Transferring) {
        return Err(format!("a NOTIFY from {from} started a transfer: {after:?}"));
    }
    Ok(())
}

/// Sends a NOTIFY for the zone (SOA hint `serial`) from `from` (any port) to `to`; returns the
/// answer's RCODE, or why there is none.
fn send_notify(from: IpAddr, to: SocketAddr, serial: u32) -> Result<u8, String> {
    let socket = UdpSocket::bind((from, 0)).map_err(|e| format!("cannot bind {from}: {e}"))?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    let mut name = Vec::new();
    for label in ORIGIN.trim_end_matches('.').split('.') {
        name.push(u8::try_from(label.len()).expect("short labels"));
        name.extend_from_slice(label.as_bytes());
    }
    name.push(0);
    // ID 0x4e4f, opcode NOTIFY (4) with AA, one question, one answer (the SOA hint).
    let mut message = vec![0x4e, 0x4f, 0x24, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
    message.extend_from_slice(&name);
    message.extend_from_slice(&[0, 6, 0, 1]);
    // The answer: a pointer to the question's name, SOA IN, TTL 3600, RDATA.
    let mut rdata = vec![0xc0, 12, 0xc0, 12];
    rdata.extend_from_slice(&serial.to_be_bytes());
    for value in [3600u32, 600, 1_209_600, 300] {
        rdata.extend_from_slice(&value.to_be_bytes());
    }
    message.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1]);
    message.extend_from_slice(&3600u32.to_be_bytes());
    message.extend_from_slice(&u16::try_from(rdata.len()).expect("small").to_be_bytes());
    message.extend_from_slice(&rdata);
    socket.send_to(&message, to).map_err(|e| format!("NOTIFY to {to}: {e}"))?;
    let mut answer = [0u8; 512];
    let (len, _) = socket.recv_from(&mut answer).map_err(|e| format!("no answer from {to}: {e}"))?;
    if len < 12 {
        return Err(format!("a {len}-octet answer from {to}"));
    }
    Ok(answer[3] & 0x0f)
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
