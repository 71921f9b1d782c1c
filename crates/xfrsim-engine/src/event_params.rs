//! Each event's parameters by name, for those who write expectations rather than emit events:
//! the scenario loader checks an expectation's `params` against this table.

#[cfg(test)]
use crate::event::{BadResponse, CATALOG, EventKind, Unreachable};

/// What a parameter's value is, so a scenario can write it the way it writes the same thing
/// elsewhere (a server name or a bare IP for a peer) and have it checked when it loads.
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

/// The parameters each event prints ([`crate::EventKind::params`]), by symbolic name, in the same
/// order. An expectation can only match parameters listed here; a name outside this list
/// would match nothing, so the scenario loader refuses it.
pub const CATALOG_PARAMS: &[(&str, &[(&str, ParamKind)])] = {
    use ParamKind::{Address, Client, Number, Peer, Text};
    &[
        ("DNS_EVENT_SECONDARY_REQUIRES_MASTERS", &[]),
        ("DNS_EVENT_BAD_PACKET_LENGTH", &[("peer", Client)]),
        ("DNS_EVENT_ZONEXFR_START", &[("serial", Number), ("secondary", Client), ("kind", Text)]),
        ("DNS_EVENT_ZONEXFR_SUCCESSFUL", &[("serial", Number), ("secondary", Client), ("records", Number)]),
        ("DNS_EVENT_ZONEXFR_ABORTED", &[("serial", Number), ("secondary", Client)]),
        ("DNS_EVENT_UDP_ZONE_TRANSFER", &[("client", Client)]),
        ("DNS_EVENT_BAD_ZONE_TRANSFER_REQUEST", &[("client", Client)]),
        ("DNS_EVENT_ZONE_UPDATE", &[("serial", Number), ("master", Peer), ("kind", Text)]),
        ("DNS_EVENT_ZONE_IN_SYNC", &[("serial", Number), ("master", Peer)]),
        ("DNS_EVENT_ZONE_TRANSFER_IN_PROGRESS", &[("serial", Number), ("master", Peer)]),
        ("DNS_EVENT_XFR_MASTER_UNAVAILABLE", &[("master", Peer), ("reason", Text)]),
        ("DNS_EVENT_AXFR_BAD_RESPONSE", &[("master", Peer), ("reason", Text)]),
        ("DNS_EVENT_AXFR_REFUSED", &[("master", Peer)]),
        ("DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION", &[("ours", Number), ("theirs", Number), ("master", Peer)]),
        ("DNS_EVENT_ZONE_EXPIRATION", &[]),
        ("DNS_EVENT_XFR_ABORTED_BY_MASTER", &[("master", Peer), ("reason", Text)]),
        ("DNS_EVENT_IXFR_BAD_RESPONSE", &[("master", Peer), ("reason", Text)]),
        ("DNS_EVENT_SELF_SEND", &[("master", Peer)]),
        ("XFRSIM_NOTIFY_REFUSED", &[("from", Peer)]),
        ("XFRSIM_NOTIFY_RECEIVED", &[("from", Peer), ("serial", Text)]),
        ("XFRSIM_NOTIFY_UNANSWERED", &[("target", Peer)]),
        ("XFRSIM_DYNAMIC_UPDATE", &[("serial", Number)]),
        ("XFRSIM_ZONE_RELOADED", &[("serial", Number)]),
        ("XFRSIM_NOTIFY_SENT", &[("target", Peer), ("serial", Number)]),
        ("XFRSIM_TRANSFER_DEFERRED", &[("master", Peer), ("quota", Text)]),
        ("XFRSIM_TRANSFER_QUOTA_REFUSED", &[("client", Client)]),
        ("XFRSIM_SOA_TIMERS_CLAMPED", &[("refresh", Number), ("retry", Number), ("expire", Number)]),
        ("XFRSIM_TRANSFER_DENIED", &[("client", Client)]),
        ("XFRSIM_UPDATE_DENIED", &[("client", Client)]),
        ("XFRSIM_BAD_PACKETS_SUPPRESSED", &[("source", Address), ("count", Number)]),
    ]
};

/// The parameters of the event with this symbolic name, or `None` for a name not in the
/// catalog.
pub fn catalog_params(name: &str) -> Option<&'static [(&'static str, ParamKind)]> {
    CATALOG_PARAMS.iter().find(|(n, _)| *n == name).map(|(_, params)| *params)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use xfrsim_zone::Serial;

    use super::*;

    /// One event of every kind, so the static tables can be checked against what events print.
    fn one_of_each() -> Vec<EventKind> {
        let peer: SocketAddr = "192.0.2.1:53".parse().expect("literal address");
        let serial = Serial(1);
        let reason = BadResponse::Malformed;
        vec![
            EventKind::SecondaryRequiresMasters,
            EventKind::BadPacket { peer },
            EventKind::ZoneXfrStart { serial, secondary: peer, incremental: false },
            EventKind::ZoneXfrSuccessful { serial, secondary: peer, records: 1 },
            EventKind::ZoneXfrAborted { serial, secondary: peer },
            EventKind::UdpZoneTransfer { client: peer },
            EventKind::BadZoneTransferRequest { client: peer },
            EventKind::ZoneUpdate { serial, master: peer, incremental: true },
            EventKind::ZoneInSync { serial, master: peer },
            EventKind::ZoneTransferInProgress { serial, master: peer },
            EventKind::XfrMasterUnavailable { master: peer, reason: Unreachable::Timeout },
            EventKind::AxfrBadResponse { master: peer, reason: reason.clone() },
            EventKind::AxfrRefused { master: peer },
            EventKind::ZoneNewerThanServerVersion { ours: serial, theirs: serial, master: peer },
            EventKind::ZoneExpiration,
            EventKind::XfrAbortedByMaster { master: peer, reason: reason.clone() },
            EventKind::IxfrBadResponse { master: peer, reason },
            EventKind::SelfSend { master: peer },
            EventKind::NotifyRefused { from: peer },
            EventKind::NotifyReceived { from: peer, serial: None },
            EventKind::NotifyUnanswered { target: peer },
            EventKind::DynamicUpdate { serial },
            EventKind::ZoneReloaded { serial },
            EventKind::NotifySent { target: peer, serial },
            EventKind::TransferDeferred { master: peer, quota: "transfers-in" },
            EventKind::TransferQuotaRefused { client: peer },
            EventKind::TimersClamped { refresh_secs: 1, retry_secs: 1, expire_secs: 1 },
            EventKind::TransferDenied { client: peer },
            EventKind::UpdateDenied { client: peer },
            EventKind::BadPacketsSuppressed { source: peer.ip(), count: 1 },
        ]
    }

    #[test]
    fn catalog_params_name_what_each_event_prints() {
        let kinds = one_of_each();
        assert_eq!(kinds.len(), CATALOG.len(), "one sample per catalog entry");
        assert_eq!(CATALOG_PARAMS.len(), CATALOG.len());
        for (kind, (id, name, severity)) in kinds.iter().zip(CATALOG) {
            assert_eq!((kind.windows_id(), kind.name(), kind.severity()), (*id, *name, *severity));
            let printed: Vec<&str> = kind.params().into_iter().map(|(k, _)| k).collect();
            let listed: Vec<&str> = catalog_params(name)
                .unwrap_or_else(|| panic!("{name} has no params row"))
                .iter()
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(printed, listed, "{name}");
        }
    }
}
