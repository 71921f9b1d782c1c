//! The sockets a simulated process holds: the calls tokio's sockets have, on the network of
//! the host the harness is running. A socket closes (as `close(2)` does) when dropped.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::state::{SocketId, State};

thread_local! {
    /// The network and host whose process is running now (set by [`crate::Network::enter`]).
    static CURRENT: RefCell<Option<(Rc<RefCell<State>>, usize)>> = const { RefCell::new(None) };
}

pub(crate) fn set_current(current: Option<(Rc<RefCell<State>>, usize)>) -> Option<(Rc<RefCell<State>>, usize)> {
    CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), current))
}

fn current() -> io::Result<(Rc<RefCell<State>>, usize)> {
    CURRENT.with(|c| c.borrow().clone()).ok_or_else(|| io::Error::other("no simulated host is running on this thread"))
}

/// A socket's handle: the network it lives on and its number there.
struct Handle {
    net: Rc<RefCell<State>>,
    id: SocketId,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.net.borrow_mut().close(self.id);
    }
}

pub struct UdpSocket(Handle);

impl UdpSocket {
    pub async fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let (net, host) = current()?;
        let id = net.borrow_mut().udp_bind(host, addr)?;
        Ok(UdpSocket(Handle { net, id }))
    }

    /// Fixes the peer: datagrams from others are not received, and an ICMP port unreachable
    /// about what the socket sent comes back as ECONNREFUSED.
    pub async fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.0.net.borrow_mut().udp_connect(self.0.id, peer)
    }

    pub async fn send_to(&self, payload: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.net.borrow_mut().udp_send(self.0.id, payload, to)
    }

    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| match self.0.net.borrow_mut().udp_recv(self.0.id, buf, cx.waker()) {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        })
        .await
    }
}

pub struct TcpListener(Handle);

impl TcpListener {
    /// `bind` and `listen(backlog)` (capped at `net.core.somaxconn`), with SO_REUSEADDR.
    pub async fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
        let (net, host) = current()?;
        let id = net.borrow_mut().listen(host, addr, backlog)?;
        Ok(TcpListener(Handle { net, id }))
    }

    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (id, peer) = poll_fn(|cx| match self.0.net.borrow_mut().accept(self.0.id, cx.waker()) {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        })
        .await?;
        Ok((TcpStream(Handle { net: self.0.net.clone(), id }), peer))
    }
}

pub struct TcpStream(Handle);

impl TcpStream {
    /// Opens a connection to `to`, from `from` when given (bind before connect), and waits for
    /// the handshake: ECONNREFUSED on a RST, ETIMEDOUT after Linux's SYN retries.
    pub async fn connect(to: SocketAddr, from: Option<IpAddr>) -> io::Result<TcpStream> {
        let (net, host) = current()?;
        let id = net.borrow_mut().connect(host, to, from)?;
        let stream = TcpStream(Handle { net, id });
        poll_fn(|cx| {
            let mut state = stream.0.net.borrow_mut();
            let result = state.with_conn(stream.0.id, |tcb, _, _| match tcb.connected() {
                Ok(false) => {
                    tcb.write_waker = Some(cx.waker().clone());
                    None
                }
                other => Some(other.map(|_| ())),
            });
            match result {
                Some(Some(done)) => Poll::Ready(done),
                Some(None) => Poll::Pending,
                None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            }
        })
        .await?;
        Ok(stream)
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut state = self.0.net.borrow_mut();
        let result = state.with_conn(self.0.id, |tcb, now, fx| {
            let read = tcb.read(buf.initialize_unfilled(), now, fx);
            if let Ok(None) = read {
                tcb.read_waker = Some(cx.waker().clone());
            }
            read
        });
        match result {
            None => Poll::Ready(Ok(())),
            Some(Ok(Some(n))) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Some(Ok(None)) => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.0.net.borrow_mut();
        let result = state.with_conn(self.0.id, |tcb, now, fx| {
            let written = tcb.write(buf, now, fx);
            if let Ok(None) = written {
                tcb.write_waker = Some(cx.waker().clone());
            }
            written
        });
        match result {
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Some(Ok(Some(n))) => Poll::Ready(Ok(n)),
            Some(Ok(None)) => Poll::Pending,
            Some(Err(e)) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.net.borrow_mut().with_conn(self.0.id, |tcb, now, fx| tcb.shutdown(now, fx));
        Poll::Ready(Ok(()))
    }
}
