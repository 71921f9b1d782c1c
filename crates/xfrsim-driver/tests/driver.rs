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
use xfrsim_engine::{
    Behaviour, EventKind, Node, NodeConfig, Profile, TcpClients, Time, Unreachable, ZoneConfig, ZoneStatus, wire,
};
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

/// A TCP connection whose receive buffer is small, so a client that never reads fills it fast
/// and the server's writes stall as they would behind a slow or hostile client on the Internet.
async fn connect_small_window(to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(to).await.unwrap()
}

fn framed(id: u16, qtype: RecordType) -> Vec<u8> {
    let query = wire::query(id, &origin(), u16::from(qtype));
    let mut frame = (query.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(&query);
    frame
}

/// Writes `count` pipelined SOA queries without ever reading; returns how many frames were
/// written before the writes stalled for `stall` (or all of them).
async fn pipeline_without_reading(tcp: &mut tokio::net::TcpStream, count: usize, stall: Duration) -> usize {
    let mut written = 0;
    while written < count {
        let batch: Vec<u8> =
            (written..count.min(written + 500)).flat_map(|i| framed(i as u16, RecordType::SOA)).collect();
        match tokio::time::timeout(stall, tcp.write_all(&batch)).await {
            Ok(Ok(())) => written = count.min(written + 500),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    written
}

fn pipelining_is_bounded(profile: Profile) {
    run_local(async move {
        let listen = free_port();
        let mut config = config("p", listen, vec![ZoneConfig::primary(origin(), zone(3))]);
        config.behaviour = Behaviour::of(profile);
        // An idle close in seconds rather than BIND's 30 s keeps the test short; the stall it
        // closes is the same.
        config.behaviour.timeouts.tcp_server_idle = Duration::from_secs(2);
        let limit = config.behaviour.tcp_pipelined as usize;
        let (slot, _events) = start(config, listen);
        tokio::task::yield_now().await;

        let mut tcp = connect_small_window(listen).await;
        let sent = 100_000;
        let written = pipeline_without_reading(&mut tcp, sent, Duration::from_millis(500)).await;
        let stats = &slot.stats;
        // Backpressure: the node stopped reading once its answers were not being read; what
        // it took is what the kernel's windows let through, not the 100,000 queries.
        let read = stats.messages_read.get();
        assert!(read < 5_000, "{profile}: read {read} of {written} queries written");
        assert!(stats.max_in_progress.get() <= limit, "{profile}: {} in progress", stats.max_in_progress.get());
        let unwritten = stats.max_unwritten_bytes.get();
        assert!(unwritten <= xfrsim_driver::MAX_UNWRITTEN_BYTES + 512, "{profile}: {unwritten} bytes queued");
        let queued = slot.with(|n| n.queued_payload_bytes()).unwrap();
        assert!(queued <= 512 * limit, "{profile}: node holds {queued} bytes");
        // Nothing read and nothing written: the idle timer closes the connection.
        let closed = tokio::time::timeout(Duration::from_secs(6), async {
            while stats.tcp_clients.get() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(closed.is_ok(), "{profile}: the stalled connection was never closed");
    });
}

#[test]
fn a_client_pipelining_without_reading_is_not_buffered_bind() {
    pipelining_is_bounded(Profile::Bind);
}

#[test]
fn a_client_pipelining_without_reading_is_not_buffered_nsd() {
    pipelining_is_bounded(Profile::Nsd);
}

#[test]
fn pipelined_queries_are_all_answered_in_order_when_read() {
    run_local(async {
        let listen = free_port();
        let (_slot, _events) = start(config("p", listen, vec![ZoneConfig::primary(origin(), zone(3))]), listen);
        tokio::task::yield_now().await;
        let mut tcp = tokio::net::TcpStream::connect(listen).await.unwrap();
        let (mut reader, mut writer) = tcp.split();
        let count = 2_000u16;
        let write = async {
            let all: Vec<u8> = (0..count).flat_map(|i| framed(i, RecordType::SOA)).collect();
            writer.write_all(&all).await.unwrap();
        };
        let read = async {
            for expected in 0..count {
                let len = reader.read_u16().await.unwrap();
                let mut message = vec![0u8; usize::from(len)];
                reader.read_exact(&mut message).await.unwrap();
                assert_eq!(Message::from_vec(&message).unwrap().metadata.id, expected);
            }
        };
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(write, read) })
            .await
            .expect("every pipelined query answered");
    });
}

#[test]
fn tcp_clients_past_the_limit_wait_for_a_free_slot() {
    run_local(async {
        let listen = free_port();
        let mut config = config("p", listen, vec![ZoneConfig::primary(origin(), zone(3))]);
        config.behaviour.tcp_clients = TcpClients::Fixed(3);
        let (slot, _events) = start(config, listen);
        tokio::task::yield_now().await;
        let mut clients = Vec::new();
        for i in 0..6u16 {
            let mut tcp = tokio::net::TcpStream::connect(listen).await.unwrap();
            tcp.write_all(&framed(i, RecordType::SOA)).await.unwrap();
            clients.push(tcp);
        }
        async fn answered(tcp: &mut tokio::net::TcpStream, within: Duration) -> bool {
            tokio::time::timeout(within, tcp.read_u16()).await.is_ok_and(|r| r.is_ok())
        }
        let mut served = 0;
        let mut waiting = Vec::new();
        for mut tcp in clients {
            if answered(&mut tcp, Duration::from_millis(300)).await {
                served += 1;
                // Still open: it keeps its slot.
                waiting.push((true, tcp));
            } else {
                waiting.push((false, tcp));
            }
        }
        assert_eq!(served, 3, "three slots, three answered");
        assert_eq!(slot.stats.max_tcp_clients.get(), 3);
        // Closing one served client lets one waiting connection in.
        let index = waiting.iter().position(|(served, _)| *served).unwrap();
        drop(waiting.remove(index));
        let mut newly = 0;
        for (was_served, tcp) in &mut waiting {
            if !*was_served && answered(tcp, Duration::from_millis(1_000)).await {
                newly += 1;
            }
        }
        assert_eq!(newly, 1, "one slot freed, one more client served");
        assert_eq!(slot.stats.max_tcp_clients.get(), 3);
    });
}

/// The child half of [`timers_fire_on_time_at_the_fd_limit`]: runs only when that test starts
/// this binary again, under a low descriptor limit.
#[test]
fn fd_limit_child() {
    let Ok(listen) = std::env::var("XFRSIM_FD_CHILD_LISTEN") else { return };
    let listen: SocketAddr = listen.parse().unwrap();
    let dead_master: SocketAddr = std::env::var("XFRSIM_FD_CHILD_MASTER").unwrap().parse().unwrap();
    run_local(async move {
        // A secondary whose last good copy (restored from disk) expires 4 s from start; its
        // only master is gone. With REFRESH 2 s, RETRY 1 s, EXPIRE 4 s and the profile's
        // minimums lowered, the whole life of the zone fits in seconds of wall time.
        let origin = origin();
        let copy = Zone::new(origin.clone(), {
            let soa = soa_record(&origin, 42, 2, 1, 4);
            let mut records: Vec<ZoneRecord> =
                zone(3).records().filter(|r| r.rtype() != soa.rtype()).cloned().collect();
            records.push(soa);
            records
        })
        .unwrap();
        let mut zone_config = ZoneConfig::secondary(origin.clone(), vec![dead_master]);
        zone_config.role =
            xfrsim_engine::Role::Secondary { masters: vec![dead_master], restored: Some((copy, Time::from_secs(4))) };
        let mut config = config("s", listen, vec![zone_config]);
        config.behaviour.min_refresh = Duration::from_secs(1);
        config.behaviour.min_retry = Duration::from_secs(1);
        // The flood must outnumber the descriptors: a listen queue as short as BIND's 10 would
        // keep most of it in the clients' SYN retries instead of in the kernel's accept queue.
        config.behaviour.tcp_listen_queue = 1024;
        let expired_at: Rc<RefCell<Option<Time>>> = Rc::default();
        let seen = expired_at.clone();
        let node = Node::new(config, 7, Time::ZERO).unwrap();
        let slot = NodeSlot::new(
            Some(node),
            Box::new(move |e| {
                if matches!(e.kind, EventKind::ZoneExpiration) {
                    *seen.borrow_mut() = Some(e.at);
                }
            }),
        );
        let running = slot.clone();
        let clock = WallClock::start();
        tokio::task::spawn_local(async move {
            xfrsim_driver::run::<Tokio, WallClock>(running, vec![listen], clock).await.expect("driver runs");
        });
        println!("CHILD_LISTENING");
        tokio::time::sleep(Duration::from_secs(6)).await;
        let accept_errors = slot.stats.accept_errors.get();
        let expired_ms = expired_at.borrow().map_or(u64::MAX, Time::as_millis);
        println!("CHILD_RESULT expired_at_ms={expired_ms} accept_errors={accept_errors}");
        // The parent reads this process's CPU time now (no descriptor is left here to do it).
        std::thread::sleep(Duration::from_secs(1));
    });
}

/// User plus system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// At its descriptor limit a node keeps its timers: a flood of TCP connections makes every
/// further `accept` fail with EMFILE, and the zone still expires on time while the node idles
/// instead of spinning on the failing `accept`.
#[test]
fn timers_fire_on_time_at_the_fd_limit() {
    use std::io::BufRead as _;
    let (listen, dead_master) = (free_port(), free_port());
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 48 && exec "$0" --exact fd_limit_child --nocapture --test-threads 1"#)
        .arg(&exe)
        .env("XFRSIM_FD_CHILD_LISTEN", listen.to_string())
        .env("XFRSIM_FD_CHILD_MASTER", dead_master.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("CHILD_LISTENING") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child ended before listening");
    }
    let cpu_start = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_millis(100));
    // Far more connections than the child has descriptors; kept open for the whole run.
    let flood: Vec<std::net::TcpStream> = (0..150).filter_map(|_| std::net::TcpStream::connect(listen).ok()).collect();
    assert!(flood.len() > 48, "the kernel queued {} connections", flood.len());
    while !line.starts_with("CHILD_RESULT") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child ended without a result");
    }
    let cpu = cpu_ticks(child.id()) - cpu_start;
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed after: {line}");
    let field = |name: &str| -> u64 {
        line.split_whitespace().find_map(|f| f.strip_prefix(&format!("{name}="))).unwrap().parse().unwrap()
    };
    let expired_ms = field("expired_at_ms");
    assert!((4_000..4_500).contains(&expired_ms), "expired at {expired_ms} ms, not at 4 s: {line}");
    assert!(field("accept_errors") > 0, "the descriptor limit was never reached: {line}");
    // Six seconds of wall time: a node spinning on `accept` burns ~600 ticks (at 100 Hz).
    assert!(cpu < 150, "the node spun: {cpu} CPU ticks in 6 s ({line})");
    drop(flood);
}
