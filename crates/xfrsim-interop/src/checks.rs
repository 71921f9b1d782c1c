//! The checks. Each starts what it needs (an xfrsim node in this process, a real server as a
//! child process) in a directory of its own on ports of its own, so checks can run in
//! parallel; everything a check started stops when its [`Session`] drops, pass or fail.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use xfrsim_engine::{Acl, BadResponse, EventKind, Unreachable, ZoneConfig, ZoneStatus};
use xfrsim_zone::Zone;
use xfrsim_zone::{SOA, ZoneRecord};

use crate::client::{Client, Transfer, parse_answer};
use crate::fixture;
use crate::ours::OurNode;
use crate::peer::{Peer, PeerRole, PeerServer};
use crate::program::{Program, missing_packages};
use crate::workdir::{WorkDir, free_port};
use crate::zonetext::{ORIGIN, ZoneChange, ZoneText};

mod answers;
mod events;
mod listen;
mod refusals;

use refusals::{acl_refused, closed_port, not_authoritative};

/// Serial of the generated zone (date-style, as operators number them).
const SERIAL: u32 = 2_026_112_501;
/// 2,000 hosts make a zone of 3,544 records (the SOA included).
const HOSTS: usize = 2_000;
/// How long anything that should take milliseconds on loopback may take.
const SOON: Duration = Duration::from_secs(15);
/// Our secondary's SOA query to a closed port goes out on a socket connected to it, so the
/// kernel's ICMP port unreachable comes back as ECONNREFUSED: refused at once, as BIND and Knot
/// are, well before the first 5 s UDP timeout.
const REFUSED_WITHIN: Duration = Duration::from_secs(2);
const SEED: u64 = 6523;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

type PeerCheck = fn(&mut Session, Peer) -> Result<(), String>;
type LoneCheck = fn(&mut Session) -> Result<(), String>;

/// What a check runs against.
enum Target {
    Peer(Peer, PeerCheck),
    /// Our node alone (the "peer" is a closed port).
    Alone(LoneCheck),
}

/// One interop check against one peer (or against no peer at all).
pub struct Check {
    pub name: &'static str,
    target: Target,
}

/// Why a check did not pass.
#[derive(Debug, Clone)]
pub enum CheckFailure {
    /// The peer's server or client is not installed: these Debian packages are missing.
    NotInstalled { packages: Vec<&'static str> },
    /// The check ran and failed: `why` (one line), and what to look at (`details`: our node's
    /// timeline, the end of the peer's log).
    Failed { why: String, details: String },
}

impl CheckFailure {
    /// One line, for `interop <peer> <check> FAIL <why>`.
    pub fn why(&self) -> String {
        match self {
            CheckFailure::NotInstalled { packages } => format!("not installed: apt-get install {}", packages.join(" ")),
            CheckFailure::Failed { why, .. } => why.replace('\n', " | "),
        }
    }

    pub fn details(&self) -> &str {
        match self {
            CheckFailure::NotInstalled { .. } => "",
            CheckFailure::Failed { details, .. } => details,
        }
    }
}

impl Check {
    pub fn peer(&self) -> Option<Peer> {
        match self.target {
            Target::Peer(peer, _) => Some(peer),
            Target::Alone(_) => None,
        }
    }

    /// `bind`, `knot`, `nsd`, or `none` for checks that need no peer.
    pub fn peer_name(&self) -> &'static str {
        self.peer().map_or("none", Peer::name)
    }

    /// The Debian packages this check needs that are not installed.
    pub fn missing_packages(&self) -> Vec<&'static str> {
        let programs: Vec<Program> = self.peer().map(Peer::programs).unwrap_or_default();
        missing_packages(&programs)
    }

    /// Runs the check; everything it started is stopped when this returns (or unwinds).
    pub fn run(&self) -> Result<(), CheckFailure> {
        let packages = self.missing_packages();
        if !packages.is_empty() {
            return Err(CheckFailure::NotInstalled { packages });
        }
        let label = format!("{}-{}", self.peer_name(), self.name);
        let dir = WorkDir::new(&label).map_err(|e| CheckFailure::Failed {
            why: format!("cannot create a work directory: {e}"),
            details: String::new(),
        })?;
        let mut session = Session { ours: Vec::new(), peers: Vec::new(), dir };
        let result = match self.target {
            Target::Peer(peer, check) => check(&mut session, peer),
            Target::Alone(check) => check(&mut session),
        };
        result.map_err(|why| CheckFailure::Failed { why, details: session.details() })
    }
}

/// The profile that stands for a real server.
fn profile_of(peer: Peer) -> xfrsim_engine::Profile {
    match peer {
        Peer::Bind => xfrsim_engine::Profile::Bind,
        Peer::Knot => xfrsim_engine::Profile::Knot,
        Peer::Nsd => xfrsim_engine::Profile::Nsd,
    }
}

/// Every check, peers in order, then the checks that need no peer.
pub fn all_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for peer in Peer::ALL {
        let mut add = |name, run: PeerCheck| checks.push(Check { name, target: Target::Peer(peer, run) });
        add("secondary-axfr", secondary_axfr);
        add("secondary-ixfr-after-notify", secondary_ixfr_after_notify);
        add("primary-axfr", primary_axfr);
        add("primary-ixfr-after-notify", primary_ixfr_after_notify);
        // NSD ships no query client; dig is checked with BIND, kdig with Knot.
        if peer != Peer::Nsd {
            let client = peer.client();
            add(if client == Client::Dig { "dig-axfr" } else { "kdig-axfr" }, client_axfr);
            add(if client == Client::Dig { "dig-ixfr" } else { "kdig-ixfr" }, client_ixfr);
        }
        add("acl-refused", acl_refused);
        add("server-answers", answers::server_answers);
        add("listen-queue", listen::listen_queue);
        add("not-authoritative", not_authoritative);
        add("content-fidelity", content_fidelity);
        // Event sequences: the real secondary and ours side by side.
        add("events-master-down", events::master_down);
        add("events-lower-serial", events::lower_serial);
        add("events-ixfr-fallback", events::ixfr_fallback);
        add("events-notify-non-master", events::notify_non_master);
    }
    checks.push(Check { name: "closed-port", target: Target::Alone(closed_port) });
    checks
}

/// What one check started; dropped (and so stopped) when the check ends. Fields drop in
/// order: our nodes, the real servers, then their directory.
struct Session {
    ours: Vec<Rc<OurNode>>,
    peers: Vec<Rc<PeerServer>>,
    dir: WorkDir,
}

impl Session {
    fn start_ours(&mut self, addr: SocketAddr, zones: Vec<ZoneConfig>) -> Result<Rc<OurNode>, String> {
        let node = Rc::new(OurNode::start("xfrsim", addr, zones, SEED)?);
        self.ours.push(node.clone());
        Ok(node)
    }

    /// Starts one of several nodes of ours, named `name`, with `behaviour` (BIND's by default).
    fn start_named(
        &mut self,
        name: &str,
        addr: SocketAddr,
        zones: Vec<ZoneConfig>,
        behaviour: Option<xfrsim_engine::Behaviour>,
    ) -> Result<Rc<OurNode>, String> {
        let behaviour = behaviour.unwrap_or_else(|| xfrsim_engine::Behaviour::of(xfrsim_engine::Profile::Bind));
        let node = Rc::new(OurNode::start_as(name, addr, zones, behaviour, SEED)?);
        self.ours.push(node.clone());
        Ok(node)
    }

    fn start_peer(&mut self, peer: Peer, addr: SocketAddr, zones: &[PeerRole]) -> Result<Rc<PeerServer>, String> {
        let dir = self.dir.subdir(peer.name()).map_err(|e| format!("cannot create a directory: {e}"))?;
        let server = Rc::new(PeerServer::start(peer, &dir, addr, zones)?);
        self.peers.push(server.clone());
        Ok(server)
    }

    fn details(&self) -> String {
        let mut details = String::new();
        for node in &self.ours {
            details.push_str(&format!("--- {} on {}: timeline\n{}", node.name, node.addr, node.timeline()));
        }
        for peer in &self.peers {
            let log = peer.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            details.push_str(&format!("--- {} on {}: last lines of its log\n{tail}\n", peer.peer.name(), peer.addr));
        }
        details
    }
}

fn port() -> Result<SocketAddr, String> {
    free_port().map_err(|e| format!("no free loopback port: {e}"))
}

fn origin() -> Name {
    Name::from_ascii(ORIGIN).expect("ORIGIN is a valid name")
}

fn generated_zone() -> ZoneText {
    ZoneText::generated(ORIGIN, SERIAL, HOSTS)
}

/// The records of an AXFR (or AXFR-style IXFR) answer, checked against RFC 5936 §2.2: the zone
/// SOA first and last, no SOA in between; then built into a zone.
fn zone_from_transfer(records: &[ZoneRecord]) -> Result<Zone, String> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err("the transfer returned no records".to_string());
    };
    if records.len() < 2 || first.rtype() != SOA || !first.same_bytes(last) {
        return Err(format!(
            "a full transfer must open and close with the same SOA (RFC 5936 §2.2); got `{first}` … `{last}` ({} records)",
            records.len()
        ));
    }
    let inner = &records[1..records.len() - 1];
    if let Some(soa) = inner.iter().find(|r| r.rtype() == SOA) {
        return Err(format!("an SOA inside a full transfer: `{soa}`"));
    }
    Zone::new(origin(), records[..records.len() - 1].iter().cloned())
        .map_err(|e| format!("the transferred records do not make a zone: {e}"))
}

/// Names what differs between two zones (for a failure message).
fn difference(ours: &Zone, theirs: &Zone) -> String {
    let show = |zone: &Zone| zone.records().map(|r| r.to_string()).collect::<BTreeSet<_>>();
    let (a, b) = (show(ours), show(theirs));
    let only_ours: Vec<&String> = a.difference(&b).take(3).collect();
    let only_theirs: Vec<&String> = b.difference(&a).take(3).collect();
    format!(
        "{} records here, {} there; only here: {only_ours:?}; only there: {only_theirs:?}",
        ours.len(),
        theirs.len()
    )
}

/// Our node's copy of the zone, which must be served with `serial`.
fn our_zone(ours: &OurNode, serial: u32) -> Result<Zone, String> {
    match ours.zone(&origin())? {
        (ZoneStatus::Serving { serial: s, .. }, Some(zone)) if s.0 == serial => Ok(zone),
        (status, _) => Err(format!("our node's zone is {status:?}, expected serial {serial} served")),
    }
}

/// Our copy equals what the peer serves, compared through the peer's client (`dig AXFR` or
/// `kdig AXFR` of the peer): same serial, same content digest.
fn same_as_peer(ours: &OurNode, peer: &PeerServer, serial: u32) -> Result<(), String> {
    let ours = our_zone(ours, serial)?;
    let records = peer.peer.client().transfer(peer.addr, ORIGIN, Transfer::Axfr)?;
    let theirs = zone_from_transfer(&records).map_err(|e| format!("AXFR of {}: {e}", peer.peer.name()))?;
    if theirs.serial().0 != serial || theirs.digest() != ours.digest() {
        return Err(format!(
            "our copy (serial {serial}) differs from {}'s (serial {}): {}",
            peer.peer.name(),
            theirs.serial(),
            difference(&ours, &theirs)
        ));
    }
    Ok(())
}

fn primary_config(zone: &ZoneText, notify: Vec<SocketAddr>) -> Result<ZoneConfig, String> {
    let data = zone.to_zone().map_err(|e| format!("the generated zone does not load: {e}"))?;
    Ok(ZoneConfig {
        notify,
        allow_transfer: Acl::hosts([LOCALHOST]),
        allow_update: Acl::hosts([LOCALHOST]),
        ..ZoneConfig::primary(origin(), data)
    })
}

fn secondary_config(masters: Vec<SocketAddr>) -> ZoneConfig {
    ZoneConfig { allow_transfer: Acl::hosts([LOCALHOST]), ..ZoneConfig::secondary(origin(), masters) }
}

/// Waits until our secondary installs `serial` from `master`; returns whether by IXFR.
fn wait_installed(ours: &OurNode, master: SocketAddr, serial: u32, timeout: Duration) -> Result<bool, String> {
    ours.wait_event(timeout, |e| match e.kind {
        EventKind::ZoneUpdate { serial: s, master: m, incremental } if m == master && s.0 == serial => {
            Some(incremental)
        }
        _ => None,
    })
    .ok_or_else(|| format!("our secondary did not install serial {serial} from {master} within {timeout:?}"))
}

/// A real primary with the generated zone, and our secondary that has transferred it.
fn our_secondary_of(s: &mut Session, peer: Peer) -> Result<(Rc<OurNode>, Rc<PeerServer>, ZoneText), String> {
    let zone = generated_zone();
    let (our_addr, peer_addr) = (port()?, port()?);
    let real = s.start_peer(
        peer,
        peer_addr,
        &[PeerRole::Primary { zone: zone.clone(), notify: Some(our_addr), allow_transfer: true }],
    )?;
    let ours = s.start_ours(our_addr, vec![secondary_config(vec![peer_addr])])?;
    ours.wait_event(SOON, |e| match e.kind {
        EventKind::ZoneTransferInProgress { serial, master } if master == peer_addr && serial.0 == SERIAL => Some(()),
        _ => None,
    })
    .ok_or_else(|| format!("no 6522 (transfer of serial {SERIAL} starting) from {peer_addr}"))?;
    if wait_installed(&ours, peer_addr, SERIAL, SOON)? {
        return Err("the first transfer into an empty secondary was incremental; it must be AXFR".to_string());
    }
    same_as_peer(&ours, &real, SERIAL)?;
    Ok((ours, real, zone))
}

/// Our secondary ← real primary: AXFR of 3,544 records; our copy's digest equals the peer's.
fn secondary_axfr(s: &mut Session, peer: Peer) -> Result<(), String> {
    our_secondary_of(s, peer).map(|_| ())
}

/// After a change on the peer (dynamic update; NSD: edited file and reload), the peer's NOTIFY
/// brings our secondary the new version at once (refresh is an hour away), by IXFR — from NSD
/// 4.6, which serves no IXFR, as the full zone RFC 1995 §4 allows in its place.
fn secondary_ixfr_after_notify(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (ours, real, zone) = our_secondary_of(s, peer)?;
    let next = real.change(&zone, &ZoneChange::sample(ORIGIN))?;
    // The NOTIFY for the new serial (all three put the SOA in it, RFC 1996 §3.7); every
    // address is 127.0.0.1, so the serial, not the source, says it is the peer's.
    ours.wait_event(SOON, |e| match e.kind {
        EventKind::NotifyReceived { serial: Some(serial), .. } if serial.0 == next.serial => Some(()),
        _ => None,
    })
    .ok_or_else(|| format!("no NOTIFY for serial {} from {} reached our secondary", next.serial, peer.name()))?;
    let incremental = wait_installed(&ours, real.addr, next.serial, SOON)?;
    let expected = peer != Peer::Nsd;
    if incremental != expected {
        return Err(format!(
            "serial {} arrived {}, expected {} from {}",
            next.serial,
            if incremental { "by IXFR" } else { "as a full zone" },
            if expected { "an incremental IXFR answer" } else { "a full-zone IXFR answer" },
            peer.name()
        ));
    }
    same_as_peer(&ours, &real, next.serial)
}

/// Our primary with the generated zone, and a real secondary that has transferred it.
fn peer_secondary_of(s: &mut Session, peer: Peer) -> Result<(Rc<OurNode>, Rc<PeerServer>, ZoneText), String> {
    let zone = generated_zone();
    let (our_addr, peer_addr) = (port()?, port()?);
    let ours = s.start_ours(our_addr, vec![primary_config(&zone, vec![peer_addr])?])?;
    let real = s.start_peer(
        peer,
        peer_addr,
        &[PeerRole::Secondary { master: our_addr, origin: ORIGIN.to_string(), options: Default::default() }],
    )?;
    real.wait_serial(ORIGIN, SERIAL, SOON)?;
    let full = |e: &xfrsim_engine::Event| match e.kind {
        EventKind::ZoneXfrSuccessful { serial, secondary, records } if serial.0 == SERIAL => Some((secondary, records)),
        _ => None,
    };
    let (secondary, records) =
        ours.wait_event(SOON, full).ok_or_else(|| "our primary logged no completed transfer".to_string())?;
    if records != zone.records.len() + 2 {
        return Err(format!(
            "our primary sent {records} records to {secondary}; expected {} (the zone and the closing SOA)",
            zone.records.len() + 2
        ));
    }
    same_as_peer(&ours, &real, SERIAL)?;
    Ok((ours, real, zone))
}

/// Real secondary ← our primary: the peer transfers 3,544 records from us; `dig SOA` on the
/// peer shows our serial and an AXFR of the peer returns exactly our records.
fn primary_axfr(s: &mut Session, peer: Peer) -> Result<(), String> {
    peer_secondary_of(s, peer).map(|_| ())
}

/// A dynamic update sent to our primary with the peer's own update client (nsupdate or
/// knsupdate) commits a new serial; our NOTIFY makes the peer fetch it by IXFR.
fn primary_ixfr_after_notify(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (ours, real, zone) = peer_secondary_of(s, peer)?;
    let change = ZoneChange::sample(ORIGIN);
    peer.client().update(ours.addr, ORIGIN, &change)?;
    let next = zone.changed(&change);
    ours.wait_event(SOON, |e| match e.kind {
        EventKind::DynamicUpdate { serial } if serial.0 == next.serial => Some(()),
        _ => None,
    })
    .ok_or_else(|| format!("our primary did not commit serial {} from the update", next.serial))?;
    real.wait_serial(ORIGIN, next.serial, SOON)?;
    // Refresh is an hour away: a transfer within seconds is the peer answering our NOTIFY.
    let incremental = ours
        .wait_event(SOON, |e| match e.kind {
            EventKind::ZoneXfrStart { serial, incremental, .. } if serial.0 == next.serial => Some(incremental),
            _ => None,
        })
        .ok_or_else(|| "our primary logged no transfer of the new serial".to_string())?;
    if !incremental {
        return Err(format!("{} fetched serial {} by AXFR; expected IXFR", peer.name(), next.serial));
    }
    same_as_peer(&ours, &real, next.serial)
}

/// `dig AXFR` / `kdig AXFR` straight against our primary: the zone SOA first and last, every
/// record once (RFC 5936 §2.2), the same content as ours.
fn client_axfr(s: &mut Session, peer: Peer) -> Result<(), String> {
    let client = peer.client();
    let zone = generated_zone();
    let ours = s.start_ours(port()?, vec![primary_config(&zone, Vec::new())?])?;
    let records = client.transfer(ours.addr, ORIGIN, Transfer::Axfr)?;
    let theirs = zone_from_transfer(&records)?;
    let expected = our_zone(&ours, SERIAL)?;
    if records.len() != expected.len() + 1 || theirs.digest() != expected.digest() {
        return Err(format!(
            "AXFR returned {} records; expected the zone's {} and the closing SOA: {}",
            records.len(),
            expected.len(),
            difference(&expected, &theirs)
        ));
    }
    Ok(())
}

/// `dig IXFR=<serial>` / `kdig IXFR=<serial>` against our primary after one update
/// (RFC 1995 §4): from the previous serial, exactly the difference sequence; from the current
/// serial, the SOA alone; from a serial the journal never held, the whole zone AXFR-style.
fn client_ixfr(s: &mut Session, peer: Peer) -> Result<(), String> {
    let client = peer.client();
    let zone = generated_zone();
    let ours = s.start_ours(port()?, vec![primary_config(&zone, Vec::new())?])?;
    let change = ZoneChange::sample(ORIGIN);
    client.update(ours.addr, ORIGIN, &change)?;
    let next = zone.changed(&change);
    our_zone(&ours, next.serial)?;

    let lines = |lines: &[String]| parse_answer(&lines.join("\n"));
    let mut expected = lines(&[next.soa_line(), zone.soa_line()])?;
    expected.extend(lines(&change.delete)?);
    expected.extend(lines(&[next.soa_line()])?);
    expected.extend(lines(&change.add)?);
    expected.extend(lines(&[next.soa_line()])?);
    let got = client.transfer(ours.addr, ORIGIN, Transfer::Ixfr(zone.serial))?;
    // Within a deletion or addition run the order is free; compare runs as sets.
    if !same_sequence(&got, &expected) {
        return Err(format!("IXFR={} returned {got:?}; expected {expected:?}", zone.serial));
    }

    let got = client.transfer(ours.addr, ORIGIN, Transfer::Ixfr(next.serial))?;
    if got != lines(&[next.soa_line()])? {
        return Err(format!("IXFR={} (current) returned {} records; expected the SOA alone", next.serial, got.len()));
    }

    let unknown = zone.serial - 10;
    let got = client.transfer(ours.addr, ORIGIN, Transfer::Ixfr(unknown))?;
    let theirs = zone_from_transfer(&got).map_err(|e| format!("IXFR={unknown} (not in the journal): {e}"))?;
    let current = our_zone(&ours, next.serial)?;
    if theirs.digest() != current.digest() {
        return Err(format!("IXFR={unknown} returned a zone unlike ours: {}", difference(&current, &theirs)));
    }
    Ok(())
}

/// Equal as sequences of SOA-delimited runs, each run compared as a set.
fn same_sequence(got: &[ZoneRecord], expected: &[ZoneRecord]) -> bool {
    let runs = |records: &[ZoneRecord]| {
        let mut runs: Vec<(Option<ZoneRecord>, BTreeSet<String>)> = Vec::new();
        for record in records {
            if record.rtype() == SOA {
                runs.push((Some(record.clone()), BTreeSet::new()));
            } else if let Some(run) = runs.last_mut() {
                run.1.insert(record.to_string());
            } else {
                runs.push((None, BTreeSet::from([record.to_string()])));
            }
        }
        runs
    };
    got.len() == expected.len() && runs(got) == runs(expected)
}

/// One master file with every feature and type (`tests/data/fidelity/`), loaded by the peer
/// and by our primary: both AXFRs (read by our own raw-socket client, so bytes are compared,
/// not a client's printout) hold the same records — owner bytes, type, class, TTL and RDATA
/// bytes; case too against BIND. Knot and NSD lower-case names when they load a zone, so
/// against them names are compared with their case folded (strings still exactly). Then our
/// secondary transfers the peer's zone, and what it serves is the peer's AXFR byte for byte,
/// case included, whoever the peer is. Our primary reads the file with the peer's profile, so
/// the RRset written with two TTLs (`ttl-mismatch`) must come out as that server settles it.
fn content_fidelity(s: &mut Session, peer: Peer) -> Result<(), String> {
    let files = fixture::files_for(peer)?;
    let origin = Name::from_ascii(fixture::ORIGIN).expect("a valid origin");
    let ours_dir = s.dir.subdir("ours-fixture").map_err(|e| format!("cannot create a directory: {e}"))?;
    crate::workdir::write_files(&ours_dir, &files)?;
    let profile = match peer {
        Peer::Bind => xfrsim_engine::Profile::Bind,
        Peer::Knot => xfrsim_engine::Profile::Knot,
        Peer::Nsd => xfrsim_engine::Profile::Nsd,
    };
    let options = xfrsim_zone::ReadOptions {
        rrset_ttl: xfrsim_engine::Behaviour::of(profile).rrset_ttl,
        ..xfrsim_zone::ReadOptions::new(xfrsim_zone::Confinement::Anywhere)
    };
    let data = xfrsim_zone::load_zone_file(&ours_dir.join(fixture::MAIN), &origin, &options)
        .map_err(|e| format!("our primary does not load the fixture: {e}"))?
        .zone;
    let serial = data.serial().0;
    let (peer_addr, primary_addr, secondary_addr) = (port()?, port()?, port()?);
    let role = PeerRole::PrimaryFiles {
        origin: fixture::ORIGIN.to_string(),
        serial,
        main: fixture::MAIN.into(),
        files: files.clone(),
    };
    s.start_peer(peer, peer_addr, &[role])?;
    let primary = ZoneConfig { allow_transfer: Acl::Any, ..ZoneConfig::primary(origin.clone(), data) };
    s.start_ours(primary_addr, vec![primary])?;
    let theirs = crate::axfr::axfr(peer_addr, &origin, SOON)?;
    let mine = crate::axfr::axfr(primary_addr, &origin, SOON)?;
    crate::axfr::check_axfr_shape(&theirs.records).map_err(|e| format!("{}'s AXFR: {e}", peer.name()))?;
    crate::axfr::check_axfr_shape(&mine.records).map_err(|e| format!("our AXFR: {e}"))?;
    crate::axfr::compare_records(&mine.records, &theirs.records, peer != Peer::Bind)
        .map_err(|e| format!("our primary and {} serve the fixture differently: {e}", peer.name()))?;

    let secondary = ZoneConfig { allow_transfer: Acl::Any, ..ZoneConfig::secondary(origin.clone(), vec![peer_addr]) };
    let ours = s.start_ours(secondary_addr, vec![secondary])?;
    ours.wait_event(SOON, |e| match e.kind {
        EventKind::ZoneUpdate { serial: got, master, .. } if master == peer_addr && got.0 == serial => Some(()),
        _ => None,
    })
    .ok_or_else(|| format!("our secondary did not install serial {serial} from {} within {SOON:?}", peer.name()))?;
    let copy = crate::axfr::axfr(secondary_addr, &origin, SOON)?;
    crate::axfr::compare_records(&copy.records, &theirs.records, false)
        .map_err(|e| format!("our secondary's copy differs from {}'s zone: {e}", peer.name()))
}
