//! The fuzz targets: each feeds one input to one piece of code that reads untrusted bytes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hickory_proto::rr::Name;
use xfrsim_engine::{Acl, Behaviour, ConnId, Node, NodeConfig, Profile, Role, Time, Transmit, ZoneConfig};
use xfrsim_zone::Zone;
use xfrsim_zone::zonefile::{Confinement, ReadOptions};

use crate::FuzzError;

/// What can be fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// DNS messages to a primary: UDP queries, NOTIFY, UPDATE; TCP queries and transfers.
    MessagePrimary,
    /// DNS messages to a secondary: a master's SOA answer and transfer stream, NOTIFY, queries.
    MessageSecondary,
    /// The scenario loader (`xfrsim_scenario::parse`) on RON text.
    Scenario,
    /// The node-configuration loader (`xfrsim_scenario::parse_node`) on RON text.
    NodeConfig,
    /// The master-file reader (`load_zone_file`, confined to a scratch directory, and
    /// `parse_records`).
    MasterFile,
}

/// Every target, in the order `all` runs them.
pub const ALL_TARGETS: [Target; 5] =
    [Target::MessagePrimary, Target::MessageSecondary, Target::Scenario, Target::NodeConfig, Target::MasterFile];

/// Most DNS messages one input is split into (a transfer stream is several).
pub const MAX_MESSAGES_PER_INPUT: usize = 64;

/// Most `handle_tcp_sent` rounds after one message: an outgoing transfer sends one message per
/// round, and the fixture zone needs a handful.
const MAX_SEND_ROUNDS: usize = 1_000;

/// Most deadlines fired after the messages (retries, transfer timeouts, NOTIFY resends).
const MAX_DEADLINES_FIRED: usize = 16;

/// The zone both message targets serve or pull. Record types with names in RDATA (compression)
/// and a delegation, so answers and transfers take their interesting paths.
const FIXTURE_ZONE: &str = "\
$TTL 300
@       IN SOA  ns1 hostmaster 100 3600 600 86400 300
@       IN NS   ns1
@       IN NS   ns2.example.net.
@       IN MX   10 mail
ns1     IN A    192.0.2.1
mail    IN A    192.0.2.25
mail    IN AAAA 2001:db8::25
www     IN CNAME mail
txt     IN TXT  \"v=spf1 -all\" \"second string\"
sub     IN NS   ns.sub
ns.sub  IN A    192.0.2.53
srv     IN SRV  0 5 5060 mail
*.wild  IN A    192.0.2.99
";

/// The fixture zone's origin.
pub const FIXTURE_ORIGIN: &str = "example.com.";

/// The primary's address, which is also the secondary's master.
pub const PRIMARY_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 53);
/// The secondary's address.
pub const SECONDARY_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 53);
/// Where queries to either node come from.
pub const CLIENT_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 40053);

/// The seed of every fuzzed node: message ids must not differ between two runs of one input.
const NODE_SEED: u64 = 6523;

/// Files the text targets may name: zone files the scenarios and node configurations read,
/// and files a master file may `$INCLUDE` (all committed fixtures of the repository).
const SCRATCH_FILES: &[(&str, &str)] = &[
    ("zones/example.org.zone", include_str!("../../../scenarios/zones/example.org.zone")),
    ("zones/bad-record.zone", include_str!("../../../tests/bad-scenarios/zones/bad-record.zone")),
    ("zones/cname-and-other.zone", include_str!("../../../tests/bad-scenarios/zones/cname-and-other.zone")),
    ("example.org.zone", include_str!("../../../scenarios/zones/example.org.zone")),
    ("included.zone", include_str!("../../../tests/data/fidelity/sub/included.zone")),
    ("sub/included.zone", include_str!("../../../tests/data/fidelity/sub/included.zone")),
    ("sub/second.zone", include_str!("../../../tests/data/fidelity/sub/second.zone")),
];

/// The file the master-file target writes each input to, inside the scratch directory.
const MASTER_FILE_NAME: &str = "fuzz.zone";

impl Target {
    /// The name used on the command line and for corpus directories.
    pub fn name(self) -> &'static str {
        match self {
            Target::MessagePrimary => "message-primary",
            Target::MessageSecondary => "message-secondary",
            Target::Scenario => "scenario",
            Target::NodeConfig => "node-config",
            Target::MasterFile => "master-file",
        }
    }

    pub fn from_name(name: &str) -> Result<Target, FuzzError> {
        ALL_TARGETS.into_iter().find(|t| t.name() == name).ok_or_else(|| FuzzError::UnknownTarget(name.to_string()))
    }

    /// Whether inputs are text, so the line and token edits apply.
    pub fn is_text(self) -> bool {
        matches!(self, Target::Scenario | Target::NodeConfig | Target::MasterFile)
    }

    /// Feeds one input. Returns normally for every input the code under test handles, whatever
    /// it decided (a panic is a finding), with how far the input got.
    pub fn run(self, scratch: &Scratch, input: &[u8]) -> Reach {
        match self {
            Target::MessagePrimary => message_primary(input),
            Target::MessageSecondary => message_secondary(input),
            Target::Scenario => {
                let text = String::from_utf8_lossy(input);
                Reach {
                    accepted: xfrsim_scenario::parse(&text, &scratch.dir.join("fuzz.ron")).is_ok(),
                    ..Reach::default()
                }
            }
            Target::NodeConfig => {
                let text = String::from_utf8_lossy(input);
                let accepted = xfrsim_scenario::parse_node(&text, &scratch.dir.join("node.ron")).is_ok();
                Reach { accepted, ..Reach::default() }
            }
            Target::MasterFile => master_file(scratch, input),
        }
    }
}

/// How far one input got: a fuzzer without coverage feedback cannot see this by itself, so the
/// crate's test checks that the unmutated corpus reaches past the parsers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    /// The loader accepted the text (text targets); the secondary installed a transfer; the
    /// primary answered the client with rcode NOERROR.
    pub accepted: bool,
    /// TCP messages the node wrote.
    pub sent_messages: usize,
    /// Datagrams the node sent (answers, NOTIFY).
    pub sent_datagrams: usize,
}

/// A directory of its own for one runner: the files text targets may name, and the master-file
/// target's input file. Removed on drop.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates `<temp>/xfrsim-fuzz-<pid>-<runner>` with the fixture files.
    pub fn new(runner: u32) -> Result<Scratch, FuzzError> {
        let dir = std::env::temp_dir().join(format!("xfrsim-fuzz-{}-{runner}", std::process::id()));
        let io = |path: &Path, e: std::io::Error| FuzzError::Scratch { path: path.to_path_buf(), error: e.kind() };
        // A directory left by a killed run with the same pid would hold stale files.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        for (name, text) in SCRATCH_FILES {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        }
        Ok(Scratch { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn master_file(scratch: &Scratch, input: &[u8]) -> Reach {
    let origin = fixture_origin();
    let path = scratch.dir.join(MASTER_FILE_NAME);
    // Confined to the scratch directory: `$INCLUDE` of anything outside must be refused.
    let options = ReadOptions::new(Confinement::Within(scratch.dir.clone()));
    // A new file each time rather than the old one truncated: ext4 flushes a file rewritten
    // through truncation when it is closed (`auto_da_alloc`), which can make each input wait
    // for the disk.
    let _ = std::fs::remove_file(&path);
    let accepted = std::fs::write(&path, input).is_ok() && xfrsim_zone::load_zone_file(&path, origin, &options).is_ok();
    // The same text as a bare record list: no zone rules, so every record line is read even
    // when the zone as a whole would be refused.
    let text = String::from_utf8_lossy(input);
    let _ = xfrsim_zone::parse_records(&text, MASTER_FILE_NAME, origin);
    Reach { accepted, ..Reach::default() }
}

fn fixture_origin() -> &'static Name {
    static ORIGIN: OnceLock<Name> = OnceLock::new();
    ORIGIN.get_or_init(|| Name::from_ascii(FIXTURE_ORIGIN).expect("the fixture origin is a name"))
}

/// The fixture zone, parsed once (a `Zone` is shared copy-on-write, so each node's copy is
/// cheap).
pub fn fixture_zone() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| {
        xfrsim_zone::parse_zone_text(FIXTURE_ZONE, "fixture", fixture_origin()).expect("the fixture zone loads").zone
    })
}

/// How a message input is laid out: one control byte, then messages each behind a 2-byte
/// big-endian length as on a TCP stream (RFC 1035 §4.2.2); a length past the end takes the rest.
///
/// Control byte: bit 0 — the secondary target writes the id it expects into each answer (so
/// mutations reach past the id check); bits 1-2 — the profile (BIND, Knot, NSD); bit 3 — the
/// secondary starts with the fixture zone restored from disk (so it asks for IXFR).
struct MessageInput<'i> {
    patch_ids: bool,
    profile: Profile,
    restored: bool,
    messages: Vec<&'i [u8]>,
}

impl<'i> MessageInput<'i> {
    fn split(input: &'i [u8]) -> Self {
        let (control, mut rest) = match input.split_first() {
            Some((&control, rest)) => (control, rest),
            None => (0, input),
        };
        let mut messages = Vec::new();
        while rest.len() >= 2 && messages.len() < MAX_MESSAGES_PER_INPUT {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let body = &rest[2..];
            let take = len.min(body.len());
            messages.push(&body[..take]);
            rest = &body[take..];
        }
        let profile = match (control >> 1) & 3 {
            1 => Profile::Knot,
            2 => Profile::Nsd,
            _ => Profile::Bind,
        };
        MessageInput { patch_ids: control & 1 == 1, profile, restored: control & 8 == 8, messages }
    }
}

/// What the secondary's outgoing traffic told us: the ids its answers must carry and its
/// transfer connection.
#[derive(Default)]
struct Outgoing {
    query_id: Option<u16>,
    transfer: Option<ConnId>,
    request_id: Option<u16>,
    /// Messages written and datagrams sent, so a test can tell that the corpus reaches past
    /// the parsers.
    sent_messages: usize,
    sent_datagrams: usize,
    /// Of those, the answers to the client with rcode NOERROR (not the node's own NOTIFY or
    /// requests to its master).
    sent_no_error: usize,
}

/// Whether a message the node sent carries rcode NOERROR (RFC 1035 §4.1.1: the low four bits of
/// the fourth octet).
fn is_no_error(payload: &[u8]) -> bool {
    payload.get(3).is_some_and(|flags| flags & 0x0f == 0)
}

/// Drains a node: events dropped, transmits acted on as a willing network would (connections
/// open at once, every message is written), until nothing more is sent or the round limit.
fn pump(node: &mut Node, now: Time, outgoing: &mut Outgoing) {
    for _ in 0..MAX_SEND_ROUNDS {
        let mut sent = Vec::new();
        let mut connected = Vec::new();
        while let Some(transmit) = node.poll_transmit() {
            match transmit {
                Transmit::Query { id, .. } => outgoing.query_id = Some(id),
                Transmit::Connect { conn, .. } => connected.push(conn),
                Transmit::Send { conn, payload } => {
                    if Some(conn) == outgoing.transfer && payload.len() >= 2 {
                        outgoing.request_id = Some(u16::from_be_bytes([payload[0], payload[1]]));
                    }
                    outgoing.sent_messages += 1;
                    if Some(conn) != outgoing.transfer {
                        outgoing.sent_no_error += usize::from(is_no_error(&payload));
                    }
                    sent.push(conn);
                }
                Transmit::Udp { to, payload, .. } => {
                    outgoing.sent_datagrams += 1;
                    if to == CLIENT_ADDRESS {
                        outgoing.sent_no_error += usize::from(is_no_error(&payload));
                    }
                }
                Transmit::Close { .. } => {}
            }
        }
        while node.poll_event().is_some() {}
        if sent.is_empty() && connected.is_empty() {
            return;
        }
        for conn in connected {
            // The latest connection is the one the next answers belong to.
            outgoing.transfer = Some(conn);
            node.handle_tcp_connected(now, conn);
        }
        for conn in sent {
            node.handle_tcp_sent(now, conn);
        }
    }
}

fn node_config(name: &str, address: SocketAddr, zone: ZoneConfig, profile: Profile) -> NodeConfig {
    NodeConfig { name: name.into(), addresses: vec![address], zones: vec![zone], behaviour: Behaviour::of(profile) }
}

/// Fires the node's next deadlines (bounded), pumping after each.
fn fire_deadlines(node: &mut Node, mut now: Time, outgoing: &mut Outgoing) -> Time {
    for _ in 0..MAX_DEADLINES_FIRED {
        let Some(next) = node.poll_timeout() else { break };
        now = now.max(next);
        node.handle_timeout(now);
        pump(node, now, outgoing);
    }
    now
}

fn reach(outgoing: &Outgoing, accepted: bool) -> Reach {
    Reach { accepted, sent_messages: outgoing.sent_messages, sent_datagrams: outgoing.sent_datagrams }
}

fn message_primary(input: &[u8]) -> Reach {
    let input = MessageInput::split(input);
    let mut zone = ZoneConfig::primary(fixture_origin().clone(), fixture_zone().clone());
    zone.allow_transfer = Acl::Any;
    zone.allow_update = Acl::Any;
    zone.notify = vec![SECONDARY_ADDRESS];
    let Ok(mut node) = Node::new(node_config("p", PRIMARY_ADDRESS, zone, input.profile), NODE_SEED, Time::ZERO) else {
        return Reach::default();
    };
    let mut outgoing = Outgoing::default();
    let mut now = Time::ZERO;
    pump(&mut node, now, &mut outgoing);
    for message in &input.messages {
        now = Time::from_millis(now.as_millis() + 1);
        node.handle_udp_on(now, None, CLIENT_ADDRESS, message);
        pump(&mut node, now, &mut outgoing);
    }
    let conn = node.handle_tcp_accepted(now, CLIENT_ADDRESS);
    for message in &input.messages {
        now = Time::from_millis(now.as_millis() + 1);
        node.handle_tcp_message(now, conn, message);
        pump(&mut node, now, &mut outgoing);
    }
    node.handle_tcp_closed(now, conn);
    fire_deadlines(&mut node, now, &mut outgoing);
    let answered = outgoing.sent_no_error > 0;
    reach(&outgoing, answered)
}

fn with_id(message: &[u8], id: Option<u16>, patch: bool) -> Vec<u8> {
    let mut message = message.to_vec();
    if let (true, Some(id), true) = (patch, id, message.len() >= 2) {
        message[..2].copy_from_slice(&id.to_be_bytes());
    }
    message
}

/// When a restored copy of the fixture zone expires, in seconds after the start (a day).
const RESTORED_EXPIRY_SECS: u64 = 86_400;

fn message_secondary(input: &[u8]) -> Reach {
    let input = MessageInput::split(input);
    let mut zone = ZoneConfig::secondary(fixture_origin().clone(), vec![PRIMARY_ADDRESS]);
    if input.restored {
        zone.role = Role::Secondary {
            masters: vec![PRIMARY_ADDRESS],
            restored: Some((fixture_zone().clone(), Time::from_secs(RESTORED_EXPIRY_SECS))),
        };
    }
    let initial_serial = input.restored.then(|| fixture_zone().serial());
    let Ok(mut node) = Node::new(node_config("s", SECONDARY_ADDRESS, zone, input.profile), NODE_SEED, Time::ZERO)
    else {
        return Reach::default();
    };
    let mut outgoing = Outgoing::default();
    // A new secondary refreshes at once, a restored one at its first deadline: the SOA query
    // goes out then.
    let mut now = node.poll_timeout().unwrap_or(Time::ZERO);
    node.handle_timeout(now);
    pump(&mut node, now, &mut outgoing);
    let mut messages = input.messages.iter();
    if let Some(first) = messages.next() {
        // The master's answer to the SOA query; a newer serial opens the transfer connection.
        now = Time::from_millis(now.as_millis() + 1);
        node.handle_udp(now, PRIMARY_ADDRESS, &with_id(first, outgoing.query_id, input.patch_ids));
        pump(&mut node, now, &mut outgoing);
    }
    for message in messages {
        now = Time::from_millis(now.as_millis() + 1);
        match outgoing.transfer {
            // The master's transfer stream, message by message.
            Some(conn) => {
                node.handle_tcp_message(now, conn, &with_id(message, outgoing.request_id, input.patch_ids));
            }
            // No transfer asked for: the rest are datagrams from the master (NOTIFY, late answers).
            None => node.handle_udp(now, PRIMARY_ADDRESS, &with_id(message, outgoing.query_id, input.patch_ids)),
        }
        pump(&mut node, now, &mut outgoing);
    }
    let serial = node.zone(fixture_origin()).map(Zone::serial);
    let installed = serial.is_some() && serial != initial_serial;
    if let Some(conn) = outgoing.transfer {
        node.handle_tcp_closed(now, conn);
        outgoing.transfer = None;
    }
    // Then every message again as a client's query or NOTIFY, over UDP and TCP.
    let conn = node.handle_tcp_accepted(now, CLIENT_ADDRESS);
    for message in &input.messages {
        node.handle_udp(now, PRIMARY_ADDRESS, message);
        node.handle_tcp_message(now, conn, message);
        pump(&mut node, now, &mut outgoing);
    }
    fire_deadlines(&mut node, now, &mut outgoing);
    reach(&outgoing, installed)
}
