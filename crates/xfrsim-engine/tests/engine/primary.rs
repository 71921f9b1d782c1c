//! The primary's answers on the wire, checked message by message against RFC 5936 and 1995.
//! Requests are built and answers read with hickory-proto, a second DNS implementation.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use xfrsim_engine::{Acl, Command, EventKind, Node, Time, Transmit};
use xfrsim_zone::{Change, Dname, Serial};

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
/// acknowledging each write with `handle_tcp_sent` as a driver would. Transfers are encoded
/// lazily: at every step exactly one message is queued, and the next one only appears once
/// the previous one is reported written. Returns the messages and the events.
fn tcp_exchange(node: &mut Node, request: &Message) -> (Vec<Message>, Vec<EventKind>) {
    let peer: SocketAddr = addr(CLIENT);
    let conn = node.handle_tcp_accepted(Time::from_millis(1), peer);
    node.handle_tcp_message(Time::from_millis(2), conn, &request.to_vec().unwrap());
    let mut out = Vec::new();
    let mut t = 3;
    loop {
        let queued = node.queued_payload_bytes();
        let mut sent = Vec::new();
        while let Some(transmit) = node.poll_transmit() {
            match transmit {
                Transmit::Send { conn: c, payload } if c == conn => {
                    assert!(payload.len() <= 65_535, "a TCP message fits its 2-byte length");
                    sent.push(payload);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(queued, sent.iter().map(Vec::len).sum::<usize>(), "queued_payload_bytes counts what is queued");
        assert!(sent.len() <= 1, "one message per handle_tcp_sent, not {} at once", sent.len());
        let Some(payload) = sent.pop() else { break };
        out.push(Message::from_vec(&payload).unwrap());
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
    let request = query(4711, &origin(), RecordType::AXFR);
    let (messages, events) = tcp_exchange(&mut p, &request);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m.metadata.id, 4711);
        assert!(m.metadata.authoritative);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        // RFC 5936 §2.2: only the first message needs the question.
        assert_eq!(m.queries.len(), usize::from(i == 0));
    }
    // The stream is cut as BIND cuts it (xfrout.c, transfer-message-size 20480): records are
    // added in zone order until the message's uncompressed size (12-octet header, the question
    // in the first message, and each record's owner, fixed fields and RDATA) reaches 20480; the
    // record that reaches it is the message's last. Computed independently from the records.
    let question = Dname::from_hickory(&origin()).as_wire().len() + 4;
    let mut expected: Vec<usize> = vec![0];
    let mut fill = 12 + question;
    for record in zone.axfr_records() {
        if fill >= TRANSFER_MESSAGE_SIZE {
            expected.push(0);
            fill = 12;
        }
        fill += uncompressed_len(record);
        *expected.last_mut().unwrap() += 1;
    }
    let got: Vec<usize> = messages.iter().map(|m| m.answers.len()).collect();
    assert_eq!(got, expected, "records per message");
    assert!(messages.len() > 50, "a 12,000-host zone takes many 20 KB messages: {}", messages.len());
    for (i, m) in messages.iter().enumerate() {
        let header = 12 + if i == 0 { question } else { 0 };
        let size: usize = header + m.answers.iter().map(|r| uncompressed_len(&zr(r))).sum::<usize>();
        let last = uncompressed_len(&zr(m.answers.last().unwrap()));
        if i + 1 < messages.len() {
            assert!(size >= TRANSFER_MESSAGE_SIZE, "message {i} ({size} octets) ended before the limit");
            assert!(size - last < TRANSFER_MESSAGE_SIZE, "message {i} went on after reaching the limit");
        }
    }
    let records = answers(&messages);
    assert_eq!(records.len(), zone.len() + 1);
    let soa = zone.soa_record().to_string();
    assert_eq!(records.first().map(|r| zr(r).to_string()), Some(soa.clone()));
    assert_eq!(records.last().map(|r| zr(r).to_string()), Some(soa));
    assert_eq!(records.iter().filter(|r| r.record_type() == RecordType::SOA).count(), 2);
    // Rebuilding from the stream gives the same content, byte for byte.
    let rebuilt = xfrsim_zone::Zone::new(origin(), records[..records.len() - 1].iter().map(zr)).unwrap();
    assert_eq!(rebuilt.digest(), zone.digest());
    assert_eq!(rebuilt.to_text(), zone.to_text());
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
    p.handle_tcp_message(Time::from_millis(2), conn, &query(1, &origin(), RecordType::AXFR).to_vec().unwrap());
    assert!(matches!(p.poll_transmit(), Some(Transmit::Send { .. })));
    // Only the first message is encoded before the driver reports it written.
    assert!(p.poll_transmit().is_none(), "the rest of the transfer waits for handle_tcp_sent");
    assert_eq!(p.queued_payload_bytes(), 0);
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
    assert_eq!(current.soa_serial(), Some(Serial(12)));
    let updates: Vec<_> = std::iter::from_fn(|| p.poll_event()).map(|e| e.kind).collect();
    assert_eq!(
        updates,
        vec![EventKind::DynamicUpdate { serial: Serial(11) }, EventKind::DynamicUpdate { serial: Serial(12) }]
    );

    // From 10: current SOA, (old SOA 10, -, SOA 11, +n0), (SOA 11, -, SOA 12, +n1), current SOA.
    let (messages, events) = tcp_exchange(&mut p, &ixfr_query(1, &origin(), &old_soa));
    let records = answers(&messages);
    let serials: Vec<Option<Serial>> = records.iter().map(soa_serial).collect();
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
    // The added records arrive byte for byte (owner, TTL, RDATA).
    assert_eq!(zr(&records[3]).to_string(), a_record("n0", 0).to_string());
    assert_eq!(zr(&records[6]).to_string(), a_record("n1", 1).to_string());
    assert!(matches!(events[0], EventKind::ZoneXfrStart { incremental: true, .. }));

    // Current client: one SOA, no transfer events.
    let (messages, events) = tcp_exchange(&mut p, &ixfr_query(2, &origin(), &current));
    let texts: Vec<String> = answers(&messages).iter().map(|r| zr(r).to_string()).collect();
    assert_eq!(texts, vec![current.to_string()]);
    assert!(events.is_empty());

    // Unknown (older than the journal) serial: AXFR-style, first two records SOA then data.
    let ancient = xfrsim_zone::soa_record(&origin(), 3, 3600, 600, 86400);
    let (messages, events) = tcp_exchange(&mut p, &ixfr_query(3, &origin(), &ancient));
    let records = answers(&messages);
    assert_eq!(records.len(), p.zone(&origin()).unwrap().len() + 1);
    assert_ne!(records[1].record_type(), RecordType::SOA);
    assert!(matches!(events[0], EventKind::ZoneXfrStart { incremental: false, .. }));

    // IXFR without the client's SOA is malformed (BIND: FORMERR).
    let (messages, _) = tcp_exchange(&mut p, &query(4, &origin(), RecordType::IXFR));
    assert_eq!(messages[0].metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn ixfr_over_udp_is_a_single_soa() {
    let mut p = primary_node(zone(10, 5), Acl::Any);
    let old = xfrsim_zone::soa_record(&origin(), 9, 3600, 600, 86400);
    p.handle_udp(Time::from_millis(1), addr(CLIENT), &ixfr_query(5, &origin(), &old).to_vec().unwrap());
    let Some(Transmit::Udp { to, payload, .. }) = p.poll_transmit() else { panic!("UDP answer expected") };
    assert_eq!(to, addr(CLIENT));
    let reply = Message::from_vec(&payload).unwrap();
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(soa_serial(&reply.answers[0]), Some(Serial(10)));
}

#[test]
fn transfer_requests_refused_or_notauth() {
    let mut p = primary_node(zone(10, 5), Acl::hosts([ip(3)]));
    let (messages, events) = tcp_exchange(&mut p, &query(1, &origin(), RecordType::AXFR));
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].metadata.response_code, ResponseCode::Refused);
    // The denial is logged once, naming the client (BIND: "zone transfer ... denied").
    assert_eq!(events, vec![EventKind::TransferDenied { client: addr(CLIENT) }]);

    let elsewhere = Name::from_ascii("example.org.").unwrap();
    let (messages, events) = tcp_exchange(&mut p, &query(2, &elsewhere, RecordType::AXFR));
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
            Change::Add(zr(&hickory_proto::rr::Record::from_rdata(
                Name::from_ascii("big.example.com.").unwrap(),
                300,
                hickory_proto::rr::RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![format!(
                    "value {i:03} padding"
                )])),
            )))
        })
        .collect();
    history.update(&big).unwrap();
    zone = history.into_zone();
    let mut p = primary_node(zone, Acl::Any);
    let query = query(9, &Name::from_ascii("big.example.com.").unwrap(), RecordType::TXT);
    p.handle_udp(Time::from_millis(1), addr(CLIENT), &query.to_vec().unwrap());
    let Some(Transmit::Udp { payload, .. }) = p.poll_transmit() else { panic!() };
    assert!(payload.len() <= 512);
    let reply = Message::from_vec(&payload).unwrap();
    assert!(reply.metadata.truncation, "TC set when the answer does not fit");
    // Over TCP the full answer comes back.
    let (messages, _) = tcp_exchange(&mut p, &query);
    assert_eq!(messages[0].answers.len(), 40);
}

/// ACL entries are prefixes, as BIND's address match lists: a lone address is all its bits,
/// a network must have its host bits clear, and families never match each other.
#[test]
fn acl_prefixes_match_as_address_match_lists_do() {
    use std::net::IpAddr;
    use xfrsim_engine::Prefix;
    let addr = |text: &str| text.parse::<IpAddr>().unwrap();
    let acl = Acl::Only(["127.0.0.0/8", "2001:db8::/32", "192.0.2.7"].map(|p| p.parse::<Prefix>().unwrap()).to_vec());
    for (ip, allowed) in [
        ("127.0.0.1", true),
        ("127.255.255.255", true),
        ("128.0.0.1", false),
        ("192.0.2.7", true),
        ("192.0.2.8", false),
        ("2001:db8:1::53", true),
        ("2001:db9::1", false),
        ("::ffff:127.0.0.1", false),
    ] {
        assert_eq!(acl.allows(addr(ip)), allowed, "{ip}");
    }
    for bad in ["10.0.0.1/8", "10.0.0.0/33", "2001:db8::/129", "example", "10.0.0.0/"] {
        assert!(bad.parse::<Prefix>().is_err(), "{bad}");
    }
    assert!("0.0.0.0/0".parse::<Prefix>().unwrap().contains(addr("203.0.113.9")));
}

/// RFC 2308 §3: the SOA in a negative answer (NXDOMAIN or NODATA) carries the smaller of the
/// SOA's own TTL and its MINIMUM field, as BIND sends it, so resolvers cache the denial no longer
/// than the zone says.
#[test]
fn negative_answers_carry_the_soa_at_min_of_ttl_and_minimum() {
    let zone = zone(10, 1);
    let (soa_ttl, minimum) = (zone.soa_record().ttl(), zone.soa().minimum);
    assert_ne!(soa_ttl, minimum, "the fixture must tell the two apart");
    let mut p = primary_node(zone, Acl::Any);
    let cases = [
        (Name::from_ascii("nothere.example.com.").unwrap(), RecordType::A, ResponseCode::NXDomain),
        (Name::from_ascii("host0.example.com.").unwrap(), RecordType::MX, ResponseCode::NoError),
    ];
    for (id, (name, qtype, rcode)) in (20u16..).zip(cases) {
        p.handle_udp(Time::from_millis(1), addr(CLIENT), &query(id, &name, qtype).to_vec().unwrap());
        let Some(Transmit::Udp { payload, .. }) = p.poll_transmit() else { panic!("no answer") };
        let reply = Message::from_vec(&payload).unwrap();
        assert_eq!(reply.metadata.response_code, rcode, "{name}");
        assert!(reply.answers.is_empty(), "{name}");
        let [soa] = reply.authorities.as_slice() else { panic!("one SOA in authority: {reply:?}") };
        assert_eq!(soa.ttl, soa_ttl.min(minimum), "{name}");
    }
}

/// A NOTIFY (RFC 1996 §3.7) and an UPDATE's zone section (RFC 2136 §3.1.1) hold one question,
/// of type SOA; any other is answered FORMERR, while the SOA form is accepted.
#[test]
fn notify_and_update_need_one_soa_question() {
    let mut p = primary_node(zone(10, 0), Acl::Any);
    // Well formed, a NOTIFY to a primary is acknowledged and an UPDATE refused (no update ACL).
    let cases = [
        (30u16, hickory_proto::op::OpCode::Notify, ResponseCode::NoError),
        (31, hickory_proto::op::OpCode::Update, ResponseCode::Refused),
    ];
    for (id, op_code, well_formed) in cases {
        for (qtype, rcode) in [(RecordType::A, ResponseCode::FormErr), (RecordType::SOA, well_formed)] {
            let mut request = query(id, &origin(), qtype);
            request.metadata.op_code = op_code;
            p.handle_udp(Time::from_millis(1), addr(CLIENT), &request.to_vec().unwrap());
            let Some(Transmit::Udp { payload, .. }) = p.poll_transmit() else { panic!("no answer") };
            let reply = Message::from_vec(&payload).unwrap();
            assert_eq!(reply.metadata.response_code, rcode, "{op_code:?} with {qtype:?}");
        }
    }
}
