//! The primary's answers on the wire, checked message by message against RFC 5936 and 1995.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use xfrsim_engine::{Acl, Command, EventKind, Node, Time, Transmit, wire};
use xfrsim_zone::{Change, Serial};

use crate::net::{addr, ip};
use crate::support::*;

const CLIENT: u8 = 2;

fn primary_node(zone: xfrsim_zone::Zone, acl: Acl) -> Node {
    let mut config = primary(zone, vec![]);
    config.allow_transfer = acl;
    let mut node = Node::new(node("p", 1, vec![config]), 1, Time::ZERO).unwrap();
    while node.poll_transmit().is_some() {}
    node
}

/// Sends `request` on a fresh TCP connection and collects every message the primary writes,
/// acknowledging each write as a driver would. Returns the messages and the events.
fn tcp_exchange(node: &mut Node, request: &Message) -> (Vec<Message>, Vec<EventKind>) {
    let peer: SocketAddr = addr(CLIENT);
    let conn = node.handle_tcp_accepted(Time::from_millis(1), peer);
    node.handle_tcp_message(Time::from_millis(2), conn, &request.to_vec().unwrap());
    let mut out = Vec::new();
    let mut t = 3;
    loop {
        let mut sent_any = false;
        while let Some(transmit) = node.poll_transmit() {
            match transmit {
                Transmit::Send { conn: c, payload } if c == conn => {
                    assert!(payload.len() <= 65_535, "a TCP message fits its 2-byte length");
                    out.push(Message::from_vec(&payload).unwrap());
                    sent_any = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        if !sent_any {
            break;
        }
        t += 1;
        node.handle_tcp_sent(Time::from_millis(t), conn);
    }
    let mut events = Vec::new();
    while let Some(e) = node.poll_event() {
        events.push(e.kind);
    }
    (out, events)
}

fn answers(messages: &[Message]) -> Vec<hickory_proto::rr::Record> {
    messages.iter().flat_map(|m| m.answers.iter().cloned()).collect()
}

#[test]
fn axfr_spans_several_messages_soa_first_and_last() {
    let zone = zone(7, 12_000);
    let mut p = primary_node(zone.clone(), Acl::Any);
    let request = wire::query(4711, &origin(), RecordType::AXFR);
    let (messages, events) = tcp_exchange(&mut p, &request);
    assert!(messages.len() >= 3, "{} messages", messages.len());
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.metadata.id, 4711);
        assert!(m.metadata.authoritative);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        // RFC 5936 §2.2: only the first message needs the question.
        assert_eq!(m.queries.len(), usize::from(i == 0));
    }
    let records = answers(&messages);
    assert_eq!(records.len(), zone.len() + 1);
    assert_eq!(records.first(), Some(zone.soa_record()));
    assert_eq!(records.last(), Some(zone.soa_record()));
    assert_eq!(records.iter().filter(|r| r.record_type() == RecordType::SOA).count(), 2);
    // Rebuilding from the stream gives the same content.
    let rebuilt = xfrsim_zone::Zone::new(origin(), records[..records.len() - 1].iter().cloned()).unwrap();
    assert_eq!(rebuilt.digest(), zone.digest());
    assert_eq!(
        events,
        vec![
            EventKind::ZoneXfrStart { serial: Serial(7), secondary: addr(CLIENT), incremental: false },
            EventKind::ZoneXfrSuccessful { serial: Serial(7), secondary: addr(CLIENT), records: zone.len() + 1 },
        ]
    );
}

#[test]
fn secondary_closing_mid_transfer_is_6002() {
    let mut p = primary_node(zone(7, 12_000), Acl::Any);
    let conn = p.handle_tcp_accepted(Time::from_millis(1), addr(CLIENT));
    p.handle_tcp_message(Time::from_millis(2), conn, &wire::query(1, &origin(), RecordType::AXFR).to_vec().unwrap());
    assert!(matches!(p.poll_transmit(), Some(Transmit::Send { .. })));
    p.handle_tcp_closed(Time::from_millis(3), conn);
    let events: Vec<_> = std::iter::from_fn(|| p.poll_event()).map(|e| e.kind).collect();
    assert_eq!(events.last(), Some(&EventKind::ZoneXfrAborted { serial: Serial(7), secondary: addr(CLIENT) }));
    // Nothing more is sent for a closed connection.
    p.handle_tcp_sent(Time::from_millis(4), conn);
    assert!(p.poll_transmit().is_none());
}

#[test]
fn ixfr_answers_incremental_current_or_axfr_style() {
    let mut p = primary_node(zone(10, 50), Acl::Any);
    let old_soa = p.zone(&origin()).unwrap().soa_record().clone();
    for i in 0..2u8 {
        p.handle_command(
            Time::from_millis(1),
            Command::Update { zone: origin(), changes: vec![Change::Add(a_record(&format!("n{i}"), i))] },
        )
        .unwrap();
    }
    let current = p.zone(&origin()).unwrap().soa_record().clone();
    assert_eq!(wire::soa_serial(&current), Some(Serial(12)));
    let updates: Vec<_> = std::iter::from_fn(|| p.poll_event()).map(|e| e.kind).collect();
    assert_eq!(
        updates,
        vec![EventKind::DynamicUpdate { serial: Serial(11) }, EventKind::DynamicUpdate { serial: Serial(12) }]
    );

    // From 10: current SOA, (old SOA 10, -, SOA 11, +n0), (SOA 11, -, SOA 12, +n1), current SOA.
    let (messages, events) = tcp_exchange(&mut p, &wire::ixfr_query(1, &origin(), &old_soa));
    let records = answers(&messages);
    let serials: Vec<Option<Serial>> = records.iter().map(wire::soa_serial).collect();
    assert_eq!(
        serials,
        vec![
            Some(Serial(12)),
            Some(Serial(10)),
            Some(Serial(11)),
            None,
            Some(Serial(11)),
            Some(Serial(12)),
            None,
            Some(Serial(12))
        ]
    );
    assert!(matches!(events[0], EventKind::ZoneXfrStart { incremental: true, .. }));

    // Current client: one SOA, no transfer events.
    let (messages, events) = tcp_exchange(&mut p, &wire::ixfr_query(2, &origin(), &current));
    assert_eq!(answers(&messages), vec![current.clone()]);
    assert!(events.is_empty());

    // Unknown (older than the journal) serial: AXFR-style, first two records SOA then data.
    let ancient = xfrsim_zone::soa_record(&origin(), 3, 3600, 600, 86400);
    let (messages, events) = tcp_exchange(&mut p, &wire::ixfr_query(3, &origin(), &ancient));
    let records = answers(&messages);
    assert_eq!(records.len(), p.zone(&origin()).unwrap().len() + 1);
    assert_ne!(records[1].record_type(), RecordType::SOA);
    assert!(matches!(events[0], EventKind::ZoneXfrStart { incremental: false, .. }));

    // IXFR without the client's SOA is malformed (BIND: FORMERR).
    let (messages, _) = tcp_exchange(&mut p, &wire::query(4, &origin(), RecordType::IXFR));
    assert_eq!(messages[0].metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn ixfr_over_udp_is_a_single_soa() {
    let mut p = primary_node(zone(10, 5), Acl::Any);
    let old = xfrsim_zone::soa_record(&origin(), 9, 3600, 600, 86400);
    p.handle_udp(Time::from_millis(1), addr(CLIENT), &wire::ixfr_query(5, &origin(), &old).to_vec().unwrap());
    let Some(Transmit::Udp { to, payload }) = p.poll_transmit() else { panic!("UDP answer expected") };
    assert_eq!(to, addr(CLIENT));
    let reply = Message::from_vec(&payload).unwrap();
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(wire::soa_serial(&reply.answers[0]), Some(Serial(10)));
}

#[test]
fn transfer_requests_refused_or_notauth() {
    let mut p = primary_node(zone(10, 5), Acl::Only(vec![ip(3)]));
    let (messages, events) = tcp_exchange(&mut p, &wire::query(1, &origin(), RecordType::AXFR));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].metadata.response_code, ResponseCode::Refused);
    assert!(events.is_empty(), "{events:?}");

    let elsewhere = Name::from_ascii("example.org.").unwrap();
    let (messages, events) = tcp_exchange(&mut p, &wire::query(2, &elsewhere, RecordType::AXFR));
    assert_eq!(messages[0].metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(events, vec![EventKind::BadZoneTransferRequest { client: addr(CLIENT) }]);
}

#[test]
fn udp_answers_respect_the_512_byte_limit() {
    // 40 TXT records at one name make an answer well over 512 bytes.
    let mut zone = zone(10, 0);
    let mut history = xfrsim_zone::ZoneHistory::new(zone.clone(), 10);
    let big: Vec<Change> = (0..40)
        .map(|i| {
            Change::Add(hickory_proto::rr::Record::from_rdata(
                Name::from_ascii("big.example.com.").unwrap(),
                300,
                hickory_proto::rr::RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![format!(
                    "value {i:03} padding"
                )])),
            ))
        })
        .collect();
    history.update(&big).unwrap();
    zone = history.into_zone();
    let mut p = primary_node(zone, Acl::Any);
    let query = wire::query(9, &Name::from_ascii("big.example.com.").unwrap(), RecordType::TXT);
    p.handle_udp(Time::from_millis(1), addr(CLIENT), &query.to_vec().unwrap());
    let Some(Transmit::Udp { payload, .. }) = p.poll_transmit() else { panic!() };
    assert!(payload.len() <= 512);
    let reply = Message::from_vec(&payload).unwrap();
    assert!(reply.metadata.truncation, "TC set when the answer does not fit");
    // Over TCP the full answer comes back.
    let (messages, _) = tcp_exchange(&mut p, &query);
    assert_eq!(messages[0].answers.len(), 40);
}
