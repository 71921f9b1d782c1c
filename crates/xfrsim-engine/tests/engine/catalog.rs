//! The event catalog: every Windows ID the project promises, each variant consistent with it.

use std::collections::BTreeSet;

use xfrsim_engine::catalog::{EVENTS, short_name};
use xfrsim_engine::{
    BadResponse, CATALOG, Command, Emitter, EventInfo, EventKind, Severity, Unreachable, find_event, suggest_event,
};
use xfrsim_zone::{Change, Serial};

use crate::net::{Net, addr, ip};
use crate::support::*;

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
        assert_eq!(find_event(info.name), Some(info), "{}", info.name);
        for text in [info.message, info.fires, info.bind, info.knot] {
            assert!(!text.trim().is_empty(), "{}: an empty catalog field", info.name);
        }
        assert!(info.params.iter().all(|p| !p.meaning.is_empty()), "{}", info.name);
    }
}

#[test]
fn events_are_found_by_id_or_by_name_in_any_case_with_or_without_prefix() {
    let found = |query: &str| find_event(query).map(|e| e.name);
    for query in ["6523", " 6523 ", "DNS_EVENT_XFR_MASTER_UNAVAILABLE", "dns_event_xfr_master_unavailable"] {
        assert_eq!(found(query), Some("DNS_EVENT_XFR_MASTER_UNAVAILABLE"), "{query:?}");
    }
    assert_eq!(found("xfr_master_unavailable"), Some("DNS_EVENT_XFR_MASTER_UNAVAILABLE"));
    assert_eq!(found("Zone_Expiration"), Some("DNS_EVENT_ZONE_EXPIRATION"));
    // xfrsim's own prefix is dropped the same way.
    assert_eq!(found("xfrsim_notify_sent"), Some("XFRSIM_NOTIFY_SENT"));
    assert_eq!(found("notify_refused"), Some("XFRSIM_NOTIFY_REFUSED"));
    // A prefix must be the event's own, an ID a catalog one, and a name whole.
    for miss in
        ["xfrsim_zone_expiration", "dns_event_notify_refused", "6599", "65230", "+6523", "", "zone", "_EXPIRATION"]
    {
        assert_eq!(found(miss), None, "{miss:?}");
    }
}

#[test]
fn no_name_without_its_prefix_is_ambiguous() {
    // Every form a user may write names one row: IDs, full names, names without their prefix.
    let forms_of = |info: &EventInfo| {
        let short = short_name(info.name);
        assert_ne!(short, info.name, "{} has neither prefix", info.name);
        let id = info.windows_id.map(|id| id.to_string());
        [Some(info.name.to_string()), Some(short.to_string()), id].into_iter().flatten()
    };
    let mut forms = BTreeSet::new();
    for info in EVENTS {
        for form in forms_of(info) {
            assert!(forms.insert(form.clone()), "`{form}` names two events");
        }
    }
    for info in EVENTS {
        for form in forms_of(info) {
            assert_eq!(find_event(&form), Some(info), "{form}");
        }
    }
}

#[test]
fn suggestions_compare_ids_with_ids_and_names_with_names() {
    let suggested = |query: &str| suggest_event(query).map(|e| e.name);
    // Two digits swapped.
    assert_eq!(suggested("6532"), Some("DNS_EVENT_XFR_MASTER_UNAVAILABLE"));
    assert_eq!(suggested("xfr_master_unavailabel"), Some("DNS_EVENT_XFR_MASTER_UNAVAILABLE"));
    assert_eq!(suggested("DNS_EVENT_ZONE_EXPIRATON"), Some("DNS_EVENT_ZONE_EXPIRATION"));
    // Without its prefix, an xfrsim name is near its own row, not an unrelated Windows one.
    assert_eq!(suggested("notify_refusd"), Some("XFRSIM_NOTIFY_REFUSED"));
    // Too far from anything: no guess.
    assert_eq!(suggested("6599"), None);
    assert_eq!(suggested("refresh"), None);
}

/// Drives a primary, a secondary and a secondary of that secondary through updates, a rollback,
/// a dead master and a long partition, and checks every event against its row's role: the
/// catalog's column must agree with where the engine emits each event.
#[test]
fn each_event_comes_from_the_role_its_row_names() {
    let mut net = Net::new();
    net.add(node("primary", 1, vec![primary(zone(100, 20), vec![addr(2)])]), 1);
    // Nothing listens at .9: the first master fails every round.
    let mut mid = secondary(vec![addr(9), addr(1)]);
    mid.notify = vec![addr(3)];
    net.add(node("mid", 2, vec![mid]), 2);
    net.add(node("leaf", 3, vec![secondary(vec![addr(2)])]), 3);
    net.add_no_service(ip(9));
    net.run_for(secs(HOUR));
    let change = Change::Add(a_record("new", 1));
    net.command(ip(1), Command::Update { zone: origin(), changes: vec![change] }).expect("update");
    net.run_for(secs(HOUR));
    net.command(ip(1), Command::Reload { zone: Box::new(zone(90, 20)) }).expect("reload");
    net.run_for(secs(2 * HOUR));
    net.isolate(ip(1));
    net.run_for(secs(2 * DAY));

    let role_of = |server: &str| if server == "primary" { Emitter::Primary } else { Emitter::Secondary };
    let mut seen = BTreeSet::new();
    for (server, event) in &net.log {
        let info = event.kind.info();
        let allowed = match event.zone {
            Some(_) => info.emitted_by == Emitter::Any || info.emitted_by == role_of(server),
            // Node-wide events belong to no zone, so to no role.
            None => info.emitted_by == Emitter::Any,
        };
        assert!(allowed, "{server} emitted {}, which the catalog says only a {} emits", info.name, info.emitted_by);
        seen.insert((info.name, role_of(server)));
    }
    // The situations above do produce these, so the check covers both columns' claims.
    for (name, role) in [
        ("XFRSIM_DYNAMIC_UPDATE", Emitter::Primary),
        ("XFRSIM_ZONE_RELOADED", Emitter::Primary),
        ("XFRSIM_NOTIFY_SENT", Emitter::Primary),
        ("XFRSIM_NOTIFY_SENT", Emitter::Secondary),
        ("DNS_EVENT_ZONEXFR_START", Emitter::Primary),
        ("DNS_EVENT_ZONEXFR_START", Emitter::Secondary),
        ("XFRSIM_NOTIFY_RECEIVED", Emitter::Secondary),
        ("DNS_EVENT_ZONE_UPDATE", Emitter::Secondary),
        ("DNS_EVENT_XFR_MASTER_UNAVAILABLE", Emitter::Secondary),
        ("DNS_EVENT_ZONE_NEWER_THAN_SERVER_VERSION", Emitter::Secondary),
        ("DNS_EVENT_ZONE_EXPIRATION", Emitter::Secondary),
    ] {
        assert!(seen.contains(&(name, role)), "no {name} from a {role}:\n{}", net.dump());
    }
}
