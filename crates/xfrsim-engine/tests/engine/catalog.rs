//! The event catalog: every Windows ID the project promises, each variant consistent with it.

use xfrsim_engine::{BadResponse, CATALOG, EventKind, Severity, Unreachable};
use xfrsim_zone::Serial;

use crate::net::addr;

fn one_of_each() -> Vec<EventKind> {
    let m = addr(1);
    let s = Serial(1);
    vec![
        EventKind::SecondaryRequiresMasters,
        EventKind::BadPacket { peer: m },
        EventKind::ZoneXfrStart { serial: s, secondary: m, incremental: false },
        EventKind::ZoneXfrSuccessful { serial: s, secondary: m, records: 3 },
        EventKind::ZoneXfrAborted { serial: s, secondary: m },
        EventKind::UdpZoneTransfer { client: m },
        EventKind::BadZoneTransferRequest { client: m },
        EventKind::ZoneUpdate { serial: s, master: m, incremental: true },
        EventKind::ZoneInSync { serial: s, master: m },
        EventKind::ZoneTransferInProgress { serial: s, master: m },
        EventKind::XfrMasterUnavailable { master: m, reason: Unreachable::Timeout },
        EventKind::AxfrBadResponse { master: m, reason: BadResponse::NotAuthoritative },
        EventKind::AxfrRefused { master: m },
        EventKind::ZoneNewerThanServerVersion { ours: s, theirs: s, master: m },
        EventKind::ZoneExpiration,
        EventKind::XfrAbortedByMaster { master: m, reason: BadResponse::ClosedMidStream },
        EventKind::IxfrBadResponse { master: m, reason: BadResponse::IxfrOutOfSync },
        EventKind::SelfSend { master: m },
        EventKind::NotifyRefused { from: m },
        EventKind::NotifyReceived { from: m, serial: None },
        EventKind::NotifyUnanswered { target: m },
        EventKind::DynamicUpdate { serial: s },
        EventKind::ZoneReloaded { serial: s },
        EventKind::NotifySent { target: m, serial: s },
        EventKind::TransferDeferred { master: m, quota: "transfers-in" },
        EventKind::TransferQuotaRefused { client: m },
        EventKind::TimersClamped { refresh_secs: 300, retry_secs: 500, expire_secs: 800 },
        EventKind::TransferDenied { client: m },
        EventKind::UpdateDenied { client: m },
        EventKind::BadPacketsSuppressed { source: m.ip(), count: 3 },
    ]
}

#[test]
fn catalog_lists_every_promised_windows_id() {
    let promised =
        [503, 6000, 6001, 6002, 6003, 6004, 6520, 6521, 6522, 6523, 6524, 6525, 6526, 6527, 6534, 6536, 7062];
    for id in promised {
        assert!(CATALOG.iter().any(|(i, _, _)| *i == Some(id)), "{id} missing from the catalog");
    }
}

#[test]
fn catalog_agrees_with_every_event_kind() {
    let kinds = one_of_each();
    assert_eq!(kinds.len(), CATALOG.len(), "one example per catalog row");
    for kind in &kinds {
        let row = (kind.windows_id(), kind.name(), kind.severity());
        assert!(CATALOG.contains(&row), "{row:?} not in the catalog");
    }
    // Names are unique, and Windows names carry the Windows prefix, xfrsim ones theirs.
    for (i, (id, name, _)) in CATALOG.iter().enumerate() {
        assert!(CATALOG[i + 1..].iter().all(|(_, other, _)| other != name), "{name} twice");
        let prefix = if id.is_some() { "DNS_EVENT_" } else { "XFRSIM_" };
        assert!(name.starts_with(prefix), "{name}");
    }
    // The seed incident's event is a warning naming its master.
    let unavailable = EventKind::XfrMasterUnavailable { master: addr(9), reason: Unreachable::ConnectionRefused };
    assert_eq!(unavailable.severity(), Severity::Warning);
    assert_eq!(unavailable.params()[0], ("master", "192.0.2.9:53".to_string()));
}

#[test]
fn every_kind_documents_its_parameters_and_both_servers() {
    for kind in one_of_each() {
        let info = kind.info();
        let documented: Vec<&str> = info.params.iter().map(|p| p.name).collect();
        let printed: Vec<&str> = kind.params().iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, printed, "{}: catalog parameters differ from the timeline's", info.name);
        // What the scenario loader looks up by name is the same row.
        assert_eq!(xfrsim_engine::catalog_params(info.name), Some(info.params), "{}", info.name);
        for text in [info.message, info.fires, info.bind, info.knot] {
            assert!(!text.trim().is_empty(), "{}: an empty catalog field", info.name);
        }
        assert!(info.params.iter().all(|p| !p.meaning.is_empty()), "{}", info.name);
    }
}

#[test]
fn events_are_found_by_id_or_by_name_in_any_case() {
    assert_eq!(xfrsim_engine::find_event("6523").map(|e| e.name), Some("DNS_EVENT_XFR_MASTER_UNAVAILABLE"));
    assert_eq!(xfrsim_engine::find_event("dns_event_zone_expiration").map(|e| e.windows_id), Some(Some(6527)));
    assert_eq!(xfrsim_engine::find_event("xfr_master_unavailable").map(|e| e.windows_id), Some(Some(6523)));
    assert_eq!(xfrsim_engine::find_event("xfrsim_notify_sent").map(|e| e.windows_id), Some(None));
    assert!(xfrsim_engine::find_event("6599").is_none());
}
