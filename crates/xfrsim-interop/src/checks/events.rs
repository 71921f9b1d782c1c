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
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use xfrsim_engine::{Behaviour, Command, Profile};

use super::{ORIGIN, SERIAL, SOON, Session, generated_zone, port, primary_config, secondary_config};
use crate::ours::OurNode;
use crate::peer::{Peer, PeerRole, PeerServer, SecondaryOptions};
use crate::proxy::IxfrRefusingRelay;
use crate::zonetext::{SoaTimers, ZoneChange, ZoneText};
use crate::{wait_until, wall_now};

mod sequence;

use sequence::{Class, Comparison, LogWatch, Sequence, TOLERANCE, compare, signed_secs};

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
