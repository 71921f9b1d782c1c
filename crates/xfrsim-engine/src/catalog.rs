//! The event catalog as data: for every event a node emits, its Windows ID and symbolic name,
//! severity, which role of a zone emits it, what it means in our own words, its parameters,
//! when xfrsim emits it, and the log lines BIND 9 and Knot DNS print for the same situation
//! (IDs and symbolic names as the Windows Server event provider
//! Microsoft-Windows-DNS-Server-Service records them; BIND's lines from lib/dns/zone.c, xfrin.c
//! and lib/ns/xfrout.c, Knot's from src/knot/events/handlers/refresh.c and its neighbours).
//! One table, read by `cargo xtask events`, `docs/events.md` (generated from it) and the
//! scenario loader; `EventKind` maps each variant onto its row, and a test keeps the two in
//! step. [`find_event`] is the one way a user's text (an ID, a name) becomes a row.

use core::fmt;

/// Windows event-log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One parameter of an event: its name as timelines print it, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: &'static str,
    /// What the value is, so a scenario can write it the way it writes the same thing
    /// elsewhere (a server name or a bare IP for a peer) and have it checked when it loads.
    pub kind: ParamKind,
    pub meaning: &'static str,
}

/// What a parameter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A server's service address, printed `IP:port` (port 53 unless configured otherwise).
    Peer,
    /// The connecting side of a connection, printed `IP:port` with the port its system
    /// picked: an expectation names it by IP (or server name) and matches any port.
    Client,
    /// An IP address, printed without a port.
    Address,
    /// A whole number: a serial, a count, seconds.
    Number,
    /// Words from a small vocabulary (`kind`, `reason`, `quota`), or `none` for no serial.
    Text,
}

/// Which side of a zone can emit an event: what the scenario loader checks an expectation's
/// server against, so that an expectation of an event its server can never emit (which would
/// pass vacuously under `count: Never`) is refused when the file loads.
///
/// Read from the engine's emit sites: refreshing, transferring in, expiring and taking NOTIFY
/// live in `secondary/` (and `serve.rs` takes a NOTIFY only for a secondary zone: a primary
/// acknowledges it silently); dynamic updates and reloads (`node.rs`) are refused on a
/// secondary zone. Serving transfers (`serve.rs`) and sending NOTIFY (`notify.rs`) happen in
/// both roles, since a secondary serves and notifies its own secondaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Emitter {
    /// Only a server holding the zone as a secondary.
    Secondary,
    /// Only a server holding the zone as its primary.
    Primary,
    /// A server in either role, or node-wide (no zone: an undecodable message).
    Any,
}

impl fmt::Display for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Emitter::Secondary => "secondary",
            Emitter::Primary => "primary",
            Emitter::Any => "any",
        })
    }
}

/// One row of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    /// The Windows DNS Server event ID; `None` for xfrsim's own events (`XFRSIM_` names).
    pub windows_id: Option<u16>,
    pub name: &'static str,
    pub severity: Severity,
    /// Which role of the zone emits it.
    pub emitted_by: Emitter,
    /// What happened, in a sentence.
    pub message: &'static str,
    /// The parameters, in the order timelines print them.
    pub params: &'static [ParamInfo],
    /// When xfrsim's engine emits it.
    pub fires: &'static str,
    /// What BIND 9 logs in the same situation.
    pub bind: &'static str,
    /// What Knot DNS logs in the same situation.
    pub knot: &'static str,
}

const fn p(kind: ParamKind, name: &'static str, meaning: &'static str) -> ParamInfo {
    ParamInfo { name, kind, meaning }
}

const MASTER: ParamInfo = p(Peer, "master", "the master's address and port, as configured");
const SERIAL: ParamInfo = p(Number, "serial", "the zone serial concerned");
const SECONDARY: ParamInfo = p(Client, "secondary", "the address and source port of the secondary being served");
const CLIENT: ParamInfo = p(Client, "client", "the address and port the request came from");
const KIND: ParamInfo = p(Text, "kind", "`AXFR` (whole zone) or `IXFR` (differences only)");
const REASON_BAD: ParamInfo = p(
    Text,
    "reason",
    "why the answer was unusable: an rcode (`rcode Refused`), or a fault in the message or the stream",
);

use Emitter::{Any, Primary, Secondary};
use ParamKind::{Address, Client, Number, Peer, Text};
use Severity::{Error, Info, Warning};

/// Every event, Windows IDs first in numeric order, then xfrsim's own.
pub const EVENTS: &[EventInfo] = &[
    EventInfo {
        windows_id: Some(503),
        name: "DNS_EVENT_SECONDARY_REQUIRES_MASTERS",
        severity: Error,
        emitted_by: Secondary,
        message: "A secondary zone is configured without any master to transfer it from.",
        params: &[],
        fires: "When a node starts with a secondary zone whose master list is empty; the zone never loads.",
        bind: "zone example.com/IN: cannot refresh: no primaries",
        knot: "(refused when the configuration is checked: a secondary zone needs a `master`)",
    },
    EventInfo {
        windows_id: Some(5501),
        name: "DNS_EVENT_BAD_PACKET_LENGTH",
        severity: Warning,
        emitted_by: Any,
        message: "A message from a peer could not be decoded and was dropped.",
        params: &[p(Client, "peer", "the address and port it came from")],
        fires: "When a datagram or TCP message does not parse as DNS; at most once a minute per source \
                (the rest are counted in XFRSIM_BAD_PACKETS_SUPPRESSED).",
        bind: "client @0x... 192.0.2.9#53: message parsing failed: unexpected end of input",
        knot: "(not logged at the default level; the message is dropped as malformed)",
    },
    EventInfo {
        windows_id: Some(6000),
        name: "DNS_EVENT_ZONEXFR_START",
        severity: Info,
        emitted_by: Any,
        message: "This server began sending the zone to a secondary.",
        params: &[SERIAL, SECONDARY, KIND],
        fires: "On a primary (or a secondary serving others) when an AXFR or IXFR request is accepted.",
        bind: "client @0x... 192.0.2.2#49153 (example.com): transfer of 'example.com/IN': AXFR started (serial 2026010101)",
        knot: "[example.com.] AXFR, outgoing, remote 192.0.2.2@49153, started, serial 2026010101",
    },
    EventInfo {
        windows_id: Some(6001),
        name: "DNS_EVENT_ZONEXFR_SUCCESSFUL",
        severity: Info,
        emitted_by: Any,
        message: "An outgoing transfer was sent completely.",
        params: &[SERIAL, SECONDARY, p(Number, "records", "how many records the transfer carried")],
        fires: "When the last message of an outgoing transfer has been written to the connection.",
        bind: "client @0x... 192.0.2.2#49153 (example.com): transfer of 'example.com/IN': AXFR ended: 3 messages, 43 records, ...",
        knot: "[example.com.] AXFR, outgoing, remote 192.0.2.2@49153, finished, 0.01 seconds, 3 messages, 1234 bytes",
    },
    EventInfo {
        windows_id: Some(6002),
        name: "DNS_EVENT_ZONEXFR_ABORTED",
        severity: Info,
        emitted_by: Any,
        message: "A secondary went away before the outgoing transfer was finished.",
        params: &[SERIAL, SECONDARY],
        fires: "When the connection of an outgoing transfer closes or resets before its last message is written.",
        bind: "client @0x... 192.0.2.2#49153 (example.com): transfer of 'example.com/IN': send: connection reset",
        knot: "[example.com.] AXFR, outgoing, remote 192.0.2.2@49153, failed (connection reset)",
    },
    EventInfo {
        windows_id: Some(6003),
        name: "DNS_EVENT_UDP_ZONE_TRANSFER",
        severity: Warning,
        emitted_by: Any,
        message: "A full zone transfer was asked for over UDP, where it is not allowed; refused.",
        params: &[CLIENT],
        fires: "When an AXFR query arrives in a datagram; it is answered FORMERR.",
        bind: "(answers FORMERR; logged only at debug level: AXFR over UDP)",
        knot: "(answers FORMERR without logging)",
    },
    EventInfo {
        windows_id: Some(6004),
        name: "DNS_EVENT_BAD_ZONE_TRANSFER_REQUEST",
        severity: Warning,
        emitted_by: Any,
        message: "A transfer was asked for a zone this server does not hold; answered NOTAUTH.",
        params: &[CLIENT],
        fires: "When an AXFR or IXFR names a zone the node is not authoritative for (RFC 5936 §2.2.1).",
        bind: "client @0x... 192.0.2.2#49153: zone transfer 'example.net/AXFR/IN' denied: non-authoritative zone (NOTAUTH)",
        knot: "(answers NOTAUTH; no log line at the default level)",
    },
    EventInfo {
        windows_id: Some(6520),
        name: "DNS_EVENT_ZONE_UPDATE",
        severity: Info,
        emitted_by: Secondary,
        message: "A new version of the zone was received from a master and is now served.",
        params: &[SERIAL, MASTER, KIND],
        fires: "On a secondary, when a complete AXFR or IXFR has been checked and installed in one step.",
        bind: "zone example.com/IN: transferred serial 2026010102",
        knot: "[example.com.] refresh, remote 192.0.2.1@53, zone updated, serial 2026010101 -> 2026010102",
    },
    EventInfo {
        windows_id: Some(6521),
        name: "DNS_EVENT_ZONE_IN_SYNC",
        severity: Info,
        emitted_by: Secondary,
        message: "The master holds the same serial as this copy; nothing to transfer.",
        params: &[SERIAL, MASTER],
        fires: "On a secondary, when a refresh finds an equal serial: the refresh and expire timers start again \
                (expire bounded by the master's EDNS EXPIRE when it sends one).",
        bind: "(nothing at info level: the refresh timer is simply reset)",
        knot: "[example.com.] refresh, remote 192.0.2.1@53, remote serial 2026010101, zone is up-to-date",
    },
    EventInfo {
        windows_id: Some(6522),
        name: "DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS",
        severity: Info,
        emitted_by: Secondary,
        message: "A master holds a newer serial; a transfer from it starts.",
        params: &[p(Number, "serial", "the master's (newer) serial"), MASTER],
        fires: "On a secondary, when an SOA answer carries a serial greater than ours (RFC 1982), or when the \
                zone has no copy yet.",
        bind: "zone example.com/IN: Transfer started. / transfer of 'example.com/IN' from 192.0.2.1#53: connected using 192.0.2.2#49153",
        knot: "[example.com.] refresh, remote 192.0.2.1@53, remote serial 2026010102, zone is outdated",
    },
    EventInfo {
        windows_id: Some(6523),
        name: "DNS_EVENT_XFR_MASTER_UNAVAILABLE",
        severity: Warning,
        emitted_by: Secondary,
        message: "A master could not be reached to check the serial or to transfer the zone.",
        params: &[
            MASTER,
            p(
                Text,
                "reason",
                "`timed out` (nothing answered: a silent host, a dropping firewall, a partition), `connection \
                 refused` (a host with no DNS service, a rejecting firewall) or `connection closed before an answer`",
            ),
        ],
        fires: "On a secondary, once per master per refresh round when that master fails: the SOA query over UDP \
                timed out and the TCP try failed too (BIND profile: 45 s after the round began, three 5 s \
                tries with EDNS, three without, then a 15 s TCP connect), or it was refused at once. The round goes on with the next master; with none left, it retries after RETRY.",
        bind: "zone example.com/IN: refresh: retry limit for primary 192.0.2.99#53 exceeded (source 0.0.0.0#0) \
               / refresh: failure trying primary 192.0.2.99#53 (source 0.0.0.0#0): timed out",
        knot: "[example.com.] refresh, remote 192.0.2.99@53, address 192.0.2.99@53, failed (connection timeout)",
    },
    EventInfo {
        windows_id: Some(6524),
        name: "DNS_EVENT_AXFR_BAD_RESPONSE",
        severity: Error,
        emitted_by: Secondary,
        message: "A master answered, but not with anything usable (an error, a non-authoritative answer, a broken transfer).",
        params: &[MASTER, REASON_BAD],
        fires: "On a secondary, when an SOA answer or a transfer from a master is an error rcode other than \
                REFUSED, lacks the AA bit or the zone SOA, or the transfer stream is inconsistent; the round \
                goes on with the next master.",
        bind: "zone example.com/IN: refresh: non-authoritative answer from primary 192.0.2.9#53 (source 0.0.0.0#0)",
        knot: "[example.com.] refresh, remote 192.0.2.9@53, failed (server responded with error 'NOTAUTH')",
    },
    EventInfo {
        windows_id: Some(6525),
        name: "DNS_EVENT_AXFR_REFUSED",
        severity: Error,
        emitted_by: Secondary,
        message: "A master refused to transfer the zone to this server.",
        params: &[MASTER],
        fires: "On a secondary, when a transfer request is answered REFUSED (the master's transfer ACL leaves us out).",
        bind: "transfer of 'example.com/IN' from 192.0.2.1#53: failed while receiving responses: REFUSED",
        knot: "[example.com.] AXFR, incoming, remote 192.0.2.1@53, server responded with error 'REFUSED'",
    },
    EventInfo {
        windows_id: Some(6526),
        name: "DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION",
        severity: Warning,
        emitted_by: Secondary,
        message: "This copy's serial is newer than the master's; nothing is transferred.",
        params: &[p(Number, "ours", "this copy's serial"), p(Number, "theirs", "the master's serial"), MASTER],
        fires: "On a secondary, when a master answers with a lower serial (RFC 1982), or, in the BIND profile, \
                one exactly 2^31 away; the round goes on with the next master.",
        bind: "zone example.com/IN: serial number (2026010100) received from primary 192.0.2.1#53 < ours (2026010101)",
        knot: "[example.com.] refresh, remote 192.0.2.1@53, remote serial 2026010100, remote is outdated",
    },
    EventInfo {
        windows_id: Some(6527),
        name: "DNS_EVENT_ZONE_EXPIRATION",
        severity: Error,
        emitted_by: Secondary,
        message: "No master could confirm the zone for its whole EXPIRE time; the copy is no longer served.",
        params: &[],
        fires: "On a secondary, EXPIRE after the last successful refresh (or less, when a master's EDNS EXPIRE \
                said so): the zone answers SERVFAIL until a transfer succeeds, and retries back off.",
        bind: "zone example.com/IN: expired",
        knot: "[example.com.] zone expired",
    },
    EventInfo {
        windows_id: Some(6534),
        name: "DNS_EVENT_XFR_ABORTED_BY_MASTER",
        severity: Error,
        emitted_by: Secondary,
        message: "An incoming transfer stopped before its end; the previous version stays in service.",
        params: &[
            MASTER,
            p(
                Text,
                "reason",
                "why it stopped: the connection closed mid-stream, no message within the idle deadline, a time or size limit",
            ),
        ],
        fires: "On a secondary, when a transfer's connection closes, goes idle past `max_transfer_idle_in`, or \
                passes `max_transfer_time_in`, `max_records_in` or `max_bytes_in`.",
        bind: "transfer of 'example.com/IN' from 192.0.2.1#53: failed while receiving responses: end of file",
        knot: "[example.com.] AXFR, incoming, remote 192.0.2.1@53, failed (connection reset)",
    },
    EventInfo {
        windows_id: Some(6536),
        name: "DNS_EVENT_IXFR_BAD_RESPONSE",
        severity: Error,
        emitted_by: Secondary,
        message: "An incremental transfer could not be used; a full transfer from the same master follows.",
        params: &[MASTER, REASON_BAD],
        fires: "On a secondary, when an IXFR answer is an error (NOTIMP, FORMERR, ...), out of sequence or does \
                not apply to our copy. The symbolic name is not confirmed by Microsoft's documentation.",
        bind: "transfer of 'example.com/IN' from 192.0.2.1#53: got nonincremental response / retrying with AXFR",
        knot: "[example.com.] IXFR, incoming, remote 192.0.2.1@53, fallback to AXFR (malformed data)",
    },
    EventInfo {
        windows_id: Some(7062),
        name: "DNS_EVENT_SELF_SEND",
        severity: Error,
        emitted_by: Secondary,
        message: "The master list names this server itself; that entry is skipped.",
        params: &[MASTER],
        fires: "On a secondary, when a master address is one of the node's own addresses.",
        bind: "(no dedicated message)",
        knot: "(no dedicated message)",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_NOTIFY_REFUSED",
        severity: Warning,
        emitted_by: Secondary,
        message: "A NOTIFY came from a host that is not a master of the zone and was refused.",
        params: &[p(Peer, "from", "the sender's address and port")],
        fires: "On a secondary, when a NOTIFY's source is not in the zone's master list (RFC 1996 §3.10); \
                answered REFUSED.",
        bind: "client @0x... 192.0.2.7#53: received notify for zone 'example.com': refused notify from non-primary: 192.0.2.7#53",
        knot: "[example.com.] ACL, denied, action notify, remote 192.0.2.7@53",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_NOTIFY_RECEIVED",
        severity: Info,
        emitted_by: Secondary,
        message: "A NOTIFY from a master was accepted; a refresh follows.",
        params: &[
            p(Peer, "from", "the master's address and port"),
            p(Text, "serial", "the serial the NOTIFY announced, or `none` when it carried no SOA"),
        ],
        fires: "On a secondary, when a NOTIFY comes from one of the zone's masters.",
        bind: "zone example.com/IN: notify from 192.0.2.1#53: serial 2026010102",
        knot: "[example.com.] notify, incoming, remote 192.0.2.1@53, serial 2026010102",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_NOTIFY_UNANSWERED",
        severity: Warning,
        emitted_by: Any,
        message: "A NOTIFY got no answer through all its retransmissions.",
        params: &[p(Peer, "target", "the address and port notified")],
        fires: "On a primary, when every UDP retransmission (and the TCP try, in the BIND profile) of a NOTIFY \
                went unanswered (RFC 1996 §3.6).",
        bind: "zone example.com/IN: notify to 192.0.2.2#53 failed: timed out",
        knot: "[example.com.] notify, outgoing, remote 192.0.2.2@53, failed (connection timeout)",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_DYNAMIC_UPDATE",
        severity: Info,
        emitted_by: Primary,
        message: "A dynamic update (RFC 2136) was applied and made a new version.",
        params: &[p(Number, "serial", "the new version's serial")],
        fires: "On a primary, when an allowed UPDATE changes the zone (scenario actions `Update`, `Updates`).",
        bind: "client @0x... 192.0.2.1#53: updating zone 'example.com/IN': adding an RR at 'upd1.example.com' A 192.0.2.200",
        knot: "[example.com.] DDNS, processing 1 updates / DDNS, finished, serial 2026010102",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_ZONE_RELOADED",
        severity: Info,
        emitted_by: Primary,
        message: "An operator loaded new contents into a primary, possibly with a lower serial.",
        params: &[p(Number, "serial", "the serial now served")],
        fires: "On a primary, on a reload (scenario actions `Rollback`, `RestartWithSerial`; SIGHUP under `serve`).",
        bind: "zone example.com/IN: loaded serial 2026010100 (and, when lower: zone serial (2026010100/2026010101) has gone backwards)",
        knot: "[example.com.] loaded, serial 2026010101 -> 2026010100",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_NOTIFY_SENT",
        severity: Info,
        emitted_by: Any,
        message: "A NOTIFY announcing a serial went out to a secondary.",
        params: &[p(Peer, "target", "the address and port notified"), p(Number, "serial", "the serial announced")],
        fires: "On a primary, at the first try of each NOTIFY (after `notify_delay`); retransmissions are not reported.",
        bind: "zone example.com/IN: sending notifies (serial 2026010102)",
        knot: "[example.com.] notify, outgoing, remote 192.0.2.2@53, serial 2026010102",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_TRANSFER_DEFERRED",
        severity: Info,
        emitted_by: Secondary,
        message: "An incoming transfer waits: too many are already running.",
        params: &[
            MASTER,
            p(Text, "quota", "the quota used up: `transfers-in` (in all) or `transfers-per-ns` (per master)"),
        ],
        fires: "On a secondary, when a transfer would pass a transfer quota; it starts when a running one ends.",
        bind: "zone example.com/IN: zone transfer deferred due to quota",
        knot: "(no quota of this kind)",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_TRANSFER_QUOTA_REFUSED",
        severity: Warning,
        emitted_by: Any,
        message: "A transfer request was turned away: this server is already sending as many as it allows.",
        params: &[CLIENT],
        fires: "On a primary, when `transfers_out` transfers are running; answered SERVFAIL.",
        bind: "client @0x... 192.0.2.2#49153 (example.com): zone transfer 'example.com/AXFR/IN' denied: quota reached",
        knot: "(no quota of this kind: Knot limits TCP clients instead)",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_SOA_TIMERS_CLAMPED",
        severity: Warning,
        emitted_by: Secondary,
        message: "The zone's SOA timers are outside what this server accepts and are used clamped.",
        params: &[
            p(Number, "refresh", "the refresh interval used, in seconds"),
            p(Number, "retry", "the retry interval used, in seconds"),
            p(Number, "expire", "the expire interval used, in seconds"),
        ],
        fires: "On a secondary, when a loaded copy's REFRESH, RETRY or EXPIRE falls outside the profile's \
                `min_refresh` .. `max_expire` (BIND: refresh at least 300 s, retry at least 500 s, ...).",
        bind: "(applied silently: min-refresh-time, max-refresh-time, min-retry-time, ... in zone.c)",
        knot: "(applied silently: refresh-min-interval, refresh-max-interval, retry-min-interval, ...)",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_TRANSFER_DENIED",
        severity: Warning,
        emitted_by: Any,
        message: "A transfer request was refused by the zone's transfer access list.",
        params: &[CLIENT],
        fires: "On a primary, when the requester is not in `allow_transfer` (or a `DenyTransfer` action names it); answered REFUSED.",
        bind: "client @0x... 192.0.2.2#49153 (example.com): zone transfer 'example.com/AXFR/IN' denied",
        knot: "[example.com.] ACL, denied, action transfer, remote 192.0.2.2@49153",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_UPDATE_DENIED",
        severity: Warning,
        emitted_by: Any,
        message: "A dynamic update was refused.",
        params: &[CLIENT],
        fires: "When an UPDATE comes from a client outside `allow_update`, or for a zone held as a secondary.",
        bind: "client @0x... 192.0.2.9#53: update 'example.com/IN' denied",
        knot: "[example.com.] ACL, denied, action update, remote 192.0.2.9@53",
    },
    EventInfo {
        windows_id: None,
        name: "XFRSIM_BAD_PACKETS_SUPPRESSED",
        severity: Warning,
        emitted_by: Any,
        message: "More undecodable messages came from one source than are reported one by one.",
        params: &[
            p(Address, "source", "the address they came from"),
            p(Number, "count", "how many arrived since that source's last 5501"),
        ],
        fires: "When a source's next 5501 is due (at most one a minute per source) and messages were dropped meanwhile.",
        bind: "(message parsing failed lines are rate-limited by its logging)",
        knot: "(not logged at the default level)",
    },
];

/// The catalog row of a symbolic name exactly as `EventKind::name` spells it. For text a user
/// wrote, use [`find_event`].
pub fn info_by_name(name: &str) -> Option<&'static EventInfo> {
    EVENTS.iter().find(|e| e.name == name)
}

/// The prefix of the names Windows gives its events.
pub const WINDOWS_PREFIX: &str = "DNS_EVENT_";
/// The prefix of xfrsim's own event names.
pub const XFRSIM_PREFIX: &str = "XFRSIM_";

/// A symbolic name without its prefix: `XFR_MASTER_UNAVAILABLE`, `NOTIFY_REFUSED`.
pub fn short_name(name: &str) -> &str {
    name.strip_prefix(WINDOWS_PREFIX).or_else(|| name.strip_prefix(XFRSIM_PREFIX)).unwrap_or(name)
}

/// The event a user means, the one rule for every place that reads an event from a user (the
/// scenario loader, `cargo xtask events`, `replay --event`): a Windows ID (`6523`), or a
/// symbolic name in any case, with its prefix (`DNS_EVENT_XFR_MASTER_UNAVAILABLE`,
/// `xfrsim_notify_refused`) or without it (`xfr_master_unavailable`, `notify_refused`).
///
/// A name without its prefix is accepted only when exactly one row has it, so a future row
/// that made one ambiguous turns it into a miss rather than a silent pick (a test in
/// `tests/engine/catalog.rs` keeps the catalog free of such collisions).
pub fn find_event(query: &str) -> Option<&'static EventInfo> {
    let query = query.trim();
    if !query.is_empty() && query.bytes().all(|b| b.is_ascii_digit()) {
        let id = query.parse::<u16>().ok()?;
        return EVENTS.iter().find(|e| e.windows_id == Some(id));
    }
    let upper = query.to_ascii_uppercase();
    if let Some(info) = EVENTS.iter().find(|e| e.name == upper) {
        return Some(info);
    }
    let mut unprefixed = EVENTS.iter().filter(|e| short_name(e.name) == upper);
    match (unprefixed.next(), unprefixed.next()) {
        (Some(info), None) => Some(info),
        _ => None,
    }
}

/// The event a user probably meant when [`find_event`] finds none: the row nearest `query`
/// within a slip of the keyboard (at most one edit per three characters, a swap of two
/// neighbours counting one), then the most alike (Jaro-Winkler, which favours a common start
/// and a swap over a substitution), then the first in catalog order. Digits are compared with
/// Windows IDs only (`6532` is nearer `6523` than any name), anything else with the names,
/// with and without their prefix, in any case.
pub fn suggest_event(query: &str) -> Option<&'static EventInfo> {
    let query = query.trim().to_ascii_uppercase();
    let by_id = !query.is_empty() && query.bytes().all(|b| b.is_ascii_digit());
    let allowed = (query.chars().count() / 3).max(1);
    // (edits, likeness) of one written form; fewer edits first, then more alike.
    let score = |form: &str| (strsim::osa_distance(&query, form), strsim::jaro_winkler(&query, form));
    let better = |a: (usize, f64), b: (usize, f64)| a.0 < b.0 || (a.0 == b.0 && a.1 > b.1);
    let mut best: Option<((usize, f64), &'static EventInfo)> = None;
    for info in EVENTS {
        let candidate = match (by_id, info.windows_id) {
            (true, Some(id)) => score(&id.to_string()),
            (true, None) => continue,
            (false, _) => {
                let (full, short) = (score(info.name), score(short_name(info.name)));
                if better(short, full) { short } else { full }
            }
        };
        if candidate.0 <= allowed && best.is_none_or(|(so_far, _)| better(candidate, so_far)) {
            best = Some((candidate, info));
        }
    }
    best.map(|(_, info)| info)
}

/// `CATALOG`'s rows, built from [`EVENTS`] at compile time so the two cannot disagree.
pub(crate) const fn summary_rows<const N: usize>() -> [(Option<u16>, &'static str, Severity); N] {
    let mut rows = [(None, "", Severity::Info); N];
    let mut i = 0;
    while i < N {
        rows[i] = (EVENTS[i].windows_id, EVENTS[i].name, EVENTS[i].severity);
        i += 1;
    }
    rows
}
