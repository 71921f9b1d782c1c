//! The one module where simulated (turmoil-net) and real (tokio) networking are swapped. Everything
//! else in the driver is written against [`Transport`] and [`Clock`].

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

/// turmoil-net's simulated sockets: a per-host kernel with real TCP (handshake, RST for a
/// closed port, retransmission, flow control) whose packets the simulation harness carries.
/// The socket calls go to the kernel of the host the harness made current before polling.
pub struct TurmoilNet;

thread_local! {
    /// Socket calls that may have queued a packet in a simulated kernel (see [`socket_calls`]).
    static SOCKET_CALLS: Cell<u64> = const { Cell::new(0) };
}

fn count_call() {
    SOCKET_CALLS.with(|calls| calls.set(calls.get() + 1));
}

/// How many socket calls on this thread's simulated network may have queued a packet (a send,
/// a connect, a read that may reopen a TCP window, a close). The harness skips the pass that
/// collects packets from every kernel when this has not moved and nothing else can have
/// queued one: a pass costs as much as there are hosts.
pub fn socket_calls() -> u64 {
    SOCKET_CALLS.with(Cell::get)
}

/// A simulated socket whose packet-making calls are counted.
pub struct Counted<S>(S);

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        count_call(); // closing a TCP socket sends FIN or RST, a listener RSTs its backlog
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        count_call();
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        count_call();
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        count_call();
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        count_call();
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

type NetUdp = turmoil_net::shim::tokio::net::UdpSocket;
type NetListener = turmoil_net::shim::tokio::net::TcpListener;
type NetStream = turmoil_net::shim::tokio::net::TcpStream;

impl Transport for TurmoilNet {
    type Udp = NetUdp;
    type Listener = Counted<NetListener>;
    type Stream = Counted<NetStream>;

    async fn bind_udp(addr: SocketAddr) -> io::Result<Self::Udp> {
        NetUdp::bind(addr).await
    }
    async fn recv_from(socket: &Self::Udp, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf).await
    }
    async fn send_to(socket: &Self::Udp, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        count_call();
        socket.send_to(buf, to).await
    }
    async fn bind_tcp(addr: SocketAddr) -> io::Result<Self::Listener> {
        NetListener::bind(addr).await.map(Counted)
    }
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Stream, SocketAddr)> {
        listener.0.accept().await.map(|(stream, peer)| (Counted(stream), peer))
    }
    async fn connect_udp(socket: &Self::Udp, to: SocketAddr) -> io::Result<()> {
        socket.connect(to).await
    }
    /// turmoil-net cannot bind a TCP socket before connecting (its shim has no `TcpSocket`):
    /// a connection leaves from the host's first address. The harness lists a server's
    /// transfer source first, so that is the address transfers come from.
    async fn connect(to: SocketAddr, _from: Option<IpAddr>) -> io::Result<Self::Stream> {
        count_call();
        NetStream::connect(to).await.map(Counted)
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
