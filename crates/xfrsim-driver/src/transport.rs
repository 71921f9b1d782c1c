//! The one module where simulated (turmoil-net) and real (tokio) networking are swapped. Everything
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
    fn bind_tcp(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>>;
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>>;
    /// Fixes a UDP socket's peer: datagrams from others are dropped, and an ICMP error about
    /// what it sent comes back as an error on the next receive.
    fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> impl Future<Output = io::Result<()>>;
    /// A TCP connection to `to`, from the local address `from` when given.
    fn connect(to: SocketAddr, from: Option<IpAddr>) -> impl Future<Output = io::Result<Self::Stream>>;
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

/// turmoil-net's simulated sockets: a per-host kernel with real TCP (handshake, RST for a
/// closed port, retransmission, flow control) whose packets the simulation harness carries.
/// The socket calls go to the kernel of the host the harness made current before polling.
pub struct TurmoilNet;

impl Transport for TurmoilNet {
    type Udp = turmoil_net::shim::tokio::net::UdpSocket;
    type Listener = turmoil_net::shim::tokio::net::TcpListener;
    type Stream = turmoil_net::shim::tokio::net::TcpStream;

    async fn bind_udp(addr: SocketAddr) -> io::Result<Self::Udp> {
        turmoil_net::shim::tokio::net::UdpSocket::bind(addr).await
    }
    async fn recv_from(socket: &Self::Udp, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf).await
    }
    async fn send_to(socket: &Self::Udp, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        socket.send_to(buf, to).await
    }
    async fn bind_tcp(addr: SocketAddr) -> io::Result<Self::Listener> {
        turmoil_net::shim::tokio::net::TcpListener::bind(addr).await
    }
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        listener.accept().await
    }
    async fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> io::Result<()> {
        socket.connect(to).await
    }
    /// turmoil-net cannot bind a TCP socket before connecting (its shim has no `TcpSocket`):
    /// a connection leaves from the host's first address. The harness lists a server's
    /// transfer source first, so that is the address transfers come from.
    async fn connect(to: SocketAddr, _from: Option<IpAddr>) -> io::Result<Self::Stream> {
        turmoil_net::shim::tokio::net::TcpStream::connect(to).await
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
    async fn bind_tcp(addr: SocketAddr) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(addr).await
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
