//! The event catalog: the Windows DNS Server zone-transfer event log, cross-referenced to the
//! log lines BIND 9 and Knot DNS print for the same thing (see `shared/reference`,
//! zone-transfer-events.md, tables 1, 2 and 5).
//!
//! Every event is also emitted through `tracing` (target `xfrsim::event`) with structured
//! fields: `event_id`, `event_name`, `node`, `zone`, `sim_time`, and one field per parameter.

use std::fmt;
use std::net::SocketAddr;

use hickory_proto::rr::Name;
use xfrsim_zone::Serial;

use crate::Time;

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

/// Why a master could not be reached (6523).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unreachable {
    /// No answer to the SOA query over UDP nor TCP within their deadlines.
    Timeout,
    /// The TCP connection was refused: a host is there but no DNS service listens.
    ConnectionRefused,
    /// The connection closed before any answer came.
    ClosedBeforeAnswer,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unreachable::Timeout => "timed out",
            Unreachable::ConnectionRefused => "connection refused",
            Unreachable::ClosedBeforeAnswer => "connection closed before an answer",
        })
    }
}

/// Why a response from a master was unusable (6524, 6534, 6536).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BadResponse {
    /// An error RCODE (its numeric value and mnemonic).
    Rcode(u16),
    /// AA bit clear on an answer that must be authoritative.
    NotAuthoritative,
    /// The SOA answer did not hold exactly one SOA for the zone apex.
    NoSoaAnswer,
    /// The message id did not match the request.
    WrongId,
    /// The question did not echo the request's.
    WrongQuestion,
    /// The message could not be decoded.
    Malformed,
    /// The first record of a transfer was not the zone SOA.
    FirstNotSoa,
    /// The closing SOA differs from the opening SOA (RFC 5936 §2.2).
    SoaMismatch,
    /// Records arrived after the closing SOA.
    DataAfterEnd,
    /// An IXFR sequence did not chain (RFC 1995 §4).
    IxfrOutOfSync,
    /// A record outside the zone, of another class, or a zone that does not build.
    BadZoneData,
    /// The zone would have no NS records at its apex (BIND `zone_replacedb`: "has no NS
    /// records"); it is not installed.
    NoApexNs,
    /// A CNAME beside other data, or two records of a singleton type at one name (RFC 1034
    /// §3.6.2; BIND `DNS_R_CNAMEANDOTHER`, `DNS_R_SINGLETON`); the zone is not installed.
    CnameAndOtherData,
    /// A diff that does not apply to our copy.
    DiffDoesNotApply,
    /// The stream stopped before the closing SOA: connection closed.
    ClosedMidStream,
    /// The stream stopped before the closing SOA: no message within the idle deadline.
    IdleTimeout,
    /// The transfer ran longer than the profile's `max_transfer_time_in`.
    TransferTimeLimit,
    /// The transfer carried more records or bytes than `max_records_in` / `max_bytes_in`.
    TransferTooLarge,
}

impl BadResponse {
    /// Why a received zone (or a diff applied to ours) was refused.
    pub fn from_zone_error(error: xfrsim_zone::ZoneError) -> BadResponse {
        use xfrsim_zone::ZoneError;
        match error {
            ZoneError::NoApexNs { .. } => BadResponse::NoApexNs,
            ZoneError::CnameAndOtherData { .. } | ZoneError::SeveralOfSingleton { .. } => {
                BadResponse::CnameAndOtherData
            }
            _ => BadResponse::BadZoneData,
        }
    }
}

impl fmt::Display for BadResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadResponse::Rcode(code) => {
                write!(f, "rcode {}", <hickory_proto::op::ResponseCode as From<u16>>::from(*code))
            }
            BadResponse::NotAuthoritative => f.write_str("non-authoritative answer"),
            BadResponse::NoSoaAnswer => f.write_str("answer does not hold the zone SOA"),
            BadResponse::WrongId => f.write_str("wrong message id"),
            BadResponse::WrongQuestion => f.write_str("question does not match"),
            BadResponse::Malformed => f.write_str("malformed message"),
            BadResponse::FirstNotSoa => f.write_str("first record is not the zone SOA"),
            BadResponse::SoaMismatch => f.write_str("opening and closing SOA differ"),
            BadResponse::DataAfterEnd => f.write_str("records after the closing SOA"),
            BadResponse::IxfrOutOfSync => f.write_str("IXFR sequence out of sync"),
            BadResponse::BadZoneData => f.write_str("zone data rejected"),
            BadResponse::NoApexNs => f.write_str("zone has no NS records at its apex"),
            BadResponse::CnameAndOtherData => f.write_str("CNAME and other data"),
            BadResponse::DiffDoesNotApply => f.write_str("diff does not apply to our copy"),
            BadResponse::ClosedMidStream => f.write_str("connection closed mid-stream"),
            BadResponse::IdleTimeout => f.write_str("no message within the idle deadline"),
            BadResponse::TransferTimeLimit => f.write_str("maximum transfer time exceeded"),
            BadResponse::TransferTooLarge => f.write_str("too many records"),
        }
    }
}

/// One thing that happened on a node, at a simulated time, usually for one zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Time,
    /// The zone concerned (`None` for node-wide events such as a malformed packet).
    pub zone: Option<Name>,
    pub kind: EventKind,
}

/// The events a node emits. Variants with a Windows ID use that ID's meaning; the few xfrsim
/// additions (no Windows equivalent exists) have `windows_id() == None` and an `XFRSIM_` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// 503 DNS_EVENT_SECONDARY_REQUIRES_MASTERS (error): a secondary zone has no masters.
    /// BIND: `cannot refresh: no primaries`. Knot: rejected at configuration check.
    SecondaryRequiresMasters,
    /// 5501 DNS_EVENT_BAD_PACKET_LENGTH (warning): a message from a peer could not be decoded.
    /// BIND: `client @...: message parsing failed: ...`. Knot: `... malformed message`.
    BadPacket { peer: SocketAddr },
    /// 6000 DNS_EVENT_ZONEXFR_START (info): an outgoing transfer of `serial` to `secondary` began.
    /// BIND: `client @... (zone): transfer of 'zone/IN': AXFR started (serial N)`.
    /// Knot: `[zone] AXFR, outgoing, remote ..., started, serial N`.
    ZoneXfrStart { serial: Serial, secondary: SocketAddr, incremental: bool },
    /// 6001 DNS_EVENT_ZONEXFR_SUCCESSFUL (info): the outgoing transfer was fully sent
    /// (`records`: how many records it carried, as BIND's "N messages, M records").
    /// BIND: `... AXFR ended: N messages, M records, ...`. Knot: `... AXFR, outgoing, ..., finished`.
    ZoneXfrSuccessful { serial: Serial, secondary: SocketAddr, records: usize },
    /// 6002 DNS_EVENT_ZONEXFR_ABORTED (info): the secondary dropped the connection before the
    /// transfer was sent. BIND: `... transfer of 'zone': send: connection reset`.
    /// Knot: `... AXFR, outgoing, ..., failed (connection reset)`.
    ZoneXfrAborted { serial: Serial, secondary: SocketAddr },
    /// 6003 DNS_EVENT_UDP_ZONE_TRANSFER (warning): an AXFR request came over UDP; refused.
    /// BIND: answers FORMERR (`AXFR over UDP`). Knot: answers FORMERR/NOTIMP silently.
    UdpZoneTransfer { client: SocketAddr },
    /// 6004 DNS_EVENT_BAD_ZONE_TRANSFER_REQUEST (warning): transfer request for a zone this node
    /// does not hold; answered NOTAUTH (RFC 5936 §2.2.1). BIND: `zone transfer '...' denied:
    /// non-authoritative zone (NOTAUTH)`. Knot: answers NOTAUTH.
    BadZoneTransferRequest { client: SocketAddr },
    /// 6520 DNS_EVENT_ZONE_UPDATE (info): a transferred version was installed.
    /// BIND: `transferred serial N`. Knot: `refresh, remote ..., zone updated, serial A -> B`.
    ZoneUpdate { serial: Serial, master: SocketAddr, incremental: bool },
    /// 6521 DNS_EVENT_ZONE_IN_SYNC (info): the master's serial equals ours; refresh and expire
    /// timers restart. BIND: nothing at info level. Knot: `... remote serial N, zone is up-to-date`.
    ZoneInSync { serial: Serial, master: SocketAddr },
    /// 6522 DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS (info): a newer serial was found; transfer starts.
    /// BIND: (debug) then xfrin `connected using ...`. Knot: `remote serial N, zone is outdated`.
    ZoneTransferInProgress { serial: Serial, master: SocketAddr },
    /// 6523 DNS_EVENT_XFR_MASTER_UNAVAILABLE (warning): this master could not be reached.
    /// BIND: `refresh: retry limit for primary M exceeded` / `refresh: failure trying primary M`.
    /// Knot: `refresh, remote M, address ..., failed (connection timeout)`.
    XfrMasterUnavailable { master: SocketAddr, reason: Unreachable },
    /// 6524 DNS_EVENT_AXFR_BAD_RESPONSE (error): the master answered, unusably (NOTAUTH, not
    /// authoritative, malformed, inconsistent transfer). BIND: `refresh: non-authoritative answer
    /// from primary M` / xfrin FORMERR texts. Knot: `server responded with error 'NOTAUTH'`,
    /// `malformed message`.
    AxfrBadResponse { master: SocketAddr, reason: BadResponse },
    /// 6525 DNS_EVENT_AXFR_REFUSED (error): the master refused the transfer.
    /// BIND: xfrin `failed while receiving responses: REFUSED`.
    /// Knot: `AXFR, incoming, remote M, server responded with error 'REFUSED'`.
    AxfrRefused { master: SocketAddr },
    /// 6526 DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION (warning): the master's serial is lower
    /// than ours (or exactly 2^31 away); no transfer. BIND: `serial number (N) received from
    /// primary M < ours (O)`. Knot: `remote serial N, remote is outdated`.
    ZoneNewerThanServerVersion { ours: Serial, theirs: Serial, master: SocketAddr },
    /// 6527 DNS_EVENT_ZONE_EXPIRATION (error): no successful refresh for EXPIRE seconds; the zone
    /// is shut down and answers SERVFAIL. BIND: `expired`. Knot: `zone expired`.
    ZoneExpiration,
    /// 6534 DNS_EVENT_XFR_ABORTED_BY_MASTER (error): the transfer stream stopped before its end;
    /// the previous version stays in service. BIND: `failed while receiving responses: ...`.
    /// Knot: `AXFR, incoming, remote M, failed (...)`.
    XfrAbortedByMaster { master: SocketAddr, reason: BadResponse },
    /// 6536 (error; symbolic name unconfirmed, DNS_EVENT_IXFR_BAD_RESPONSE): the IXFR answer was
    /// unusable; AXFR from the same master follows. BIND: `got nonincremental response` /
    /// BADIXFR then `retrying with AXFR`. Knot: `fallback to AXFR (...)`.
    IxfrBadResponse { master: SocketAddr, reason: BadResponse },
    /// 7062 DNS_EVENT_SELF_SEND (error): the master list names this node itself; skipped.
    /// BIND, Knot: no dedicated message.
    SelfSend { master: SocketAddr },
    /// xfrsim: a NOTIFY came from a host that is not a master of the zone; refused (RFC 1996
    /// §3.10). BIND: `refused notify from non-primary: A`. Knot: `ACL, denied, action notify`.
    NotifyRefused { from: SocketAddr },
    /// xfrsim: a NOTIFY from a master was accepted. BIND: `notify from M: serial N`.
    /// Knot: `notify, incoming, remote M, serial N`.
    NotifyReceived { from: SocketAddr, serial: Option<Serial> },
    /// xfrsim: a NOTIFY went unacknowledged through every retransmission (RFC 1996 §3.6).
    /// BIND: `notify to T failed: timed out` / `retries exceeded`. Knot: `notify, outgoing,
    /// remote T, failed (connection timeout)`.
    NotifyUnanswered { target: SocketAddr },
    /// xfrsim: a NOTIFY for `serial` went to `target` (its first try; resends are not
    /// reported). BIND: `sending notify to T` (debug) / `sending notifies (serial N)`.
    /// Knot: `notify, outgoing, remote T, serial N`.
    NotifySent { target: SocketAddr, serial: Serial },
    /// xfrsim: a transfer from `master` waits: the `quota` (`transfers-in` or
    /// `transfers-per-ns`) is used up; it starts when a running transfer ends.
    /// BIND: `zone transfer deferred due to quota`. Knot, NSD: no quota of this kind.
    TransferDeferred { master: SocketAddr, quota: &'static str },
    /// xfrsim: a transfer request from `client` was refused because `transfers-out` transfers
    /// are already running (BIND lib/ns/xfrout.c: `AXFR request denied: quota reached`,
    /// answered SERVFAIL).
    TransferQuotaRefused { client: SocketAddr },
    /// xfrsim: `count` more malformed messages came from `source` since its last 5501, which
    /// is reported at most once a minute per source. BIND: `... message parsing failed`
    /// lines are rate-limited by its logging. Knot, NSD: not logged at the default level.
    BadPacketsSuppressed { source: std::net::IpAddr, count: u64 },
    /// xfrsim: a transfer request from `client` was refused by the zone's transfer ACL.
    /// BIND: `client @... (zone): zone transfer 'zone/AXFR/IN' denied`. Knot: `ACL, denied,
    /// action transfer`. NSD: `axfr for zone ... from client refused, no acl matches`.
    TransferDenied { client: SocketAddr },
    /// xfrsim: a dynamic update from `client` was refused (not allowed, or a secondary's zone).
    /// BIND: `client @... : update 'zone/IN' denied`. Knot: `ACL, denied, action update`.
    UpdateDenied { client: SocketAddr },
    /// xfrsim: the zone's SOA timers are outside what this server accepts and are used
    /// clamped, as these values (seconds). BIND applies `min-refresh-time` and friends
    /// (zone.c RANGE); Knot `refresh-min-interval` and friends (refresh.c `limit_timer`).
    TimersClamped { refresh_secs: u32, retry_secs: u32, expire_secs: u32 },
    /// xfrsim: a dynamic update (RFC 2136) committed a new version.
    /// BIND: `updating zone 'z/IN': adding an RR ...`. Knot: `DDNS, processing N updates`.
    DynamicUpdate { serial: Serial },
    /// xfrsim: an operator loaded new contents into a primary (reload; possibly a rollback).
    /// BIND: `loaded serial N` (and `zone serial (N/M) has gone backwards`). Knot: `loaded, serial A -> B`.
    ZoneReloaded { serial: Serial },
}

impl EventKind {
    /// The Windows DNS Server event ID, when Windows has one.
    pub fn windows_id(&self) -> Option<u16> {
        use EventKind::*;
        Some(match self {
            SecondaryRequiresMasters => 503,
            BadPacket { .. } => 5501,
            ZoneXfrStart { .. } => 6000,
            ZoneXfrSuccessful { .. } => 6001,
            ZoneXfrAborted { .. } => 6002,
            UdpZoneTransfer { .. } => 6003,
            BadZoneTransferRequest { .. } => 6004,
            ZoneUpdate { .. } => 6520,
            ZoneInSync { .. } => 6521,
            ZoneTransferInProgress { .. } => 6522,
            XfrMasterUnavailable { .. } => 6523,
            AxfrBadResponse { .. } => 6524,
            AxfrRefused { .. } => 6525,
            ZoneNewerThanServerVersion { .. } => 6526,
            ZoneExpiration => 6527,
            XfrAbortedByMaster { .. } => 6534,
            IxfrBadResponse { .. } => 6536,
            SelfSend { .. } => 7062,
            NotifyRefused { .. }
            | NotifyReceived { .. }
            | NotifyUnanswered { .. }
            | DynamicUpdate { .. }
            | ZoneReloaded { .. }
            | NotifySent { .. }
            | TransferDeferred { .. }
            | TransferQuotaRefused { .. }
            | TimersClamped { .. }
            | TransferDenied { .. }
            | UpdateDenied { .. }
            | BadPacketsSuppressed { .. } => {
                return None;
            }
        })
    }

    /// The symbolic name (Windows' where it has one).
    pub fn name(&self) -> &'static str {
        use EventKind::*;
        match self {
            SecondaryRequiresMasters => "DNS_EVENT_SECONDARY_REQUIRES_MASTERS",
            BadPacket { .. } => "DNS_EVENT_BAD_PACKET_LENGTH",
            ZoneXfrStart { .. } => "DNS_EVENT_ZONEXFR_START",
            ZoneXfrSuccessful { .. } => "DNS_EVENT_ZONEXFR_SUCCESSFUL",
            ZoneXfrAborted { .. } => "DNS_EVENT_ZONEXFR_ABORTED",
            UdpZoneTransfer { .. } => "DNS_EVENT_UDP_ZONE_TRANSFER",
            BadZoneTransferRequest { .. } => "DNS_EVENT_BAD_ZONE_TRANSFER_REQUEST",
            ZoneUpdate { .. } => "DNS_EVENT_ZONE_UPDATE",
            ZoneInSync { .. } => "DNS_EVENT_ZONE_IN_SYNC",
            ZoneTransferInProgress { .. } => "DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS",
            XfrMasterUnavailable { .. } => "DNS_EVENT_XFR_MASTER_UNAVAILABLE",
            AxfrBadResponse { .. } => "DNS_EVENT_AXFR_BAD_RESPONSE",
            AxfrRefused { .. } => "DNS_EVENT_AXFR_REFUSED",
            ZoneNewerThanServerVersion { .. } => "DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION",
            ZoneExpiration => "DNS_EVENT_ZONE_EXPIRATION",
            XfrAbortedByMaster { .. } => "DNS_EVENT_XFR_ABORTED_BY_MASTER",
            IxfrBadResponse { .. } => "DNS_EVENT_IXFR_BAD_RESPONSE",
            SelfSend { .. } => "DNS_EVENT_SELF_SEND",
            NotifyRefused { .. } => "XFRSIM_NOTIFY_REFUSED",
            NotifyReceived { .. } => "XFRSIM_NOTIFY_RECEIVED",
            NotifyUnanswered { .. } => "XFRSIM_NOTIFY_UNANSWERED",
            DynamicUpdate { .. } => "XFRSIM_DYNAMIC_UPDATE",
            ZoneReloaded { .. } => "XFRSIM_ZONE_RELOADED",
            NotifySent { .. } => "XFRSIM_NOTIFY_SENT",
            TransferDeferred { .. } => "XFRSIM_TRANSFER_DEFERRED",
            TransferQuotaRefused { .. } => "XFRSIM_TRANSFER_QUOTA_REFUSED",
            TimersClamped { .. } => "XFRSIM_SOA_TIMERS_CLAMPED",
            TransferDenied { .. } => "XFRSIM_TRANSFER_DENIED",
            UpdateDenied { .. } => "XFRSIM_UPDATE_DENIED",
            BadPacketsSuppressed { .. } => "XFRSIM_BAD_PACKETS_SUPPRESSED",
        }
    }

    pub fn severity(&self) -> Severity {
        use EventKind::*;
        match self {
            ZoneXfrStart { .. }
            | ZoneXfrSuccessful { .. }
            | ZoneXfrAborted { .. }
            | ZoneUpdate { .. }
            | ZoneInSync { .. }
            | ZoneTransferInProgress { .. }
            | NotifyReceived { .. }
            | DynamicUpdate { .. }
            | ZoneReloaded { .. }
            | NotifySent { .. }
            | TransferDeferred { .. } => Severity::Info,
            BadPacket { .. }
            | UdpZoneTransfer { .. }
            | BadZoneTransferRequest { .. }
            | XfrMasterUnavailable { .. }
            | ZoneNewerThanServerVersion { .. }
            | NotifyRefused { .. }
            | NotifyUnanswered { .. }
            | TransferQuotaRefused { .. }
            | TimersClamped { .. }
            | TransferDenied { .. }
            | UpdateDenied { .. }
            | BadPacketsSuppressed { .. } => Severity::Warning,
            SecondaryRequiresMasters
            | AxfrBadResponse { .. }
            | AxfrRefused { .. }
            | ZoneExpiration
            | XfrAbortedByMaster { .. }
            | IxfrBadResponse { .. }
            | SelfSend { .. } => Severity::Error,
        }
    }

    /// The parameters as (name, value) pairs, in a fixed order: what timelines print and
    /// expectations match on.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        use EventKind::*;
        let s = |v: &dyn fmt::Display| v.to_string();
        match self {
            SecondaryRequiresMasters | ZoneExpiration => vec![],
            BadPacket { peer } => vec![("peer", s(peer))],
            ZoneXfrStart { serial, secondary, incremental } => vec![
                ("serial", s(serial)),
                ("secondary", s(secondary)),
                ("kind", (if *incremental { "IXFR" } else { "AXFR" }).to_string()),
            ],
            ZoneXfrSuccessful { serial, secondary, records } => {
                vec![("serial", s(serial)), ("secondary", s(secondary)), ("records", s(records))]
            }
            ZoneXfrAborted { serial, secondary } => vec![("serial", s(serial)), ("secondary", s(secondary))],
            UdpZoneTransfer { client } | BadZoneTransferRequest { client } => vec![("client", s(client))],
            ZoneUpdate { serial, master, incremental } => vec![
                ("serial", s(serial)),
                ("master", s(master)),
                ("kind", (if *incremental { "IXFR" } else { "AXFR" }).to_string()),
            ],
            ZoneInSync { serial, master } | ZoneTransferInProgress { serial, master } => {
                vec![("serial", s(serial)), ("master", s(master))]
            }
            XfrMasterUnavailable { master, reason } => vec![("master", s(master)), ("reason", s(reason))],
            AxfrBadResponse { master, reason }
            | XfrAbortedByMaster { master, reason }
            | IxfrBadResponse { master, reason } => {
                vec![("master", s(master)), ("reason", s(reason))]
            }
            AxfrRefused { master } | SelfSend { master } => vec![("master", s(master))],
            ZoneNewerThanServerVersion { ours, theirs, master } => {
                vec![("ours", s(ours)), ("theirs", s(theirs)), ("master", s(master))]
            }
            NotifyRefused { from } => vec![("from", s(from))],
            NotifyReceived { from, serial } => {
                vec![("from", s(from)), ("serial", serial.map_or_else(|| "none".to_string(), |v| v.to_string()))]
            }
            NotifyUnanswered { target } => vec![("target", s(target))],
            DynamicUpdate { serial } | ZoneReloaded { serial } => vec![("serial", s(serial))],
            NotifySent { target, serial } => vec![("target", s(target)), ("serial", s(serial))],
            TransferDeferred { master, quota } => vec![("master", s(master)), ("quota", s(quota))],
            TransferQuotaRefused { client } | TransferDenied { client } | UpdateDenied { client } => {
                vec![("client", s(client))]
            }
            BadPacketsSuppressed { source, count } => vec![("source", s(source)), ("count", s(count))],
            TimersClamped { refresh_secs, retry_secs, expire_secs } => {
                vec![("refresh", s(refresh_secs)), ("retry", s(retry_secs)), ("expire", s(expire_secs))]
            }
        }
    }
}

/// Every event kind the catalog knows, as (Windows ID, symbolic name, severity): for
/// documentation, for checking a scenario's expectation names, and for tests.
pub const CATALOG: &[(Option<u16>, &str, Severity)] = &[
    (Some(503), "DNS_EVENT_SECONDARY_REQUIRES_MASTERS", Severity::Error),
    (Some(5501), "DNS_EVENT_BAD_PACKET_LENGTH", Severity::Warning),
    (Some(6000), "DNS_EVENT_ZONEXFR_START", Severity::Info),
    (Some(6001), "DNS_EVENT_ZONEXFR_SUCCESSFUL", Severity::Info),
    (Some(6002), "DNS_EVENT_ZONEXFR_ABORTED", Severity::Info),
    (Some(6003), "DNS_EVENT_UDP_ZONE_TRANSFER", Severity::Warning),
    (Some(6004), "DNS_EVENT_BAD_ZONE_TRANSFER_REQUEST", Severity::Warning),
    (Some(6520), "DNS_EVENT_ZONE_UPDATE", Severity::Info),
    (Some(6521), "DNS_EVENT_ZONE_IN_SYNC", Severity::Info),
    (Some(6522), "DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS", Severity::Info),
    (Some(6523), "DNS_EVENT_XFR_MASTER_UNAVAILABLE", Severity::Warning),
    (Some(6524), "DNS_EVENT_AXFR_BAD_RESPONSE", Severity::Error),
    (Some(6525), "DNS_EVENT_AXFR_REFUSED", Severity::Error),
    (Some(6526), "DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION", Severity::Warning),
    (Some(6527), "DNS_EVENT_ZONE_EXPIRATION", Severity::Error),
    (Some(6534), "DNS_EVENT_XFR_ABORTED_BY_MASTER", Severity::Error),
    (Some(6536), "DNS_EVENT_IXFR_BAD_RESPONSE", Severity::Error),
    (Some(7062), "DNS_EVENT_SELF_SEND", Severity::Error),
    (None, "XFRSIM_NOTIFY_REFUSED", Severity::Warning),
    (None, "XFRSIM_NOTIFY_RECEIVED", Severity::Info),
    (None, "XFRSIM_NOTIFY_UNANSWERED", Severity::Warning),
    (None, "XFRSIM_DYNAMIC_UPDATE", Severity::Info),
    (None, "XFRSIM_ZONE_RELOADED", Severity::Info),
    (None, "XFRSIM_NOTIFY_SENT", Severity::Info),
    (None, "XFRSIM_TRANSFER_DEFERRED", Severity::Info),
    (None, "XFRSIM_TRANSFER_QUOTA_REFUSED", Severity::Warning),
    (None, "XFRSIM_SOA_TIMERS_CLAMPED", Severity::Warning),
    (None, "XFRSIM_TRANSFER_DENIED", Severity::Warning),
    (None, "XFRSIM_UPDATE_DENIED", Severity::Warning),
    (None, "XFRSIM_BAD_PACKETS_SUPPRESSED", Severity::Warning),
];

impl Event {
    /// The event as a timeline line — the format users' CI parses, so it only ever gains fields
    /// at the end: `<time> <server> <windows id|-> <NAME> zone=<zone|-> <param>=<value> ...`
    /// (values containing spaces are quoted).
    pub fn timeline_line(&self, server: &str) -> String {
        format!("{} {server} {}", self.at, self.fields())
    }

    /// Everything after the time and server: id, name, zone, parameters.
    fn fields(&self) -> String {
        let id = self.kind.windows_id().map_or_else(|| "-".to_string(), |id| id.to_string());
        let zone = self.zone.as_ref().map_or_else(|| "-".to_string(), ToString::to_string);
        let mut line = format!("{id} {} zone={zone}", self.kind.name());
        for (key, value) in self.kind.params() {
            if value.contains(' ') {
                line.push_str(&format!(" {key}=\"{value}\""));
            } else {
                line.push_str(&format!(" {key}={value}"));
            }
        }
        line
    }
}

impl fmt::Display for Event {
    /// `<time> <id|-> <NAME> zone=<zone|-> k=v ...` (the timeline line without the server).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.at, self.fields())
    }
}

/// Emits one event through `tracing`, at the level matching its severity.
pub(crate) fn trace_event(node: &str, event: &Event) {
    // Formatting costs more than the event itself: only when someone listens.
    let enabled = match event.kind.severity() {
        Severity::Info => tracing::enabled!(target: "xfrsim::event", tracing::Level::INFO),
        Severity::Warning => tracing::enabled!(target: "xfrsim::event", tracing::Level::WARN),
        Severity::Error => tracing::enabled!(target: "xfrsim::event", tracing::Level::ERROR),
    };
    if !enabled {
        return;
    }
    let zone = event.zone.as_ref().map(ToString::to_string).unwrap_or_default();
    let params = event.kind.params().into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    let id = event.kind.windows_id().map(u32::from).unwrap_or(0);
    let name = event.kind.name();
    let at = event.at.to_string();
    match event.kind.severity() {
        Severity::Info => {
            tracing::info!(target: "xfrsim::event", event_id = id, event_name = name, node, zone, sim_time = at, params)
        }
        Severity::Warning => {
            tracing::warn!(target: "xfrsim::event", event_id = id, event_name = name, node, zone, sim_time = at, params)
        }
        Severity::Error => {
            tracing::error!(target: "xfrsim::event", event_id = id, event_name = name, node, zone, sim_time = at, params)
        }
    }
}
