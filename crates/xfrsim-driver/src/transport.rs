//! The one module where simulated (xfrsim-net) and real (tokio) networking are swapped. Everything
//! else in the driver is written against [`Transport`] and [`Clock`].

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use tokio::io::{AsyncRead, AsyncWrite};
use xfrsim_engine::Time;

/// Sockets: a UDP socket, a TCP listener, outgoing TCP connections.
pub trait Transport: 'static {
    type Udp: 'static;
    type Listener: 'static;
    type Stream: AsyncRead + AsyncWrite + Unpin + 'static;

    fn bind_udp(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Udp>>;
    fn recv_from(socket: &Self::Udp, buf: &mut [u8]) -> impl Future<Output = io::Result<(usize, SocketAddr)>>;
    fn send_to(socket: &Self::Udp, buf: &[u8], to: SocketAddr) -> impl Future<Output = io::Result<usize>>;
    /// A listener on `addr` with SO_REUSEADDR and a listen queue of `backlog`.
    fn bind_tcp(addr: SocketAddr, backlog: u32) -> impl Future<Output = io::Result<Self::Listener>>;
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>>;
    /// Fixes a UDP socket's peer: datagrams from others are dropped, and an ICMP error about
    /// what it sent comes back as an error on the next receive.
    fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> impl Future<Output = io::Result<()>>;
    /// A TCP connection to `to`, from the local address `from` when given.
    fn connect(to: SocketAddr, from: Option<IpAddr>) -> impl Future<Output = io::Result<Self::Stream>>;
    /// How many file descriptors the process may hold (`None`: no such limit, simulated).
    fn fd_limit() -> Option<u64>;
}

/// The time the engine is given, and how the driver waits for the engine's next deadline.
pub trait Clock: Clone + 'static {
    /// False for a clock whose owner fires the node's deadlines (the driver then never asks
    /// the node for its next one).
    const SLEEPS: bool;
    fn now(&self) -> Time;
    /// Resolves at `deadline`. A clock whose owner fires deadlines itself (the simulation
    /// harness) never resolves.
    fn sleep_until(&self, deadline: Option<Time>) -> impl Future<Output = ()>;
}

/// The simulated network's sockets (xfrsim-net): UDP and TCP as Linux runs them, on the host
/// the harness entered before polling.
pub struct SimNet;

impl Transport for SimNet {
    type Udp = xfrsim_net::UdpSocket;
    type Listener = xfrsim_net::TcpListener;
    type Stream = xfrsim_net::TcpStream;

    async fn bind_udp(addr: SocketAddr) -> io::Result<Self::Udp> {
        xfrsim_net::UdpSocket::bind(addr).await
    }
    async fn recv_from(socket: &Self::Udp, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf).await
    }
    async fn send_to(socket: &Self::Udp, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        socket.send_to(buf, to).await
    }
    async fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<Self::Listener> {
        xfrsim_net::TcpListener::bind(addr, backlog).await
    }
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        listener.accept().await
    }
    async fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> io::Result<()> {
        socket.connect(to).await
    }
    async fn connect(to: SocketAddr, from: Option<IpAddr>) -> io::Result<Self::Stream> {
        xfrsim_net::TcpStream::connect(to, from).await
    }
    fn fd_limit() -> Option<u64> {
        None
    }
}

/// Real sockets.
pub struct Tokio;

impl Transport for Tokio {
    type Udp = tokio::net::UdpSocket;
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    async fn bind_udp(addr: SocketAddr) -> io::Result<Self::Udp> {
        tokio::net::UdpSocket::bind(addr).await
    }
    async fn recv_from(socket: &Self::Udp, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf).await
    }
    async fn send_to(socket: &Self::Udp, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        socket.send_to(buf, to).await
    }
    async fn bind_tcp(addr: SocketAddr, backlog: u32) -> io::Result<Self::Listener> {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        // Every server the engine stands for binds its listeners so (BIND, Knot and NSD all
        // set SO_REUSEADDR): a restarted server gets its port back at once.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(backlog)
    }
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        listener.accept().await
    }
    async fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> io::Result<()> {
        socket.connect(to).await
    }
    async fn connect(to: SocketAddr, from: Option<IpAddr>) -> io::Result<Self::Stream> {
        let Some(from) = from else { return tokio::net::TcpStream::connect(to).await };
        let socket = if to.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.bind(SocketAddr::new(from, 0))?;
        socket.connect(to).await
    }
    /// The soft `RLIMIT_NOFILE`, read from /proc/self/limits ("Max open files  <soft> <hard>
    /// files"): the workspace forbids `unsafe`, so no getrlimit(2). `None` where there is no
    /// /proc or the limit is "unlimited".
    fn fd_limit() -> Option<u64> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..].split_whitespace().next()?.parse().ok()
    }
}

/// Simulated time, owned by the harness: it sets the time before each simulation step and
/// fires engine deadlines itself (so it can jump over idle time). Drivers only read it.
#[derive(Clone, Default)]
pub struct HarnessClock(Rc<Cell<Time>>);

impl HarnessClock {
    pub fn set(&self, now: Time) {
        self.0.set(now);
    }
}

impl Clock for HarnessClock {
    const SLEEPS: bool = false;
    fn now(&self) -> Time {
        self.0.get()
    }
    async fn sleep_until(&self, _deadline: Option<Time>) {
        std::future::pending::<()>().await;
    }
}

/// Real time for a node on real sockets: elapsed since the node started, from tokio's clock.
#[derive(Clone)]
pub struct WallClock {
    start: tokio::time::Instant,
}

impl WallClock {
    pub fn start() -> Self {
        WallClock { start: tokio::time::Instant::now() }
    }
}

impl Clock for WallClock {
    const SLEEPS: bool = true;
    fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }
    async fn sleep_until(&self, deadline: Option<Time>) {
        match deadline {
            Some(at) => tokio::time::sleep_until(self.start + at.since_origin()).await,
            None => std::future::pending::<()>().await,
        }
    }
}
