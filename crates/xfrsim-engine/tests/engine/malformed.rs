//! Malformed input from peers never panics and always ends in a clear event or a clean result.

use std::net::SocketAddr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;
use proptest::prelude::*;
use xfrsim_engine::{ConnId, EventKind, Node, Time, Transmit, ZoneStatus};
use xfrsim_zone::Serial;

use crate::net::{addr, ip};
use crate::support::*;

fn drain(node: &mut Node) -> (Vec<Transmit>, Vec<EventKind>) {
    let mut transmits = Vec::new();
    while let Some(t) = node.poll_transmit() {
        transmits.push(t);
    }
    let mut events = Vec::new();
    while let Some(e) = node.poll_event() {
        events.push(e.kind);
    }
    (transmits, events)
}

/// A secondary that has asked its master for SOA, been told 100, connected, and sent its AXFR
/// request. Returns the node, its connection and the request id.
fn secondary_awaiting_axfr() -> (Node, ConnId, Message) {
    let master = addr(1);
    let mut s = Node::new(node("s", 2, vec![secondary(vec![master])]), 7, Time::ZERO).unwrap();
    assert_eq!(s.poll_timeout(), Some(Time::ZERO), "a new secondary refreshes at once");
    s.handle_timeout(Time::ZERO);
    let (transmits, _) = drain(&mut s);
    let Some(Transmit::Query { payload, .. }) = transmits.first() else { panic!("SOA query expected: {transmits:?}") };
    let query = Message::from_vec(payload).unwrap();
    let zone = zone(100, 150);
    let mut answer = response_to(&query, ResponseCode::NoError);
    answer.metadata.authoritative = true;
    answer.add_answer(hk(zone.soa_record()));
    s.handle_udp(Time::from_millis(20), master, &answer.to_vec().unwrap());
    let (transmits, _) = drain(&mut s);
    let Some(Transmit::Connect { conn, .. }) = transmits.first() else { panic!("connect expected: {transmits:?}") };
    s.handle_tcp_connected(Time::from_millis(40), *conn);
    let (transmits, _) = drain(&mut s);
    let Some(Transmit::Send { payload, .. }) = transmits.first() else { panic!("AXFR query expected") };
    let request = Message::from_vec(payload).unwrap();
    assert_eq!(request.queries[0].query_type(), RecordType::AXFR);
    (s, *conn, request)
}

fn axfr_messages(request: &Message) -> Vec<Vec<u8>> {
    let zone = zone(100, 150);
    let mut messages = Vec::new();
    // Small messages so a mutation can land in any of several.
    let records: Vec<_> = zone.axfr_records().map(hk).collect();
    for (i, chunk) in records.chunks(50).enumerate() {
        let mut m = if i == 0 {
            response_to(request, ResponseCode::NoError)
        } else {
            Message::new(request.metadata.id, MessageType::Response, OpCode::Query)
        };
        m.metadata.authoritative = true;
        m.add_answers(chunk.iter().cloned());
        messages.push(m.to_vec().unwrap());
    }
    messages
}

#[test]
fn unmutated_stream_installs() {
    let (mut s, conn, request) = secondary_awaiting_axfr();
    for m in axfr_messages(&request) {
        s.handle_tcp_message(Time::from_millis(60), conn, &m);
    }
    let (_, events) = drain(&mut s);
    assert!(events.iter().any(|e| matches!(e, EventKind::ZoneUpdate { serial: Serial(100), .. })), "{events:?}");
    assert_eq!(s.zone(&origin()).unwrap().digest(), zone(100, 150).digest());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random datagrams and TCP messages to a primary: no panic; undecodable UDP is a 5501.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut p = Node::new(node("p", 1, vec![primary(zone(100, 10), vec![])]), 1, Time::ZERO).unwrap();
        drain(&mut p);
        let peer: SocketAddr = addr(9);
        p.handle_udp(Time::from_millis(1), peer, &bytes);
        let (_, events) = drain(&mut p);
        if Message::from_vec(&bytes).is_err() {
            prop_assert!(events.contains(&EventKind::BadPacket { peer }), "{:?}", events);
        }
        let conn = p.handle_tcp_accepted(Time::from_millis(2), peer);
        p.handle_tcp_message(Time::from_millis(3), conn, &bytes);
        drain(&mut p);
        // Still serving, unchanged.
        let serving = matches!(p.zone_status(&origin()), Some(ZoneStatus::Serving { serial: Serial(100), .. }));
        prop_assert!(serving);
    }

    /// A transfer stream with bytes flipped or cut short: the secondary either installs a
    /// complete zone (the mutation was harmless, e.g. a TTL) or reports 6524/6525/6534 and serves
    /// nothing half-made.
    #[test]
    fn mutated_transfer_never_installs_partial_data(
        which in 0usize..5,
        offset in any::<prop::sample::Index>(),
        value in any::<u8>(),
        truncate in any::<bool>(),
    ) {
        let (mut s, conn, request) = secondary_awaiting_axfr();
        let mut messages = axfr_messages(&request);
        let which = which % messages.len();
        let target = &mut messages[which];
        let at = offset.index(target.len());
        if truncate { target.truncate(at) } else { target[at] = value }
        for m in &messages {
            s.handle_tcp_message(Time::from_millis(60), conn, m);
        }
        s.handle_tcp_closed(Time::from_millis(80), conn);
        let (_, events) = drain(&mut s);
        let installed = events.iter().any(|e| matches!(e, EventKind::ZoneUpdate { .. }));
        // A flipped RCODE can make the answer a refusal (6525): a failure too.
        let failed = events.iter().any(|e| {
            matches!(
                e,
                EventKind::AxfrBadResponse { .. } | EventKind::XfrAbortedByMaster { .. } | EventKind::AxfrRefused { .. }
            )
        });
        prop_assert!(installed != failed, "exactly one outcome: {:?}", events);
        match s.zone_status(&origin()) {
            Some(ZoneStatus::Serving { .. }) => prop_assert!(installed),
            _ => prop_assert!(!installed),
        }
    }
}

#[test]
fn primary_ignores_stale_responses() {
    let mut p = Node::new(node("p", 1, vec![primary(zone(100, 10), vec![addr(2)])]), 1, Time::ZERO).unwrap();
    drain(&mut p);
    // A response nobody asked for (wrong id) is dropped silently; the NOTIFY stays pending.
    let mut stale = Message::new(1, MessageType::Response, OpCode::Notify);
    stale.add_query(question(&origin(), RecordType::SOA));
    p.handle_udp(Time::from_millis(5), addr(2), &stale.to_vec().unwrap());
    let (transmits, events) = drain(&mut p);
    assert!(transmits.is_empty() && events.is_empty());
    assert!(p.poll_timeout().is_some());
    let _ = ip(1);
}

/// Streams that are well-formed DNS but break RFC 5936 §2.2 or the request: each is rejected
/// with the named reason and nothing is installed (R4: all or nothing).
#[test]
fn inconsistent_streams_are_rejected() {
    use xfrsim_engine::BadResponse;
    let other_soa = hk(zone(101, 0).soa_record());
    type StreamBuilder = Box<dyn Fn(&Message) -> Vec<Message>>;
    let cases: Vec<(&str, BadResponse, StreamBuilder)> = vec![
        (
            "closing SOA differs from opening",
            BadResponse::SoaMismatch,
            Box::new(move |req: &Message| {
                let mut m = ok_response(req);
                let zone = zone(100, 3);
                m.add_answers(zone.axfr_records().take(zone.len()).map(hk));
                m.add_answer(other_soa.clone());
                vec![m]
            }),
        ),
        (
            "SOA in the middle",
            BadResponse::DataAfterEnd,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                let records: Vec<_> = zone.axfr_records().map(hk).collect();
                m.add_answers(records[..3].iter().cloned());
                m.add_answer(hk(zone.soa_record()));
                m.add_answers(records[3..].iter().cloned());
                vec![m]
            }),
        ),
        (
            "first record not the SOA",
            BadResponse::FirstNotSoa,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                m.add_answers(zone.axfr_records().skip(1).map(hk));
                vec![m]
            }),
        ),
        (
            "wrong id",
            BadResponse::WrongId,
            Box::new(|req: &Message| {
                let mut m = ok_response(req);
                m.metadata.id = req.metadata.id.wrapping_add(1);
                m.add_answers(zone(100, 3).axfr_records().map(hk));
                vec![m]
            }),
        ),
        (
            "wrong question",
            BadResponse::WrongQuestion,
            Box::new(|req: &Message| {
                let mut m = ok_response(req);
                m.queries[0] = question(&origin(), RecordType::SOA);
                m.add_answers(zone(100, 3).axfr_records().map(hk));
                vec![m]
            }),
        ),
        // An UPDATE-opcode message may carry empty RDATA (RFC 2136 deletes), which hickory
        // decodes as placeholder records: accepting it would install unservable data.
        (
            "opcode UPDATE with empty RDATA",
            BadResponse::Malformed,
            Box::new(|req: &Message| {
                let mut m = ok_response(req);
                m.metadata.op_code = OpCode::Update;
                let soa = hk(zone(100, 3).soa_record());
                let empty = hickory_proto::rr::Record::update0(soa.name.clone(), 0, RecordType::SOA);
                m.add_answers([soa, empty.clone(), empty]);
                vec![m]
            }),
        ),
        (
            "record outside the zone",
            BadResponse::BadZoneData,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                let mut stray = a_rr("x", 1);
                stray.name = hickory_proto::rr::Name::from_ascii("www.example.net.").unwrap();
                m.add_answer(hk(zone.soa_record()));
                m.add_answer(stray);
                m.add_answer(hk(zone.soa_record()));
                vec![m]
            }),
        ),
        // BIND `zone_replacedb` refuses a transferred zone with no NS at its apex.
        (
            "no NS at the apex",
            BadResponse::NoApexNs,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                m.add_answers(zone.axfr_records().filter(|r| r.rtype() != xfrsim_zone::NS).map(hk));
                vec![m]
            }),
        ),
        // RFC 1034 §3.6.2, BIND DNS_R_CNAMEANDOTHER: a CNAME owner holds nothing else.
        (
            "CNAME beside other data",
            BadResponse::CnameAndOtherData,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                let records: Vec<_> = zone.axfr_records().map(hk).collect();
                m.add_answers(records[..records.len() - 1].iter().cloned());
                m.add_answer(a_rr("www", 1));
                m.add_answer(cname_rr("www", "host0.example.com."));
                m.add_answer(records[records.len() - 1].clone());
                vec![m]
            }),
        ),
        // BIND DNS_R_SINGLETON: at most one CNAME per name.
        (
            "two CNAMEs at one name",
            BadResponse::CnameAndOtherData,
            Box::new(|req: &Message| {
                let zone = zone(100, 3);
                let mut m = ok_response(req);
                let records: Vec<_> = zone.axfr_records().map(hk).collect();
                m.add_answers(records[..records.len() - 1].iter().cloned());
                m.add_answer(cname_rr("www", "host0.example.com."));
                m.add_answer(cname_rr("www", "host1.example.com."));
                m.add_answer(records[records.len() - 1].clone());
                vec![m]
            }),
        ),
    ];
    for (what, reason, build) in cases {
        let (mut s, conn, request) = secondary_awaiting_axfr();
        for m in build(&request) {
            s.handle_tcp_message(Time::from_millis(60), conn, &m.to_vec().unwrap());
        }
        let (_, events) = drain(&mut s);
        assert!(
            events.contains(&EventKind::AxfrBadResponse { master: addr(1), reason: reason.clone() }),
            "{what}: expected 6524 {reason:?}, got {events:?}"
        );
        assert!(s.zone(&origin()).is_none(), "{what}: nothing may be installed");
    }
}

fn ok_response(request: &Message) -> Message {
    let mut m = response_to(request, ResponseCode::NoError);
    m.metadata.authoritative = true;
    m
}

fn cname_rr(label: &str, target: &str) -> hickory_proto::rr::Record {
    hickory_proto::rr::Record::from_rdata(
        hickory_proto::rr::Name::from_ascii(format!("{label}.example.com.")).unwrap(),
        300,
        hickory_proto::rr::RData::CNAME(hickory_proto::rr::rdata::CNAME(
            hickory_proto::rr::Name::from_ascii(target).unwrap(),
        )),
    )
}

/// A flood of undecodable datagrams from one source is one 5501 a minute, the rest counted and
/// reported with the next one; another source is reported on its own.
#[test]
fn malformed_packets_are_reported_once_a_minute_per_source() {
    let mut p = Node::new(node("p", 1, vec![primary(zone(100, 10), vec![])]), 1, Time::ZERO).unwrap();
    drain(&mut p);
    let (flooder, other) = (addr(9), addr(8));
    let garbage = [0xffu8; 5];
    for ms in 0..1000 {
        p.handle_udp(Time::from_millis(10 + ms * 10), flooder, &garbage);
    }
    p.handle_udp(Time::from_millis(5_000), other, &garbage);
    let (_, events) = drain(&mut p);
    assert_eq!(
        events,
        vec![EventKind::BadPacket { peer: flooder }, EventKind::BadPacket { peer: other }],
        "one report per source in the first minute"
    );
    p.handle_udp(Time::from_secs(61), flooder, &garbage);
    let (_, events) = drain(&mut p);
    assert_eq!(
        events,
        vec![
            EventKind::BadPacketsSuppressed { source: flooder.ip(), count: 999 },
            EventKind::BadPacket { peer: flooder }
        ]
    );
}
