//! The driver on real tokio sockets over loopback: the same engine and loop as in simulation,
//! with wall-clock time. A primary answers SOA over UDP and AXFR over TCP, and a secondary on
//! another port pulls the zone from it.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xfrsim_driver::{NodeSlot, Tokio, WallClock};
use xfrsim_engine::{Behaviour, EventKind, Node, NodeConfig, Profile, Time, Unreachable, ZoneConfig, ZoneStatus, wire};
use xfrsim_zone::{Zone, ZoneRecord, soa_record};

fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

fn zone(hosts: u8) -> Zone {
    let origin = origin();
    let ns = Name::from_ascii("ns1.example.test.").unwrap();
    let mut records = vec![
        soa_record(&origin, 42, 3600, 600, 86_400),
        ZoneRecord::from_hickory(&Record::from_rdata(origin.clone(), 3600, RData::NS(NS(ns)))).unwrap(),
    ];
    for i in 0..hosts {
        let name = Name::from_ascii(format!("h{i}.example.test.")).unwrap();
        records.push(ZoneRecord::from_hickory(&Record::from_rdata(name, 60, RData::A(A::new(192, 0, 2, i)))).unwrap());
    }
    Zone::new(origin, records).unwrap()
}

/// A free loopback port for both UDP and TCP (asked of the OS, then released).
fn free_port() -> SocketAddr {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        if std::net::UdpSocket::bind(addr).is_ok() {
            return addr;
        }
    }
}

type Events = Rc<RefCell<Vec<EventKind>>>;

/// A node listening on `listen` with default timeouts.
fn config(name: &str, listen: SocketAddr, zones: Vec<ZoneConfig>) -> NodeConfig {
    NodeConfig { name: name.into(), addresses: vec![listen], zones, behaviour: Behaviour::of(Profile::Bind) }
}

fn start(config: NodeConfig, listen: SocketAddr) -> (Rc<NodeSlot>, Events) {
    let events: Events = Rc::default();
    let sink = events.clone();
    let node = Node::new(config, 7, Time::ZERO).unwrap();
    let slot = NodeSlot::new(Some(node), Box::new(move |e| sink.borrow_mut().push(e.kind.clone())));
    let running = slot.clone();
    tokio::task::spawn_local(async move {
        xfrsim_driver::run::<Tokio, WallClock>(running, vec![listen], WallClock::start()).await.expect("driver runs");
    });
    (slot, events)
}

fn run_local<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f);
}

#[test]
fn primary_answers_soa_and_axfr_on_real_sockets() {
    run_local(async {
        let listen = free_port();
        let config = config("p", listen, vec![ZoneConfig::primary(origin(), zone(20))]);
        let (_slot, events) = start(config, listen);
        tokio::task::yield_now().await;

        // SOA over UDP.
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        udp.send_to(&wire::query(0x5151, &origin(), u16::from(RecordType::SOA)), listen).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, _) =
            tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf)).await.expect("SOA answered").unwrap();
        let answer = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(answer.metadata.id, 0x5151);
        assert!(answer.metadata.authoritative);
        assert_eq!(answer.answers.len(), 1);
        match &answer.answers[0].data {
            RData::SOA(soa) => assert_eq!(soa.serial, 42),
            other => panic!("not an SOA: {other:?}"),
        }

        // AXFR over TCP, 2-byte framed (RFC 1035 §4.2.2).
        let mut tcp = tokio::net::TcpStream::connect(listen).await.unwrap();
        let query = wire::query(0x6161, &origin(), u16::from(RecordType::AXFR));
        tcp.write_all(&(query.len() as u16).to_be_bytes()).await.unwrap();
        tcp.write_all(&query).await.unwrap();
        let mut records = Vec::new();
        while records.iter().filter(|r: &&Record| r.record_type() == RecordType::SOA).count() < 2 {
            let len =
                tokio::time::timeout(Duration::from_secs(5), tcp.read_u16()).await.expect("AXFR streamed").unwrap();
            let mut message = vec![0u8; usize::from(len)];
            tcp.read_exact(&mut message).await.unwrap();
            let message = Message::from_vec(&message).unwrap();
            assert_eq!(message.metadata.response_code, ResponseCode::NoError);
            records.extend(message.answers);
        }
        assert_eq!(records.len(), zone(20).len() + 1);
        drop(tcp);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let seen = events.borrow();
        assert!(seen.iter().any(|e| matches!(e, EventKind::ZoneXfrStart { .. })), "{seen:?}");
        assert!(seen.iter().any(|e| matches!(e, EventKind::ZoneXfrSuccessful { .. })), "{seen:?}");
    });
}

#[test]
fn secondary_pulls_from_primary_on_loopback() {
    run_local(async {
        let (p_addr, s_addr) = (free_port(), free_port());
        let mut primary = ZoneConfig::primary(origin(), zone(50));
        primary.notify = vec![s_addr];
        let (p_slot, _) = start(config("p", p_addr, vec![primary]), p_addr);
        let (s_slot, s_events) =
            start(config("s", s_addr, vec![ZoneConfig::secondary(origin(), vec![p_addr])]), s_addr);
        let status = |slot: &NodeSlot| slot.node.borrow().as_ref().and_then(|n| n.zone_status(&origin()));
        let serving = async {
            while !matches!(status(&s_slot), Some(ZoneStatus::Serving { .. })) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), serving).await.is_err() {
            panic!("no transfer within 10 s: {:?}", s_events.borrow());
        }
        assert_eq!(status(&s_slot), status(&p_slot), "same serial and digest");
        // Same IP, different port: not a self-send (7062).
        assert!(!s_events.borrow().iter().any(|e| matches!(e, EventKind::SelfSend { .. })));
        assert!(
            s_events.borrow().iter().any(|e| matches!(e, EventKind::ZoneUpdate { master, .. } if *master == p_addr))
        );
    });
}

#[test]
fn master_port_with_nothing_listening_is_refused_at_once() {
    run_local(async {
        // A loopback port nobody listens on: the kernel answers the SOA query with ICMP port
        // unreachable, which the query's connected socket reports as ECONNREFUSED.
        let (dead_master, s_addr) = (free_port(), free_port());
        let (_slot, events) =
            start(config("s", s_addr, vec![ZoneConfig::secondary(origin(), vec![dead_master])]), s_addr);
        let refused = || {
            events.borrow().iter().any(|e| {
                matches!(e, EventKind::XfrMasterUnavailable { master, reason: Unreachable::ConnectionRefused }
                    if *master == dead_master)
            })
        };
        // Well under one UDP query timeout (5 s): no waiting for silence.
        let waited = tokio::time::timeout(Duration::from_secs(2), async {
            while !refused() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "no refused 6523 within 2 s: {:?}", events.borrow());
        assert!(
            !events
                .borrow()
                .iter()
                .any(|e| matches!(e, EventKind::XfrMasterUnavailable { reason: Unreachable::Timeout, .. })),
            "{:?}",
            events.borrow()
        );
    });
}
