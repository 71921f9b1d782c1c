//! Zone data byte for byte through the engine: records with empty RDATA transfer, RDATA that
//! does not parse for its type is refused, CNAME conflicts never enter a zone (UPDATE, AXFR,
//! IXFR), and a reader that stalls holds at most one message of an outgoing transfer.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use xfrsim_engine::{BadResponse, Command, EventKind, Node, Time, Transmit, ZoneStatus};
use xfrsim_zone::wire::{MessageWriter, Section};
use xfrsim_zone::{CNAME, Change, Dname, Serial, ZoneRecord};

use crate::net::{Net, addr, ip};
use crate::support::*;

const P: u8 = 1;
const S: u8 = 2;

fn owner(label: &str) -> Vec<u8> {
    Dname::from_text(format!("{label}.example.com.").as_bytes(), &Dname::root()).unwrap().as_wire().to_vec()
}

fn record(label: &str, rtype: u16, rdata: &[u8]) -> ZoneRecord {
    ZoneRecord::new(&owner(label), rtype, 300, rdata).unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn cname(label: &str, target: &str) -> ZoneRecord {
    record(label, CNAME, &owner(target))
}

fn status(net: &mut Net, last: u8) -> Option<ZoneStatus> {
    net.node(ip(last)).zone_status(&origin())
}

/// RFC 3597 and RFC 3123 allow empty RDATA (NULL, an empty APL, an unknown type): such
/// records transfer like any other, byte for byte.
#[test]
fn records_with_empty_rdata_transfer() {
    let mut data = zone(100, 5);
    let empties = [record("null", 10, &[]), record("apl", 42, &[]), record("opaque", 65_280, &[])];
    let mut net = Net::new();
    let with_empties = {
        let mut history = xfrsim_zone::ZoneHistory::new(data.clone(), 10);
        history.update(&empties.iter().cloned().map(Change::Add).collect::<Vec<_>>()).unwrap();
        history.into_zone()
    };
    data = with_empties;
    net.add(node("p", P, vec![primary(data.clone(), vec![])]), 1);
    net.add(node("s", S, vec![secondary(vec![addr(P)])]), 2);
    net.run_for(secs(60));
    assert_eq!(status(&mut net, S), status(&mut net, P), "{}", net.dump());
    assert_eq!(net.count("s", "6524"), 0, "{}", net.dump());
    let copy = net.node(ip(S)).zone(&origin()).unwrap().clone();
    for empty in &empties {
        let got = copy.records().find(|r| r.rtype() == empty.rtype()).expect("transferred");
        assert!(got.same_bytes(empty), "{got} differs from {empty}");
    }
}

/// A secondary that sent its AXFR request on `conn`, ready for the answer.
fn awaiting_axfr() -> (Node, xfrsim_engine::ConnId, Message) {
    let master = addr(P);
    let mut s = Node::new(node("s", S, vec![secondary(vec![master])]), 7, Time::ZERO).unwrap();
    s.handle_timeout(Time::ZERO);
    let Some(Transmit::Query { payload, .. }) = s.poll_transmit() else { panic!("SOA query expected") };
    let query = Message::from_vec(&payload).unwrap();
    let mut answer = response_to(&query, ResponseCode::NoError);
    answer.metadata.authoritative = true;
    answer.add_answer(hk(zone(100, 0).soa_record()));
    s.handle_udp(Time::from_millis(20), master, &answer.to_vec().unwrap());
    let Some(Transmit::Connect { conn, .. }) = s.poll_transmit() else { panic!("connect expected") };
    s.handle_tcp_connected(Time::from_millis(40), conn);
    let Some(Transmit::Send { payload, .. }) = s.poll_transmit() else { panic!("AXFR query expected") };
    (s, conn, Message::from_vec(&payload).unwrap())
}

/// A record as raw parts: owner (wire), type, RDATA (unchecked).
type RawRecord = (Vec<u8>, u16, Vec<u8>);

/// An AXFR answer with `extra` raw records (owner, type, RDATA as given, unchecked) between
/// a valid zone's records and its closing SOA.
fn axfr_with(request: &Message, extra: &[RawRecord]) -> Vec<u8> {
    let zone = zone(100, 2);
    let question = xfrsim_zone::wire::Question { name: Dname::from_hickory(&origin()), qtype: 252, qclass: 1 };
    let mut writer =
        MessageWriter::new(request.metadata.id, MessageWriter::flags(true, 0, true, false, 0), Some(&question));
    let records: Vec<&ZoneRecord> = zone.axfr_records().collect();
    for r in &records[..records.len() - 1] {
        writer.push(Section::Answer, r);
    }
    for (owner, rtype, rdata) in extra {
        writer.push_parts(Section::Answer, owner, *rtype, 1, 300, rdata);
    }
    writer.push(Section::Answer, records[records.len() - 1]);
    writer.finish()
}

/// BIND's `fromwire` refuses RDATA that does not parse for its type; so do we: the transfer
/// is malformed (6524) and nothing is installed. Unknown types stay opaque and install.
#[test]
fn rdata_that_does_not_parse_for_its_type_fails_the_transfer() {
    let rp_bad_pointer = {
        // RP: a mailbox name, then a compression pointer past the end of the message.
        let mut rdata = owner("mbox");
        rdata.extend_from_slice(&[0xC0, 0xFF]);
        rdata
    };
    let cases: Vec<(&str, Vec<RawRecord>)> = vec![
        ("A with three octets", vec![(owner("a"), 1, vec![192, 0, 2])]),
        ("MX without its exchange", vec![(owner("mx"), 15, vec![0, 10])]),
        ("TXT with a string longer than the RDATA", vec![(owner("t"), 16, vec![9, b'x'])]),
        ("RP with a bad compression pointer", vec![(owner("rp"), 17, rp_bad_pointer)]),
        ("DS whose SHA-256 digest is short", vec![(owner("ds"), 43, vec![0, 1, 8, 2, 0xAA])]),
    ];
    for (what, extra) in cases {
        let (mut s, conn, request) = awaiting_axfr();
        s.handle_tcp_message(Time::from_millis(60), conn, &axfr_with(&request, &extra));
        let events: Vec<EventKind> = std::iter::from_fn(|| s.poll_event()).map(|e| e.kind).collect();
        assert!(
            events.contains(&EventKind::AxfrBadResponse { master: addr(P), reason: BadResponse::Malformed }),
            "{what}: expected 6524 malformed, got {events:?}"
        );
        assert!(s.zone(&origin()).is_none(), "{what}: nothing installed");
    }
    let (mut s, conn, request) = awaiting_axfr();
    s.handle_tcp_message(Time::from_millis(60), conn, &axfr_with(&request, &[(owner("u"), 65_000, vec![1, 2, 3])]));
    let zone = s.zone(&origin()).expect("an unknown type is opaque and installs");
    assert!(zone.records().any(|r| r.rtype() == 65_000 && r.rdata() == [1, 2, 3]));
}

fn update_message(id: u16, adds: &[ZoneRecord]) -> Vec<u8> {
    let question = xfrsim_zone::wire::Question { name: Dname::from_hickory(&origin()), qtype: 6, qclass: 1 };
    let mut writer = MessageWriter::new(id, MessageWriter::flags(false, 5, false, false, 0), Some(&question));
    for add in adds {
        writer.push(Section::Authority, add);
    }
    writer.finish()
}

/// RFC 2136 §3.4.2.2 (BIND `update.c`): a CNAME added beside other data, or other data
/// added beside a CNAME, is ignored; a CNAME added where one exists replaces it. The update
/// itself succeeds.
#[test]
fn update_cname_conflicts_are_ignored() {
    let mut net = Net::new();
    let mut config = primary(zone(100, 3), vec![]);
    config.allow_update = xfrsim_engine::Acl::Any;
    net.add(node("p", P, vec![config]), 1);
    let apex_cname = ZoneRecord::new(Dname::from_hickory(&origin()).as_wire(), CNAME, 300, &owner("y")).unwrap();
    let cases: Vec<(&str, Vec<ZoneRecord>, bool)> = vec![
        ("CNAME beside an A", vec![cname("host0", "elsewhere")], false),
        ("CNAME at the apex", vec![apex_cname], false),
        ("a CNAME where none conflicts", vec![cname("alias", "host1")], true),
        ("an A beside that CNAME", vec![a_record("alias", 9)], false),
        ("a second CNAME replaces the first", vec![cname("alias", "host2")], true),
    ];
    for (i, (what, adds, changes)) in cases.into_iter().enumerate() {
        let before = net.node(ip(P)).zone(&origin()).unwrap().clone();
        net.client_send(addr(P), update_message(1000 + i as u16, &adds));
        net.run_for(secs(1));
        let after = net.node(ip(P)).zone(&origin()).unwrap().clone();
        assert_eq!(after.serial() != before.serial(), changes, "{what}: {}", net.dump());
    }
    let zone = net.node(ip(P)).zone(&origin()).unwrap().clone();
    let alias = Dname::from_text(b"alias.example.com.", &Dname::root()).unwrap();
    let at_alias: Vec<String> = zone.owned_by(&alias).map(ToString::to_string).collect();
    assert_eq!(at_alias, ["alias.example.com. 300 IN CNAME host2.example.com."]);
    let host0 = Dname::from_text(b"host0.example.com.", &Dname::root()).unwrap();
    assert!(zone.owned_by(&host0).all(|r| r.rtype() != CNAME));
    let apex = Dname::from_hickory(&origin());
    assert!(zone.owned_by(&apex).all(|r| r.rtype() != CNAME));
}

/// An IXFR whose diff would put a CNAME beside other data is not applied (6536 names why),
/// and the AXFR that follows brings the master's zone if that is consistent.
#[test]
fn ixfr_that_breaks_integrity_is_not_applied() {
    let (mut s, conn, request) = awaiting_axfr();
    // Install serial 100 first, by a valid AXFR.
    s.handle_tcp_message(Time::from_millis(60), conn, &axfr_with(&request, &[]));
    assert!(matches!(s.zone_status(&origin()), Some(ZoneStatus::Serving { serial: Serial(100), .. })));
    while s.poll_event().is_some() {}
    while s.poll_transmit().is_some() {}
    s.handle_command(Time::from_secs(1), Command::Refresh { zone: origin() }).unwrap();
    let Some(Transmit::Query { payload, .. }) = s.poll_transmit() else { panic!("SOA query expected") };
    let query = Message::from_vec(&payload).unwrap();
    let mut answer = response_to(&query, ResponseCode::NoError);
    answer.metadata.authoritative = true;
    answer.add_answer(hk(zone(101, 0).soa_record()));
    s.handle_udp(Time::from_secs(1), addr(P), &answer.to_vec().unwrap());
    let Some(Transmit::Connect { conn, .. }) = s.poll_transmit() else { panic!("connect expected") };
    s.handle_tcp_connected(Time::from_secs(1), conn);
    let Some(Transmit::Send { payload, .. }) = s.poll_transmit() else { panic!("IXFR query expected") };
    let ixfr = Message::from_vec(&payload).unwrap();
    assert_eq!(ixfr.queries[0].query_type(), RecordType::IXFR);
    // 101 ← 100: add `host0 CNAME x` beside host0's A.
    let (old, new) = (zone(100, 0).soa_record().clone(), zone(101, 0).soa_record().clone());
    let question = xfrsim_zone::wire::Question { name: Dname::from_hickory(&origin()), qtype: 251, qclass: 1 };
    let mut writer =
        MessageWriter::new(ixfr.metadata.id, MessageWriter::flags(true, 0, true, false, 0), Some(&question));
    for r in [&new, &old, &new, &cname("host0", "x"), &new] {
        writer.push(Section::Answer, r);
    }
    s.handle_tcp_message(Time::from_secs(1), conn, &writer.finish());
    let events: Vec<EventKind> = std::iter::from_fn(|| s.poll_event()).map(|e| e.kind).collect();
    assert!(
        events.contains(&EventKind::IxfrBadResponse { master: addr(P), reason: BadResponse::CnameAndOtherData }),
        "{events:?}"
    );
    assert!(matches!(s.zone_status(&origin()), Some(ZoneStatus::Serving { serial: Serial(100), .. })), "old copy kept");
    // It falls back to AXFR from the same master (RFC 1995 §2, BIND DNS_R_BADIXFR).
    let transmits: Vec<Transmit> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert!(transmits.iter().any(|t| matches!(t, Transmit::Connect { to, .. } if *to == addr(P))), "{transmits:?}");
}

/// An outgoing transfer to a reader that stops reading costs one message: the next is only
/// encoded when the driver reports the previous one written.
#[test]
fn a_stalled_reader_holds_at_most_one_message() {
    let mut p = Node::new(node("p", P, vec![primary(zone(7, 20_000), vec![])]), 1, Time::ZERO).unwrap();
    while p.poll_transmit().is_some() {}
    let conn = p.handle_tcp_accepted(Time::ZERO, addr(9));
    let mut request = Message::new(77, MessageType::Query, OpCode::Query);
    let mut q = Query::query(origin(), RecordType::AXFR);
    q.set_query_class(DNSClass::IN);
    request.add_query(q);
    p.handle_tcp_message(Time::from_millis(1), conn, &request.to_vec().unwrap());
    let queued = p.queued_payload_bytes();
    let sent: Vec<Transmit> = std::iter::from_fn(|| p.poll_transmit()).collect();
    let [Transmit::Send { payload, .. }] = sent.as_slice() else { panic!("one message, not {sent:?}") };
    assert_eq!(queued, payload.len());
    assert!(payload.len() < 21_000, "one message of about 20 KB, not the zone: {}", payload.len());
    // The reader never reads: nothing more is produced, however long the node runs.
    for t in 1..=100 {
        p.handle_timeout(Time::from_millis(t * 10));
        assert_eq!(p.queued_payload_bytes(), 0);
        assert!(p.poll_transmit().is_none());
    }
    // Each reported write releases exactly the next message.
    p.handle_tcp_sent(Time::from_secs(2), conn);
    let next: Vec<Transmit> = std::iter::from_fn(|| p.poll_transmit()).collect();
    assert!(matches!(next.as_slice(), [Transmit::Send { .. }]), "{next:?}");
}
