//! The event catalog: the Windows DNS Server zone-transfer event log, cross-referenced to the
//! log lines BIND 9 and Knot DNS print for the same thing (the rows of [`crate::catalog`], each
//! with its server source).
//!
//! Every event is also emitted through `tracing` (target `xfrsim::event`) with structured
//! fields: `event_id`, `event_name`, `node`, `zone`, `sim_time`, and one field per parameter.

use std::fmt;
use std::net::SocketAddr;

use hickory_proto::rr::Name;
use xfrsim_zone::Serial;

use crate::Time;
use crate::catalog::Severity;

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
/// What each means, its parameters, and the BIND 9 and Knot lines for it are catalog data
/// (`catalog::EVENTS`, through [`EventKind::info`]), not comments here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// 503: a secondary zone has no masters.
    SecondaryRequiresMasters,
    /// 5501: a message from a peer could not be decoded.
    BadPacket { peer: SocketAddr },
    /// 6000: an outgoing transfer of `serial` to `secondary` began.
    ZoneXfrStart { serial: Serial, secondary: SocketAddr, incremental: bool },
    /// 6001: the outgoing transfer was fully sent (`records`: how many it carried).
    ZoneXfrSuccessful { serial: Serial, secondary: SocketAddr, records: usize },
    /// 6002: the secondary dropped the connection before the transfer was sent.
    ZoneXfrAborted { serial: Serial, secondary: SocketAddr },
    /// 6003: an AXFR request came over UDP; refused.
    UdpZoneTransfer { client: SocketAddr },
    /// 6004: a transfer request for a zone this node does not hold; answered NOTAUTH.
    BadZoneTransferRequest { client: SocketAddr },
    /// 6520: a transferred version was installed.
    ZoneUpdate { serial: Serial, master: SocketAddr, incremental: bool },
    /// 6521: the master's serial equals ours; refresh and expire timers restart.
    ZoneInSync { serial: Serial, master: SocketAddr },
    /// 6522: a newer serial was found; a transfer starts.
    ZoneTransferInProgress { serial: Serial, master: SocketAddr },
    /// 6523: this master could not be reached.
    XfrMasterUnavailable { master: SocketAddr, reason: Unreachable },
    /// 6524: the master answered, unusably.
    AxfrBadResponse { master: SocketAddr, reason: BadResponse },
    /// 6525: the master refused the transfer.
    AxfrRefused { master: SocketAddr },
    /// 6526: the master's serial is lower than ours (or exactly 2^31 away); no transfer.
    ZoneNewerThanServerVersion { ours: Serial, theirs: Serial, master: SocketAddr },
    /// 6527: no successful refresh for EXPIRE; the zone answers SERVFAIL.
    ZoneExpiration,
    /// 6534: the transfer stream stopped before its end; the previous version stays.
    XfrAbortedByMaster { master: SocketAddr, reason: BadResponse },
    /// 6536: the IXFR answer was unusable; AXFR from the same master follows.
    IxfrBadResponse { master: SocketAddr, reason: BadResponse },
    /// 7062: the master list names this node itself; skipped.
    SelfSend { master: SocketAddr },
    /// A NOTIFY from a host that is not a master of the zone; refused (RFC 1996 §3.10).
    NotifyRefused { from: SocketAddr },
    /// A NOTIFY from a master was accepted.
    NotifyReceived { from: SocketAddr, serial: Option<Serial> },
    /// A NOTIFY went unacknowledged through every retransmission (RFC 1996 §3.6).
    NotifyUnanswered { target: SocketAddr },
    /// A NOTIFY for `serial` went to `target` (its first try only).
    NotifySent { target: SocketAddr, serial: Serial },
    /// A transfer from `master` waits for a `quota` slot (`transfers-in`, `transfers-per-ns`).
    TransferDeferred { master: SocketAddr, quota: &'static str },
    /// A transfer request refused because `transfers-out` transfers are running.
    TransferQuotaRefused { client: SocketAddr },
    /// `count` more malformed messages from `source` since its last 5501 (one a minute).
    BadPacketsSuppressed { source: std::net::IpAddr, count: u64 },
    /// A transfer request refused by the zone's transfer ACL.
    TransferDenied { client: SocketAddr },
    /// A dynamic update refused (not allowed, or a secondary's zone).
    UpdateDenied { client: SocketAddr },
    /// The zone's SOA timers are used clamped to the profile's limits, as these values (seconds).
    TimersClamped { refresh_secs: u32, retry_secs: u32, expire_secs: u32 },
    /// A dynamic update (RFC 2136) committed a new version.
    DynamicUpdate { serial: Serial },
    /// An operator loaded new contents into a primary (reload; possibly a rollback).
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

    /// This kind's catalog row: meaning, parameters, BIND 9 and Knot lines.
    pub fn info(&self) -> &'static crate::catalog::EventInfo {
        crate::catalog::info_by_name(self.name()).expect("every event kind has a catalog row (tests/engine/catalog.rs)")
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
/// checking a scenario's expectation names, and for tests. Built from [`crate::catalog::EVENTS`],
/// which holds the rest of each row (meaning, parameters, BIND and Knot lines).
pub const CATALOG: &[(Option<u16>, &str, Severity)] =
    &crate::catalog::summary_rows::<{ crate::catalog::EVENTS.len() }>();

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
        // Names print as master files write them (RFC 1035 §5.1 escapes), as scenarios do.
        let zone =
            self.zone.as_ref().map_or_else(|| "-".to_string(), |z| xfrsim_zone::Dname::from_hickory(z).to_string());
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
