//! Transfer behaviour end to end: each test names the behaviour it pins down.

use std::collections::BTreeSet;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use xfrsim_engine::{Acl, Command, EventKind, Time, ZoneStatus};
use xfrsim_zone::{Change, Serial};

use crate::net::{Net, addr, ip};
use crate::support::*;

const P: u8 = 1;
const S: u8 = 2;

fn serial_of(net: &mut Net, last: u8) -> Option<Serial> {
    match net.node(ip(last)).zone_status(&origin()) {
        Some(ZoneStatus::Serving { serial, .. }) => Some(serial),
        _ => None,
    }
}

fn digest_of(net: &mut Net, last: u8) -> Option<xfrsim_zone::ZoneDigest> {
    match net.node(ip(last)).zone_status(&origin()) {
        Some(ZoneStatus::Serving { digest, .. }) => Some(digest),
        _ => None,
    }
}

/// Primary P (serial 100) and secondary S pulling from it; P notifies S when `notify`.
fn pair(notify: bool) -> Net {
    let mut net = Net::new();
    let targets = if notify { vec![addr(S)] } else { vec![] };
    net.add(node("p", P, vec![primary(zone(100, 20), targets)]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net
}

fn update(net: &mut Net, label: &str, last: u8) {
    net.command(ip(P), Command::Update { zone: origin(), changes: vec![Change::Add(a_record(label, last))] }).unwrap();
}

fn soa_query(id: u16) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    let mut q = Query::query(origin(), RecordType::SOA);
    q.set_query_class(DNSClass::IN);
    m.add_query(q);
    m.to_vec().unwrap()
}

#[test]
fn initial_axfr_installs_the_primarys_zone() {
    let mut net = pair(false);
    net.run_for(secs(60));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
    let installed = net.events("s", "6520");
    assert_eq!(installed.len(), 1);
    assert!(matches!(installed[0].kind, EventKind::ZoneUpdate { incremental: false, master, .. } if master == addr(P)));
    assert_eq!(net.count("s", "6522"), 1);
    assert_eq!(net.count("p", "6000"), 1);
    assert_eq!(net.count("p", "6001"), 1);
    // The whole exchange takes a handful of round trips, not seconds.
    assert!(installed[0].at < Time::from_secs(1), "installed at {}", installed[0].at);
}

#[test]
fn equal_serial_refresh_keeps_zone_alive_past_expire() {
    let mut net = pair(false);
    net.run_for(secs(3 * DAY));
    // Refresh 1 h with up to 25 % jitter earlier: between 72 and 96 checks in three days.
    let in_sync = net.events("s", "6521");
    assert!((72..=97).contains(&in_sync.len()), "{} in-sync checks\n{}", in_sync.len(), net.dump());
    for pair in in_sync.windows(2) {
        let gap = pair[1].at.saturating_since(pair[0].at).as_secs();
        assert!((2700..=3600).contains(&gap), "refresh gap {gap}s outside [0.75R, R]");
    }
    // Each equal answer restarted EXPIRE (1 day): the zone never expired.
    assert_eq!(net.count("s", "6527"), 0);
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
}

#[test]
fn higher_serial_is_pulled_at_the_next_refresh_by_ixfr() {
    let mut net = pair(false);
    net.run_for(secs(60));
    update(&mut net, "new", 1);
    net.run_for(secs(HOUR));
    assert_eq!(serial_of(&mut net, S), Some(Serial(101)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
    let updates = net.events("s", "6520");
    assert!(matches!(
        updates.last().unwrap().kind,
        EventKind::ZoneUpdate { incremental: true, serial: Serial(101), .. }
    ));
    assert!(
        net.events("p", "6000").iter().any(|e| matches!(e.kind, EventKind::ZoneXfrStart { incremental: true, .. }))
    );
}

#[test]
fn lower_serial_at_master_is_reported_and_not_transferred() {
    let mut net = pair(false);
    net.run_for(secs(60));
    let before = digest_of(&mut net, S);
    net.command(ip(P), Command::Reload { zone: Box::new(zone(90, 5)) }).unwrap();
    net.run_for(secs(2 * HOUR));
    let lower = net.events("s", "6526");
    assert!(!lower.is_empty(), "{}", net.dump());
    assert!(matches!(
        lower[0].kind,
        EventKind::ZoneNewerThanServerVersion { ours: Serial(100), theirs: Serial(90), .. }
    ));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
    assert_eq!(digest_of(&mut net, S), before);
    // A lower serial does not restart the refresh timer: the next try comes after RETRY.
    let gap = lower[1].at.saturating_since(lower[0].at).as_secs();
    assert!((450..=620).contains(&gap), "retry gap {gap}s");
}

#[test]
fn lower_serial_is_accepted_after_expiry() {
    let mut net = pair(false);
    net.run_for(secs(60));
    net.command(ip(P), Command::Reload { zone: Box::new(zone(90, 5)) }).unwrap();
    net.run_for(secs(DAY + HOUR));
    assert_eq!(net.count("s", "6527"), 1, "{}", net.dump());
    assert_eq!(serial_of(&mut net, S), Some(Serial(90)), "after expiry any serial is taken\n{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
}

#[test]
fn notify_triggers_an_immediate_refresh() {
    let mut net = pair(true);
    net.run_for(secs(60));
    net.run_for(secs(600));
    let at = net.now;
    update(&mut net, "new", 1);
    net.run_for(secs(10));
    assert_eq!(serial_of(&mut net, S), Some(Serial(101)), "{}", net.dump());
    let received = net.events("s", "XFRSIM_NOTIFY_RECEIVED");
    assert!(
        received
            .iter()
            .any(|e| e.at >= at && matches!(e.kind, EventKind::NotifyReceived { serial: Some(Serial(101)), .. }))
    );
    let installed = net.events("s", "6520");
    assert!(installed.last().unwrap().at.saturating_since(at).as_millis() < 500);
}

#[test]
fn notify_from_a_non_master_is_refused_and_ignored() {
    let mut net = pair(false);
    // A rogue primary holding a newer copy notifies S.
    net.add(node("rogue", 3, vec![primary(zone(500, 1), vec![addr(S)])]), 3);
    net.run_for(secs(120));
    let refused = net.events("s", "XFRSIM_NOTIFY_REFUSED");
    assert!(!refused.is_empty(), "{}", net.dump());
    assert!(matches!(refused[0].kind, EventKind::NotifyRefused { from } if from.ip() == ip(3)));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
    assert_eq!(net.count("rogue", "6000"), 0, "no transfer may come from the rogue");
}

#[test]
fn ixfr_history_gap_falls_back_to_axfr_style() {
    let mut net = Net::new();
    let mut p = primary(zone(100, 20), vec![]);
    p.journal_max_diffs = 1;
    net.add(node("p", P, vec![p]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    for i in 0..3 {
        update(&mut net, &format!("gap{i}"), i);
    }
    net.run_for(secs(HOUR));
    assert_eq!(serial_of(&mut net, S), Some(Serial(103)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
    assert!(matches!(net.events("s", "6520").last().unwrap().kind, EventKind::ZoneUpdate { incremental: false, .. }));
    assert!(matches!(net.events("p", "6000").last().unwrap().kind, EventKind::ZoneXfrStart { incremental: false, .. }));
    assert_eq!(net.count("s", "6536"), 0, "an AXFR-style answer is valid, not a bad IXFR");
}

#[test]
fn unreachable_master_warns_every_retry_then_expires_then_recovers() {
    let mut net = pair(false);
    net.run_for(secs(60));
    let cut_at = net.now;
    net.isolate(ip(P));
    net.run_for(secs(DAY + 2 * HOUR));
    let unavailable = net.events("s", "6523");
    // First failure at the refresh (≤ 1 h), then one per RETRY (7.5–10 min plus 30 s of
    // timeouts) until expiry at 1 day, and on after it.
    assert!(unavailable.len() >= 135, "{} warnings\n{}", unavailable.len(), net.dump());
    for e in &unavailable {
        assert!(matches!(e.kind, EventKind::XfrMasterUnavailable { master, .. } if master == addr(P)));
    }
    let expired = net.events("s", "6527");
    assert_eq!(expired.len(), 1);
    // Before expiry the pace is RETRY (600 s, jittered down by up to a quarter), counted from
    // the start of each round (BIND zone.c `zone_refresh`), so the 31 s of UDP and TCP
    // timeouts in each round do not add up.
    for pair in unavailable.windows(2).filter(|p| p[1].at < expired[0].at) {
        let gap = pair[1].at.saturating_since(pair[0].at).as_secs();
        assert!((450..=600).contains(&gap), "gap {gap}s between 6523s");
    }
    // Expiry starts a refresh at once; then BIND has no SOA timers any more (`zone_expire`
    // clears HAVETIMERS) and backs off from 60 s, doubling.
    let after: Vec<u64> = unavailable
        .iter()
        .filter(|e| e.at >= expired[0].at)
        .map(|e| e.at.saturating_since(expired[0].at).as_secs())
        .collect();
    assert!(after.len() >= 5, "{after:?}");
    let gaps: Vec<u64> = after.windows(2).map(|w| w[1] - w[0]).collect();
    assert!((45..=60).contains(&gaps[0]), "first backoff 45–60 s from the round's start: {gaps:?}");
    assert!(gaps.windows(2).all(|g| g[1] > g[0]), "each wait longer than the last: {gaps:?}");
    // Expire counts from the last successful refresh — the initial transfer, just after 0 —
    // not from the cut or from any failed retry.
    assert!(cut_at > Time::from_secs(59));
    assert!(
        expired[0].at >= Time::from_secs(DAY) && expired[0].at < Time::from_secs(DAY + 1),
        "expired at {}",
        expired[0].at
    );
    // Expired: SERVFAIL on the wire.
    net.client_send(addr(S), soa_query(77));
    net.run_for(secs(1));
    let reply = Message::from_vec(net.client_inbox.last().unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(serial_of(&mut net, S), None);
    // Heal: the next retry succeeds — the first one after the heal, however far the backoff
    // has grown (2 h after expiry it waits about an hour).
    net.heal(ip(P));
    let healed_at = net.now;
    net.run_for(secs(2 * HOUR));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)), "{}", net.dump());
    let recovered = net.events("s", "6520").last().unwrap().at;
    let retried_after_heal: Vec<Time> =
        net.events("s", "6522").iter().map(|e| e.at).filter(|at| *at >= healed_at).collect();
    assert_eq!(retried_after_heal.len(), 1, "the first retry after the heal transfers");
    assert!(recovered.saturating_since(retried_after_heal[0]).as_secs() <= 1);
    assert!(net.events("s", "6523").iter().all(|e| e.at < healed_at), "no failure after the heal\n{}", net.dump());
    net.client_send(addr(S), soa_query(78));
    net.run_for(secs(1));
    let reply = Message::from_vec(net.client_inbox.last().unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
}

#[test]
fn first_master_down_second_serves() {
    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(100, 5), vec![])]), 1);
    // 192.0.2.9 has nothing on it: the wrong master IP of the seed incident.
    net.add(node("s", S, vec![secondary(vec![addr(9), addr(P)])]), 2);
    net.run_for(secs(120));
    let unavailable = net.events("s", "6523");
    assert_eq!(unavailable.len(), 1, "{}", net.dump());
    assert!(matches!(unavailable[0].kind, EventKind::XfrMasterUnavailable { master, .. } if master == addr(9)));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
    assert!(matches!(net.events("s", "6520")[0].kind, EventKind::ZoneUpdate { master, .. } if master == addr(P)));
}

#[test]
fn master_without_dns_service_is_unreachable_by_refused_connection() {
    let mut net = Net::new();
    net.add_no_service(ip(9));
    net.add(node("s", S, vec![secondary(vec![addr(9)])]), 2);
    net.run_for(secs(60));
    let unavailable = net.events("s", "6523");
    assert_eq!(unavailable.len(), 1, "{}", net.dump());
    assert!(matches!(
        unavailable[0].kind,
        EventKind::XfrMasterUnavailable { reason: xfrsim_engine::Unreachable::ConnectionRefused, .. }
    ));
}

#[test]
fn first_master_behind_second_ahead() {
    let mut net = Net::new();
    net.add(node("old", 3, vec![primary(zone(100, 5), vec![])]), 3);
    net.add(node("p", P, vec![primary(zone(200, 5), vec![])]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(3), addr(P)])]), 2);
    net.run_for(secs(60));
    // Without a copy the first master that answers wins, whatever its serial.
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)), "{}", net.dump());
    // The first master falls behind (restored from an old backup): at the next refresh it is
    // reported (6526) and the round goes on to the second master, which is ahead.
    net.command(ip(3), Command::Reload { zone: Box::new(zone(99, 5)) }).unwrap();
    net.run_for(secs(HOUR));
    let behind = net.events("s", "6526");
    assert!(!behind.is_empty(), "{}", net.dump());
    assert!(matches!(behind[0].kind, EventKind::ZoneNewerThanServerVersion { master, .. } if master == addr(3)));
    assert_eq!(serial_of(&mut net, S), Some(Serial(200)), "the round went on to the second master\n{}", net.dump());
}

#[test]
fn transfer_refused_by_acl() {
    let mut net = Net::new();
    let mut p = primary(zone(100, 5), vec![]);
    p.allow_transfer = Acl::hosts([ip(7)]);
    net.add(node("p", P, vec![p]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(30));
    assert_eq!(net.count("s", "6522"), 1, "{}", net.dump());
    let refused = net.events("s", "6525");
    assert_eq!(refused.len(), 1);
    assert!(matches!(refused[0].kind, EventKind::AxfrRefused { master } if master == addr(P)));
    assert_eq!(serial_of(&mut net, S), None);
    assert_eq!(net.count("p", "6000"), 0);
    // The refusing primary logs the denial once, naming the client.
    let denied = net.events("p", "XFRSIM_TRANSFER_DENIED");
    assert_eq!(denied.len(), 1, "{}", net.dump());
    assert!(matches!(denied[0].kind, EventKind::TransferDenied { client } if client.ip() == ip(S)));
    // Never having held the zone, S retries with a doubling back-off from 60 s (BIND).
    net.run_for(secs(15 * 60));
    let refused = net.events("s", "6525");
    let gaps: Vec<u64> = refused.windows(2).map(|w| w[1].at.saturating_since(w[0].at).as_secs()).collect();
    assert!(gaps.len() >= 3, "{gaps:?}");
    for (i, gap) in gaps.iter().enumerate() {
        let base = 60u64 << i;
        assert!((base * 3 / 4..=base).contains(gap), "retry {i}: {gap}s, expected within [{}, {base}]", base * 3 / 4);
    }
}

#[test]
fn master_that_is_not_authoritative() {
    let mut net = Net::new();
    // A DNS server that holds some other zone only.
    let other_origin = hickory_proto::rr::Name::from_ascii("other.test.").unwrap();
    let other = xfrsim_engine::ZoneConfig::primary(other_origin.clone(), zone_at(&other_origin, 1, []));
    net.add(node("lame", 3, vec![other]), 3);
    net.add(node("s", S, vec![secondary(vec![addr(3)])]), 2);
    net.run_for(secs(30));
    // SOA is REFUSED (not authoritative, no recursion); the transfer is NOTAUTH → 6524 / 6004.
    let bad = net.events("s", "6524");
    assert_eq!(bad.len(), 1, "{}", net.dump());
    assert!(matches!(&bad[0].kind, EventKind::AxfrBadResponse { reason: xfrsim_engine::BadResponse::Rcode(9), .. }));
    assert_eq!(net.count("lame", "6004"), 1);
}

#[test]
fn cut_transfer_keeps_the_old_zone_in_service() {
    let mut net = Net::new();
    let big = zone(100, 3000);
    // Transfers are cut into messages of BIND's transfer-message-size (20480 bytes of
    // uncompressed records): 3000 hosts make about sixteen, so a cut after the first message
    // lands mid-stream.
    assert!(axfr_bytes(&big) > 10 * TRANSFER_MESSAGE_SIZE, "{} bytes", axfr_bytes(&big));
    let mut p = primary(big, vec![addr(S)]);
    p.journal_max_diffs = 0; // every IXFR is answered AXFR-style: a multi-message stream
    net.add(node("p", P, vec![p]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    let old = digest_of(&mut net, S);
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
    net.cut_transfers_from(ip(P), 1);
    update(&mut net, "new", 1);
    net.run_for(secs(60));
    assert!(net.events("p", "6000").len() >= 2);
    // IXFR stream cut → 6536 and AXFR; AXFR cut → 6534; the old version stays.
    assert!(net.count("s", "6536") >= 1, "{}", net.dump());
    let aborted = net.events("s", "6534");
    assert!(!aborted.is_empty());
    assert!(matches!(
        &aborted[0].kind,
        EventKind::XfrAbortedByMaster { reason: xfrsim_engine::BadResponse::ClosedMidStream, .. }
    ));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
    assert_eq!(digest_of(&mut net, S), old);
    assert!(net.count("p", "6002") >= 1, "the primary saw the transfer aborted");
    // Once transfers complete again, the retry brings the new version.
    net.stop_cutting(ip(P));
    net.run_for(secs(15 * 60));
    assert_eq!(serial_of(&mut net, S), Some(Serial(101)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
}

#[test]
fn serial_wraps_past_2_pow_32() {
    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(u32::MAX - 1, 5), vec![addr(S)])]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    for (i, expected) in [(1u8, u32::MAX), (2, 1), (3, 2)] {
        update(&mut net, &format!("wrap{i}"), i);
        net.run_for(secs(30));
        assert_eq!(serial_of(&mut net, S), Some(Serial(expected)), "{}", net.dump());
        assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
    }
    assert_eq!(net.count("s", "6526"), 0);
}

#[test]
fn dynamic_update_over_the_wire_then_notify_then_ixfr() {
    let mut net = Net::new();
    let mut p = primary(zone(100, 5), vec![addr(S)]);
    p.allow_update = Acl::hosts([ip(crate::net::CLIENT)]);
    net.add(node("p", P, vec![p]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    let mut upd = Message::new(4242, MessageType::Query, OpCode::Update);
    let mut zq = Query::query(origin(), RecordType::SOA);
    zq.set_query_class(DNSClass::IN);
    upd.add_query(zq);
    upd.add_authority(a_rr("dyn", 7));
    net.client_send(addr(P), upd.to_vec().unwrap());
    net.run_for(secs(5));
    let reply = Message::from_vec(net.client_inbox.last().expect("update answered")).unwrap();
    assert_eq!(reply.metadata.id, 4242);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(net.count("p", "XFRSIM_DYNAMIC_UPDATE"), 1);
    assert_eq!(serial_of(&mut net, S), Some(Serial(101)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
    assert!(matches!(net.events("s", "6520").last().unwrap().kind, EventKind::ZoneUpdate { incremental: true, .. }));
}

#[test]
fn update_from_outside_the_acl_is_refused() {
    let mut net = pair(false);
    let mut upd = Message::new(9, MessageType::Query, OpCode::Update);
    let mut zq = Query::query(origin(), RecordType::SOA);
    zq.set_query_class(DNSClass::IN);
    upd.add_query(zq);
    upd.add_authority(a_rr("dyn", 7));
    net.client_send(addr(P), upd.to_vec().unwrap());
    net.run_for(secs(1));
    let reply = Message::from_vec(net.client_inbox.last().unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert_eq!(serial_of(&mut net, P), Some(Serial(100)));
    assert_eq!(net.count("p", "XFRSIM_UPDATE_DENIED"), 1, "{}", net.dump());
}

#[test]
fn chain_primary_to_secondary_to_secondary() {
    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(100, 5), vec![addr(S)])]), 1);
    let mut mid = secondary(vec![addr(P)]);
    mid.notify = vec![addr(3)];
    net.add(node("s", S, vec![mid]), 2);
    net.add(node("leaf", 3, vec![secondary(vec![addr(S)])]), 3);
    net.run_for(secs(60));
    update(&mut net, "chain", 1);
    net.run_for(secs(10));
    assert_eq!(serial_of(&mut net, 3), Some(Serial(101)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, 3), digest_of(&mut net, P));
    // The leaf learned of it by NOTIFY from the middle node, and pulled by IXFR from it.
    assert!(
        matches!(net.events("leaf", "6520").last().unwrap().kind, EventKind::ZoneUpdate { master, incremental: true, .. } if master == addr(S))
    );
}

#[test]
fn no_masters_is_503_and_own_address_is_7062() {
    let mut net = Net::new();
    net.add(node("s", S, vec![secondary(vec![])]), 2);
    net.run_for(secs(HOUR));
    assert_eq!(net.count("s", "503"), 1);
    assert!(net.log.iter().all(|(_, e)| e.kind.windows_id() == Some(503)), "{}", net.dump());

    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(100, 5), vec![])]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(S), addr(P)])]), 2);
    net.run_for(secs(60));
    let selfs = net.events("s", "7062");
    assert_eq!(selfs.len(), 1);
    assert!(matches!(selfs[0].kind, EventKind::SelfSend { master } if master == addr(S)));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)));
}

#[test]
fn axfr_over_udp_is_refused_with_6003() {
    let mut net = pair(false);
    let mut m = Message::new(5, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(origin(), RecordType::AXFR));
    net.client_send(addr(P), m.to_vec().unwrap());
    net.run_for(secs(1));
    assert_eq!(net.count("p", "6003"), 1);
    let reply = Message::from_vec(net.client_inbox.last().unwrap()).unwrap();
    // BIND lib/ns/xfrout.c answers FORMERR (the default profile).
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn notify_during_a_transfer_is_queued_not_dropped() {
    let mut net = Net::new();
    let big = zone(100, 3000);
    // About sixteen messages of BIND's transfer-message-size (20480 bytes of uncompressed
    // records), each written at 10 Mbit/s: the transfer lasts long enough to be overtaken.
    assert!(axfr_bytes(&big) > 10 * TRANSFER_MESSAGE_SIZE, "{} bytes", axfr_bytes(&big));
    let mut p = primary(big, vec![addr(S)]);
    p.journal_max_diffs = 0; // AXFR-style answers: a multi-message stream that takes a while
    // NOTIFY for every version at once (BIND's notify-delay would hold the second back).
    let mut p = node("p", P, vec![p]);
    p.behaviour.notify_delay = std::time::Duration::ZERO;
    net.add(p, 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    update(&mut net, "first", 1);
    // Step until P has started sending 101, then change the zone again mid-transfer.
    while !net.events("p", "6000").iter().any(|e| matches!(e.kind, EventKind::ZoneXfrStart { serial: Serial(101), .. }))
    {
        net.run_for(std::time::Duration::from_millis(1));
        assert!(net.now < Time::from_secs(120), "no transfer started\n{}", net.dump());
    }
    let transfer_started = net.now;
    update(&mut net, "second", 2);
    net.run_for(secs(10));
    let installed: Vec<(Serial, Time)> = net
        .events("s", "6520")
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ZoneUpdate { serial, .. } => Some((serial, e.at)),
            _ => None,
        })
        .collect();
    let got_101 =
        installed.iter().find(|(s, _)| *s == Serial(101)).unwrap_or_else(|| panic!("101 installed\n{}", net.dump())).1;
    let notify_102 = net
        .events("s", "XFRSIM_NOTIFY_RECEIVED")
        .iter()
        .find(|e| matches!(e.kind, EventKind::NotifyReceived { serial: Some(Serial(102)), .. }))
        .expect("NOTIFY for 102 received")
        .at;
    assert!(
        transfer_started <= notify_102 && notify_102 < got_101,
        "the NOTIFY arrived during the transfer\n{}",
        net.dump()
    );
    // Without queuing, 102 would wait for the refresh timer (≥ 45 min).
    assert_eq!(serial_of(&mut net, S), Some(Serial(102)), "{}", net.dump());
    assert_eq!(digest_of(&mut net, S), digest_of(&mut net, P));
}

#[test]
fn soa_query_falls_back_to_tcp_when_udp_is_lost() {
    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(100, 5), vec![])]), 1);
    net.block_udp(ip(P));
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)), "{}", net.dump());
    assert_eq!(net.count("s", "6523"), 0, "reachable over TCP is reachable");
    // Three UDP sends 5 s apart with EDNS, three without (BIND "retrying without EDNS"),
    // went unanswered before the TCP query.
    let found = net.events("s", "6522");
    assert!(found[0].at >= Time::from_secs(30) && found[0].at < Time::from_secs(31), "{}", found[0].at);
    // A Knot secondary asks over TCP only: no UDP wait at all.
    let mut net = Net::new();
    net.add(node("p", P, vec![primary(zone(100, 5), vec![])]), 1);
    net.block_udp(ip(P));
    let mut knot = node("s", S, vec![secondary(vec![addr(P)])]);
    knot.behaviour = xfrsim_engine::Behaviour::of(xfrsim_engine::Profile::Knot);
    net.add(knot, 2);
    net.run_for(secs(60));
    let found = net.events("s", "6522");
    assert!(found[0].at < Time::from_secs(1), "{}", found[0].at);
}

#[test]
fn one_node_holds_primary_and_secondary_zones() {
    let other = hickory_proto::rr::Name::from_ascii("example.org.").unwrap();
    let x = hickory_proto::rr::Record::from_rdata(
        hickory_proto::rr::Name::from_ascii("x.example.org.").unwrap(),
        300,
        hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A::new(198, 51, 100, 1)),
    );
    let other_zone = zone_at(&other, 7, [x]);
    let mut net = Net::new();
    // A is primary for example.com and secondary for example.org; B the other way round.
    let mut b_secondary = xfrsim_engine::ZoneConfig::secondary(origin(), vec![addr(P)]);
    b_secondary.notify = vec![];
    net.add(
        node(
            "a",
            P,
            vec![
                primary(zone(100, 5), vec![addr(S)]),
                xfrsim_engine::ZoneConfig::secondary(other.clone(), vec![addr(S)]),
            ],
        ),
        1,
    );
    net.add(node("b", S, vec![b_secondary, xfrsim_engine::ZoneConfig::primary(other.clone(), other_zone.clone())]), 2);
    net.run_for(secs(60));
    assert_eq!(serial_of(&mut net, S), Some(Serial(100)), "{}", net.dump());
    let a_other = net.node(ip(P)).zone(&other).map(|z| z.digest());
    assert_eq!(a_other, Some(other_zone.digest()), "{}", net.dump());
    // Events name their zone.
    let zones: BTreeSet<String> = net
        .events("a", "6520")
        .iter()
        .chain(net.events("b", "6520").iter())
        .filter_map(|e| e.zone.as_ref().map(|z| z.to_string()))
        .collect();
    assert_eq!(zones, BTreeSet::from(["example.com.".to_string(), "example.org.".to_string()]));
}
