//! `bench net-packets`: what the simulated network (crates/xfrsim-net) costs on its own, with no
//! DNS engine in the way: packets delivered per wall second on a bulk TCP transfer and on a storm
//! of small UDP queries. Each case runs its hosts' tasks as the simulator does (one tokio
//! `LocalSet` per host on a current-thread runtime, polled only when woken, with the network
//! entered for that host) and jumps from one due packet or TCP timer to the next.
//!
//! Output, one line per case:
//! `bench net-packets case=<tcp-bulk|udp-storm> packets=<n> wall_ms=<ms> packets_per_sec=<n>
//! bytes=<n> sim_ms=<ms> instants=<n>`, then `resent_bytes=<n>` (TCP payload that reached the
//! receiver more than once: on this lossless link, anything but 0 is a spurious retransmission)
//! or `queries=<n>` (UDP). `bytes` is the payload the receiving application read (TCP) or the
//! query and answer payloads (UDP).

use std::cell::Cell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xfrsim_engine::Time;
use xfrsim_net::{Network, Processes, TcpListener, TcpStream, UdpSocket};

use crate::bench::timed;

/// Bytes of the bulk transfer: a zone transfer of a very large zone, in one connection.
const BULK_BYTES: u64 = 50 * 1_000_000;
/// One-way latency of the bulk transfer's link (both ways): its window, not its bandwidth,
/// paces it, so this sets the simulated length and the number of round trips.
const BULK_LATENCY: Duration = Duration::from_millis(10);
/// What the sender hands `write` at a time.
const BULK_CHUNK: usize = 64 * 1024;

/// The query storm: client hosts, sockets per client host, queries per socket (each sent when
/// the previous one's answer came back), and the size of a query (a small DNS question).
const STORM_HOSTS: usize = 10;
const STORM_SOCKETS: usize = 100;
const STORM_QUERIES: usize = 100;
const STORM_QUERY_BYTES: usize = 40;
/// The storm's links draw a latency per datagram in this range (the simulator's default), so
/// arrivals spread over many instants.
const STORM_LATENCY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(20));

/// A run that has not finished by then is stuck (a lost wake-up, a packet never delivered).
const SIM_LIMIT: Duration = Duration::from_secs(3_600);

/// The hosts' processes on one network, run as the simulator runs them, without the engine
/// and the scenario around it.
struct Hosts {
    net: Network,
    processes: Processes,
}

/// Where a run stopped: the simulated time at the end and the instants visited.
struct Ran {
    sim: Time,
    instants: u64,
}

/// What one case did.
struct Measured {
    packets: u64,
    wall: Duration,
    /// Payload the applications read.
    bytes: u64,
    /// TCP payload delivered more than once (retransmissions that reached the receiver).
    resent: u64,
    ran: Ran,
}

/// The query storm's size.
#[derive(Clone, Copy)]
struct Storm {
    hosts: usize,
    sockets: usize,
    queries: usize,
}

impl Storm {
    fn total(self) -> usize {
        self.hosts * self.sockets * self.queries
    }
}

const STORM: Storm = Storm { hosts: STORM_HOSTS, sockets: STORM_SOCKETS, queries: STORM_QUERIES };

impl Hosts {
    fn new(net: Network, hosts: usize) -> Result<Hosts> {
        Ok(Hosts { processes: Processes::new(net.clone(), hosts), net })
    }

    fn spawn(&mut self, host: usize, task: impl Future<Output = ()> + 'static) {
        self.processes.spawn(host, task);
    }

    /// Runs from time zero until `done` says so, visiting only instants where a packet
    /// arrives or a TCP timer fires.
    fn run(&mut self, done: impl Fn() -> bool) -> Result<Ran> {
        let mut now = Time::ZERO;
        let mut instants = 0;
        loop {
            instants += 1;
            self.net.advance(now);
            // What the hosts send at this instant may arrive at it too (the harness's step 4).
            self.processes.settle(now, &mut Vec::new());
            if done() {
                return Ok(Ran { sim: now, instants });
            }
            now = match self.net.next_due() {
                Some(at) if at.since_origin() <= SIM_LIMIT => at,
                Some(_) => bail!("net-packets: not done after {} s of simulated time", SIM_LIMIT.as_secs()),
                None => bail!("net-packets: nothing left to happen at {now}, and not done"),
            };
        }
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// `total` bytes from a client to a server over one TCP connection; done when the server has
/// read them all (the closing handshake after that is not counted).
fn tcp_bulk(total: u64) -> Result<Measured> {
    let (server_ip, client_ip) = (v4(10, 0, 0, 1), v4(10, 0, 0, 2));
    let net = Network::new(&[vec![server_ip], vec![client_ip]], 1, (BULK_LATENCY, BULK_LATENCY));
    let mut hosts = Hosts::new(net.clone(), 2)?;
    let server = SocketAddr::new(server_ip, 5300);
    let received = Rc::new(Cell::new(0u64));
    let finished = Rc::new(Cell::new(false));
    let failed: Rc<Cell<Option<&'static str>>> = Rc::new(Cell::new(None));
    {
        let (received, finished, failed) = (received.clone(), finished.clone(), failed.clone());
        // Host 0 is polled first at time zero, so it listens before the client's SYN leaves.
        hosts.spawn(0, async move {
            let Ok(listener) = TcpListener::bind(server, 16).await else { return failed.set(Some("listen")) };
            let Ok((mut stream, _)) = listener.accept().await else { return failed.set(Some("accept")) };
            let mut buf = vec![0u8; BULK_CHUNK];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => received.set(received.get() + n as u64),
                    Err(_) => return failed.set(Some("read")),
                }
            }
            finished.set(true);
        });
    }
    {
        let failed = failed.clone();
        hosts.spawn(1, async move {
            let Ok(mut stream) = TcpStream::connect(server, None).await else { return failed.set(Some("connect")) };
            let chunk: Vec<u8> = (0..BULK_CHUNK).map(|i| i as u8).collect();
            let mut left = total;
            while left > 0 {
                let n = left.min(BULK_CHUNK as u64) as usize;
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return failed.set(Some("write"));
                }
                left -= n as u64;
            }
            if stream.shutdown().await.is_err() {
                return failed.set(Some("shutdown"));
            }
            // Keep the socket until the server has read everything (dropping it early is fine
            // for TCP, but this keeps the case about the transfer alone).
            std::future::pending::<()>().await;
        });
    }
    let (ran, wall) = timed(|| hosts.run(|| finished.get() || failed.get().is_some()));
    let ran = ran?;
    if let Some(what) = failed.get() {
        bail!("net-packets tcp-bulk: {what} failed");
    }
    if received.get() != total {
        bail!("net-packets tcp-bulk: the server read {} of {total} bytes", received.get());
    }
    let stats = net.stats();
    let resent = stats.tcp_payload_bytes.saturating_sub(total);
    Ok(Measured { packets: stats.packets, wall, bytes: received.get(), resent, ran })
}

/// `storm.hosts` × `storm.sockets` client sockets, each sending `storm.queries` queries one
/// after the other to one server socket, which answers each with its own bytes; done when
/// every answer is in.
fn udp_storm(storm: Storm) -> Result<Measured> {
    let server_ip = v4(10, 0, 0, 1);
    let mut ips = vec![vec![server_ip]];
    ips.extend((0..storm.hosts).map(|i| vec![v4(10, 0, 1, i as u8 + 1)]));
    let net = Network::new(&ips, 1, STORM_LATENCY);
    let mut hosts = Hosts::new(net.clone(), ips.len())?;
    let server = SocketAddr::new(server_ip, 53);
    let total = storm.total();
    let answered = Rc::new(Cell::new(0usize));
    let failed: Rc<Cell<Option<&'static str>>> = Rc::new(Cell::new(None));
    {
        let failed = failed.clone();
        hosts.spawn(0, async move {
            let Ok(socket) = UdpSocket::bind(server).await else { return failed.set(Some("server bind")) };
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else { return failed.set(Some("server recv")) };
                if socket.send_to(&buf[..n], from).await.is_err() {
                    return failed.set(Some("server send"));
                }
            }
        });
    }
    for host in 1..=storm.hosts {
        for index in 0..storm.sockets {
            let (answered, failed) = (answered.clone(), failed.clone());
            hosts.spawn(host, async move {
                let any = SocketAddr::new(v4(0, 0, 0, 0), 0);
                let Ok(socket) = UdpSocket::bind(any).await else { return failed.set(Some("client bind")) };
                let mut query = [0u8; STORM_QUERY_BYTES];
                let mut answer = [0u8; 512];
                for q in 0..storm.queries {
                    // A query names its socket and its number, so a wrong answer is seen.
                    query[..8].copy_from_slice(&((host * storm.sockets + index) as u64).to_be_bytes());
                    query[8..16].copy_from_slice(&(q as u64).to_be_bytes());
                    if socket.send_to(&query, server).await.is_err() {
                        return failed.set(Some("client send"));
                    }
                    match socket.recv_from(&mut answer).await {
                        Ok((n, from)) if from == server && answer[..n] == query[..] => {
                            answered.set(answered.get() + 1);
                        }
                        Ok(_) => return failed.set(Some("a wrong answer")),
                        Err(_) => return failed.set(Some("client recv")),
                    }
                }
            });
        }
    }
    let (ran, wall) = timed(|| hosts.run(|| answered.get() == total || failed.get().is_some()));
    let ran = ran?;
    if let Some(what) = failed.get() {
        bail!("net-packets udp-storm: {what} failed");
    }
    let bytes = (answered.get() * STORM_QUERY_BYTES * 2) as u64;
    Ok(Measured { packets: net.stats().packets, wall, bytes, resent: 0, ran })
}

fn line(case: &str, m: &Measured) -> String {
    let wall_ms = m.wall.as_secs_f64() * 1000.0;
    let per_sec = m.packets as f64 / m.wall.as_secs_f64().max(1e-9);
    format!(
        "bench net-packets case={case} packets={} wall_ms={wall_ms:.0} packets_per_sec={per_sec:.0} bytes={} sim_ms={} instants={}",
        m.packets,
        m.bytes,
        m.ran.sim.as_millis(),
        m.ran.instants,
    )
}

pub fn run() -> Result<ExitCode> {
    let bulk = tcp_bulk(BULK_BYTES)?;
    println!("{} resent_bytes={}", line("tcp-bulk", &bulk), bulk.resent);
    println!("{} queries={}", line("udp-storm", &udp_storm(STORM)?), STORM.total());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_bulk_transfer_arrives_whole_and_counts_its_segments() {
        let total = 1_000_000;
        let m = tcp_bulk(total).expect("the transfer finishes");
        assert_eq!(m.bytes, total);
        // Every data segment is a delivered packet, and each is acknowledged.
        let segments = total.div_ceil(u64::from(xfrsim_net::linux::MSS_BYTES));
        assert!(m.packets >= 2 * segments, "{} packets for {segments} data segments", m.packets);
        // A window-paced transfer: each instant is a burst arriving, not every millisecond.
        assert!(m.ran.instants < m.ran.sim.as_millis(), "{} instants in {} ms", m.ran.instants, m.ran.sim.as_millis());
    }

    #[test]
    fn a_small_storm_gets_every_answer_and_nothing_else() {
        let storm = Storm { hosts: 2, sockets: 3, queries: 4 };
        let m = udp_storm(storm).expect("every query is answered");
        assert_eq!(m.packets, 2 * storm.total() as u64, "one query and one answer each, no loss");
        assert_eq!(m.bytes, (storm.total() * STORM_QUERY_BYTES * 2) as u64);
    }

    #[test]
    fn a_run_that_waits_for_nothing_stops_with_an_error() {
        let ips = [vec![v4(10, 0, 0, 1)], vec![v4(10, 0, 0, 2)]];
        let net = Network::new(&ips, 1, STORM_LATENCY);
        let mut hosts = Hosts::new(net, ips.len()).expect("a runtime");
        let answered = Rc::new(Cell::new(false));
        let flag = answered.clone();
        // Nothing listens on host 0: the query meets an ICMP port unreachable, which an
        // unconnected socket never hears, so the answer never comes.
        hosts.spawn(1, async move {
            let socket = UdpSocket::bind(SocketAddr::new(v4(0, 0, 0, 0), 0)).await.expect("bind");
            socket.send_to(b"query", SocketAddr::new(v4(10, 0, 0, 1), 53)).await.expect("send");
            let mut buf = [0u8; 64];
            if socket.recv_from(&mut buf).await.is_ok() {
                flag.set(true);
            }
        });
        let error = hosts.run(|| answered.get()).err().expect("the run cannot finish");
        assert!(error.to_string().contains("nothing left to happen"), "{error}");
    }
}
