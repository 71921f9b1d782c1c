//! The network through its public API, as the simulator drives it: each host's process is a
//! tokio `LocalSet`, polled with the network entered for that host whenever one of its tasks
//! was woken; time jumps to `next_due()` and nowhere else.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xfrsim_engine::Time;
use xfrsim_net::{Network, Processes, TcpListener, TcpStream, UdpSocket};

/// A completed task's value and the simulated time it completed at.
type Outcome<T> = Rc<RefCell<Option<(Time, T)>>>;

struct Sim {
    net: Network,
    processes: Processes,
    clock: Rc<Cell<Time>>,
    /// Instants time stopped at.
    instants: u64,
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Sim {
    /// Hosts of the given addresses, every link `latency` one way.
    fn new(hosts: &[Vec<IpAddr>], latency: Duration) -> Sim {
        let net = Network::new(hosts, 7, (latency, latency));
        Sim {
            processes: Processes::new(net.clone(), hosts.len()),
            net,
            clock: Rc::new(Cell::new(Time::ZERO)),
            instants: 0,
        }
    }

    fn now(&self) -> Time {
        self.clock.get()
    }

    /// Starts a task on `host`; its value lands in the outcome with the time it completed.
    fn spawn<T: 'static>(&mut self, host: usize, task: impl Future<Output = T> + 'static) -> Outcome<T> {
        let out: Outcome<T> = Rc::new(RefCell::new(None));
        let (slot, clock) = (out.clone(), self.clock.clone());
        self.processes.spawn(host, async move {
            let value = task.await;
            *slot.borrow_mut() = Some((clock.get(), value));
        });
        out
    }

    /// Polls every woken host, with the network entered for it, until none is woken.
    fn poll(&mut self) {
        self.processes.poll(&mut Vec::new());
    }

    /// Runs until nothing is due before `until`, then sets the clock to `until`. Every instant
    /// it stops at must have had something due (no busy instants) and lie ahead.
    fn run_until(&mut self, until: Time) {
        loop {
            self.poll();
            let Some(at) = self.net.next_due().filter(|at| *at <= until) else { break };
            assert!(at > self.now(), "next_due {at} is not after {}", self.now());
            self.clock.set(at);
            assert!(self.net.advance(at), "an instant at {at} with nothing due");
            self.instants += 1;
        }
        if until > self.now() {
            self.clock.set(until);
            self.net.advance(until);
        }
    }
}

/// A finished task's time and value (taken out).
fn take<T>(outcome: &Outcome<T>) -> (Time, T) {
    outcome.borrow_mut().take().expect("the task finished")
}

/// When a task finished.
fn finished<T>(outcome: &Outcome<T>) -> Time {
    outcome.borrow().as_ref().expect("the task finished").0
}

fn kind<T>(result: &io::Result<T>) -> Option<io::ErrorKind> {
    result.as_ref().err().map(io::Error::kind)
}

/// A SYN to a port nobody listens on is answered by a RST (net/ipv4/tcp_ipv4.c `tcp_v4_rcv`,
/// `tcp_v4_send_reset`), and connect() fails with ECONNREFUSED one round trip later
/// (net/ipv4/tcp_input.c `tcp_reset`), never after SYN retries.
#[test]
fn a_closed_tcp_port_refuses_after_one_round_trip() {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    let server = SocketAddr::new(ip(2), 53);
    let connect = sim.spawn(0, async move { TcpStream::connect(server, None).await.map(|_| ()) });
    sim.run_until(Time::from_secs(200));
    let (at, result) = take(&connect);
    assert_eq!(kind(&result), Some(io::ErrorKind::ConnectionRefused));
    assert_eq!(at, Time::from_millis(20));
    assert_eq!(sim.net.stats().packets, 2, "one SYN, one RST, no retransmission");
}

/// Host 0 sends a query to `to` from a UDP socket connected to it, and waits for an answer.
fn query_from_a_connected_socket(sim: &mut Sim, to: SocketAddr) -> Outcome<io::Result<usize>> {
    sim.spawn(0, async move {
        let socket = UdpSocket::bind(SocketAddr::new(ip(1), 0)).await.unwrap();
        socket.connect(to).await.unwrap();
        socket.send_to(b"query", to).await.unwrap();
        let mut buf = [0u8; 64];
        socket.recv_from(&mut buf).await.map(|(n, _)| n)
    })
}

/// An ICMP port unreachable reaches a *connected* UDP socket as ECONNREFUSED on its next call;
/// an unconnected socket hears nothing of it (net/ipv4/udp.c `__udp4_lib_err`: without
/// IP_RECVERR only connected sockets get the error) and goes on receiving.
#[test]
fn port_unreachable_refuses_a_connected_udp_socket_and_not_an_unconnected_one() {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)], vec![ip(3)]], ms(10));
    sim.net.set_latency(ip(1), ip(3), ms(50), ms(50));
    sim.net.set_latency(ip(3), ip(1), ms(50), ms(50));
    let echo = SocketAddr::new(ip(3), 7);
    sim.spawn(2, async move {
        let socket = UdpSocket::bind(echo).await.unwrap();
        let mut buf = [0u8; 64];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            socket.send_to(&buf[..n], from).await.unwrap();
        }
    });
    let closed = SocketAddr::new(ip(2), 5353);
    let connected = query_from_a_connected_socket(&mut sim, closed);
    let unconnected = sim.spawn(0, async move {
        let socket = UdpSocket::bind(SocketAddr::new(ip(1), 0)).await.unwrap();
        socket.send_to(b"query", closed).await.unwrap();
        socket.send_to(b"ping", echo).await.unwrap();
        let mut buf = [0u8; 64];
        socket.recv_from(&mut buf).await.map(|(n, from)| (buf[..n].to_vec(), from))
    });
    sim.run_until(Time::from_secs(5));
    let (at, result) = take(&connected);
    assert_eq!(kind(&result), Some(io::ErrorKind::ConnectionRefused));
    assert_eq!(at, Time::from_millis(20), "the ICMP comes back after one round trip");
    let (at, result) = take(&unconnected);
    assert_eq!(result.unwrap(), (b"ping".to_vec(), echo), "the ICMP at 20 ms was not for it");
    assert_eq!(at, Time::from_millis(100));
}

/// The host's ICMP travels back like any packet: with the way back cut (a one-way partition)
/// it never arrives, and the connected socket hears nothing; a rejecting firewall's answer, by
/// contrast, is made beside the sender's path and comes back at once.
#[test]
fn a_port_unreachable_is_lost_in_a_partition_of_the_way_back() {
    use xfrsim_net::{Filter, Protocols};
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    sim.net.set_filter(ip(2), ip(1), Protocols::Both, Filter::Drop);
    let closed = SocketAddr::new(ip(2), 5353);
    let refused = query_from_a_connected_socket(&mut sim, closed);
    sim.run_until(Time::from_secs(5));
    assert!(refused.borrow().is_none(), "the ICMP crossed a partition of the way back");

    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    sim.net.set_filter(ip(1), ip(2), Protocols::Udp, Filter::Reject);
    let rejected = query_from_a_connected_socket(&mut sim, closed);
    sim.run_until(Time::from_secs(5));
    let (at, result) = take(&rejected);
    assert_eq!(kind(&result), Some(io::ErrorKind::ConnectionRefused));
    assert_eq!(at, Time::from_millis(10), "the firewall answers from beside the sender's path");
}

/// A listener closed with a connection in its accept queue resets it
/// (net/ipv4/inet_connection_sock.c `inet_csk_listen_stop`): the client, which completed its
/// handshake with the kernel, reads ECONNRESET rather than EOF.
#[test]
fn a_listener_dropped_with_a_queued_connection_resets_it() {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    let server = SocketAddr::new(ip(2), 53);
    let listener = sim.spawn(1, async move { TcpListener::bind(server, 16).await.unwrap() });
    sim.run_until(Time::ZERO);
    let client = sim.spawn(0, async move {
        let mut stream = TcpStream::connect(server, None).await?;
        let mut buf = [0u8; 16];
        stream.read(&mut buf).await
    });
    sim.run_until(Time::from_secs(1));
    assert!(client.borrow().is_none(), "connected and waiting for an answer");
    drop(listener.borrow_mut().take());
    sim.run_until(Time::from_secs(2));
    let (at, result) = take(&client);
    assert_eq!(kind(&result), Some(io::ErrorKind::ConnectionReset), "{result:?}");
    assert_eq!(at, Time::from_millis(1010));
}

/// A server that closes its listener and listens again on the same port succeeds at once
/// although connections of the old listener still hold the port, one established and one
/// closing: every DNS server sets SO_REUSEADDR (net/ipv4/inet_connection_sock.c
/// `inet_csk_bind_conflict`). The old connection keeps working and the new listener gets the
/// new one.
#[test]
fn a_listener_binds_again_while_connections_of_the_old_one_live() {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    let server = SocketAddr::new(ip(2), 53);
    let served = sim.spawn(1, async move {
        let old = TcpListener::bind(server, 16).await.unwrap();
        let (mut kept, _) = old.accept().await.unwrap();
        let (mut closed, _) = old.accept().await.unwrap();
        let mut bye = [0u8; 3];
        closed.read_exact(&mut bye).await.unwrap();
        drop(closed); // read to the end, so a FIN: it lingers in FIN_WAIT2 on the port
        drop(old);
        let new = TcpListener::bind(server, 16).await?;
        let (mut fresh, _) = new.accept().await.unwrap();
        let mut buf = [0u8; 3];
        fresh.read_exact(&mut buf).await.unwrap();
        let from_new = buf;
        kept.read_exact(&mut buf).await.unwrap();
        Ok::<_, io::Error>((from_new, buf))
    });
    let talk = |sim: &mut Sim, words: &'static [u8]| {
        sim.spawn(0, async move {
            let mut stream = TcpStream::connect(server, None).await.unwrap();
            stream.write_all(words).await.unwrap();
            let mut buf = [0u8; 1];
            stream.read(&mut buf).await.map(|n| (n, stream))
        })
    };
    let kept = talk(&mut sim, b"old");
    sim.run_until(Time::from_millis(500));
    let closed = talk(&mut sim, b"bye");
    sim.run_until(Time::from_millis(1000));
    assert_eq!(closed.borrow().as_ref().unwrap().1.as_ref().map(|(n, _)| *n).ok(), Some(0), "the second was closed");
    let fresh = talk(&mut sim, b"new");
    sim.run_until(Time::from_secs(2));
    let (_, result) = take(&served);
    assert_eq!(result.unwrap(), (*b"new", *b"old"));
    // The server's task ended and closed both: an orderly FIN each, no reset.
    for client in [kept, fresh] {
        assert_eq!(take(&client).1.map(|(n, _)| n).ok(), Some(0));
    }
}

/// A SYN that finds the accept queue full (backlog + 1 connections: `sk_acceptq_is_full`) is
/// dropped (net/ipv4/tcp_input.c `tcp_conn_request`, LISTENOVERFLOWS); the client's SYN
/// retransmission 1 s later gets in once the server has accepted one.
#[test]
fn a_full_accept_queue_drops_the_syn_and_the_retransmission_gets_in() {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(10));
    let server = SocketAddr::new(ip(2), 53);
    let listener = sim.spawn(1, async move { Rc::new(TcpListener::bind(server, 1).await.unwrap()) });
    let mut clients = Vec::new();
    for start in [0u64, 100, 200] {
        sim.run_until(Time::from_millis(start));
        clients.push(sim.spawn(0, async move { TcpStream::connect(server, None).await }));
    }
    sim.run_until(Time::from_millis(500));
    assert!(clients[2].borrow().is_none(), "the third waits");
    assert_eq!(sim.net.stats().listen_overflows, 1);
    let listener = take(&listener).1;
    let server_side = listener.clone();
    let accepted = sim.spawn(1, async move { server_side.accept().await.map(|(stream, _)| stream) });
    sim.run_until(Time::from_secs(5));
    assert!(take(&accepted).1.is_ok());
    let times: Vec<u64> = clients.iter().map(|c| finished(c).as_millis()).collect();
    assert_eq!(times, [20, 120, 1220], "the third connects after its SYN retransmission at 1.2 s");
    assert!(clients.iter().all(|c| c.borrow().as_ref().unwrap().1.is_ok()));
}

/// A connection from a chosen local address (bind before connect) leaves from that address:
/// the server sees it as the peer and its answers get back.
#[test]
fn a_connection_bound_to_a_local_address_comes_from_it() {
    let mut sim = Sim::new(&[vec![ip(1), ip(11)], vec![ip(2)]], ms(10));
    let server = SocketAddr::new(ip(2), 53);
    let peers = sim.spawn(1, async move {
        let listener = TcpListener::bind(server, 16).await.unwrap();
        let (mut peers, mut streams) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let (mut stream, peer) = listener.accept().await.unwrap();
            let IpAddr::V4(v4) = peer.ip() else { panic!("IPv4 only here") };
            stream.write_all(&[v4.octets()[3]]).await.unwrap();
            peers.push(peer.ip());
            streams.push(stream);
        }
        (peers, streams)
    });
    let connect = |sim: &mut Sim, from: Option<IpAddr>| {
        sim.spawn(0, async move {
            let mut stream = TcpStream::connect(server, from).await.unwrap();
            let mut buf = [0u8; 1];
            stream.read_exact(&mut buf).await.unwrap();
            buf[0]
        })
    };
    let default = connect(&mut sim, None);
    sim.run_until(Time::from_millis(100));
    let chosen = connect(&mut sim, Some(ip(11)));
    sim.run_until(Time::from_secs(1));
    assert_eq!(take(&peers).1.0, [ip(1), ip(11)]);
    assert_eq!((take(&default).1, take(&chosen).1), (1, 11), "each got the answer for its own address");
}

/// Sends 1 MB from host 0 to host 1 over a 20 ms link (both ways) of `bandwidth` bits per
/// second; returns when it had all arrived, the packets delivered and the instants taken.
fn megabyte(bandwidth: Option<u64>) -> (Time, u64, u64) {
    let mut sim = Sim::new(&[vec![ip(1)], vec![ip(2)]], ms(20));
    sim.net.set_bandwidth(ip(1), ip(2), bandwidth);
    sim.net.set_bandwidth(ip(2), ip(1), bandwidth);
    let server = SocketAddr::new(ip(2), 53);
    let data: Rc<Vec<u8>> = Rc::new((0..1_000_000u32).map(|i| (i * 7 + i / 1000) as u8).collect());
    let expected = data.clone();
    let received = sim.spawn(1, async move {
        let listener = TcpListener::bind(server, 16).await.unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        got
    });
    sim.spawn(0, async move {
        let mut stream = TcpStream::connect(server, None).await.unwrap();
        stream.write_all(&data).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
    });
    sim.run_until(Time::from_secs(600));
    let (at, got) = take(&received);
    assert!(got == *expected, "the megabyte arrived whole and in order");
    let packets = sim.net.stats().packets;
    let segments = 1_000_000u64.div_ceil(1448);
    assert!(packets >= 2 * segments && packets < 3 * segments, "{packets} packets: a segment and an ACK each");
    eprintln!("1 MB at {bandwidth:?} bit/s: done at {at}, {packets} packets, {} instants", sim.instants);
    (at, packets, sim.instants)
}

/// The cost of a transfer is in its packets, not in its time: the harness stops only where
/// something is due (`run_until` checks each instant lies ahead and had work), so 1 MB costs
/// at most one instant per packet; with no bandwidth limit a window's packets share their
/// arrival instants and it costs far fewer. A timer left behind in the time index when a
/// connection re-arms it (one per ACK) would show here as hundreds more.
#[test]
fn a_megabyte_costs_no_more_instants_than_packets() {
    let (at, packets, instants) = megabyte(None);
    assert!(instants * 10 <= packets, "{instants} instants for {packets} packets");
    // A 64 KB window per 40 ms round trip: about 0.65 s plus slow start.
    assert!(at < Time::from_secs(1), "took {at}");
    let (at, packets, instants) = megabyte(Some(10_000_000));
    assert!(instants <= packets, "{instants} instants for {packets} packets");
    // 10 Mbit/s: at least 0.8 s on the wire.
    assert!(at > Time::from_millis(800) && at < Time::from_secs(3), "took {at}");
}
