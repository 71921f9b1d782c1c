//! The socket calls of a process: bind, connect, listen, accept, send and receive, close.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::task::Waker;

use bytes::Bytes;
use xfrsim_engine::Time;

use super::{Conn, Listener, Socket, SocketId, State, UdpSock};
use crate::linux::{EPHEMERAL_PORTS, SOMAXCONN};
use crate::packet::{Body, Datagram, Packet};
use crate::tcp::{Effects, Tcb};

impl State {
    pub(super) fn check_local(&self, host: usize, ip: IpAddr) -> io::Result<()> {
        if ip.is_unspecified() || self.hosts[host].ips.contains(&ip) {
            Ok(())
        } else {
            Err(io::ErrorKind::AddrNotAvailable.into())
        }
    }

    /// The address a host sends from when the socket does not say: its first of the family.
    pub(super) fn source_for(&self, host: usize, to: IpAddr) -> IpAddr {
        let ips = &self.hosts[host].ips;
        ips.iter().copied().find(|ip| ip.is_ipv4() == to.is_ipv4()).unwrap_or(ips[0])
    }

    pub(super) fn ephemeral_port(&mut self, host: usize, taken: impl Fn(&State, u16) -> bool) -> io::Result<u16> {
        let span = u32::from(EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) + 1;
        let start = self.hosts[host].next_port;
        for step in 0..span {
            let offset = (u32::from(start - EPHEMERAL_PORTS.start()) + step) % span;
            let port = EPHEMERAL_PORTS.start() + offset as u16;
            if !taken(self, port) {
                let following = (offset + 1) % span;
                self.hosts[host].next_port = EPHEMERAL_PORTS.start() + following as u16;
                return Ok(port);
            }
        }
        Err(io::ErrorKind::AddrInUse.into())
    }

    pub(super) fn add_socket(&mut self, socket: Socket) -> SocketId {
        let id = self.next_socket;
        self.next_socket += 1;
        self.sockets.insert(id, socket);
        id
    }

    pub(crate) fn udp_bind(&mut self, host: usize, addr: SocketAddr) -> io::Result<SocketId> {
        self.check_local(host, addr.ip())?;
        let clash = |state: &State, port: u16| {
            state.udp_ports.get(&(host, port)).is_some_and(|ids| {
                ids.iter().any(|id| {
                    matches!(state.sockets.get(id), Some(Socket::Udp(s))
                        if s.local.ip() == addr.ip() || s.local.ip().is_unspecified() || addr.ip().is_unspecified())
                })
            })
        };
        let port = if addr.port() == 0 {
            self.ephemeral_port(host, clash)?
        } else if clash(self, addr.port()) {
            return Err(io::ErrorKind::AddrInUse.into());
        } else {
            addr.port()
        };
        let local = SocketAddr::new(addr.ip(), port);
        let id = self.add_socket(Socket::Udp(UdpSock {
            host,
            local,
            peer: None,
            rx: VecDeque::new(),
            rx_bytes: 0,
            error: None,
            waker: None,
        }));
        self.udp_ports.entry((host, port)).or_default().push(id);
        Ok(id)
    }

    pub(crate) fn udp_connect(&mut self, id: SocketId, peer: SocketAddr) -> io::Result<()> {
        let Some(Socket::Udp(s)) = self.sockets.get(&id) else { return Err(io::ErrorKind::NotConnected.into()) };
        let (host, local) = (s.host, s.local);
        let ip = if local.ip().is_unspecified() { self.source_for(host, peer.ip()) } else { local.ip() };
        let Some(Socket::Udp(s)) = self.sockets.get_mut(&id) else { unreachable!("just seen") };
        s.local = SocketAddr::new(ip, local.port());
        s.peer = Some(peer);
        Ok(())
    }

    pub(crate) fn udp_send(&mut self, id: SocketId, payload: &[u8], to: SocketAddr) -> io::Result<usize> {
        let Some(Socket::Udp(s)) = self.sockets.get_mut(&id) else { return Err(io::ErrorKind::NotConnected.into()) };
        if let Some(error) = s.error.take() {
            return Err(error.into());
        }
        let (host, local) = (s.host, s.local);
        let src = if local.ip().is_unspecified() { self.source_for(host, to.ip()) } else { local.ip() };
        let datagram =
            Datagram { src_port: local.port(), dst_port: to.port(), payload: Bytes::copy_from_slice(payload) };
        self.send(Packet { src, dst: to.ip(), body: Body::Udp(datagram) });
        Ok(payload.len())
    }

    pub(crate) fn udp_recv(
        &mut self,
        id: SocketId,
        buf: &mut [u8],
        waker: &Waker,
    ) -> Option<io::Result<(usize, SocketAddr)>> {
        let Some(Socket::Udp(s)) = self.sockets.get_mut(&id) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        if let Some((from, payload)) = s.rx.pop_front() {
            s.rx_bytes -= payload.len();
            let n = payload.len().min(buf.len());
            buf[..n].copy_from_slice(&payload[..n]);
            return Some(Ok((n, from)));
        }
        if let Some(error) = s.error.take() {
            return Some(Err(error.into()));
        }
        s.waker = Some(waker.clone());
        None
    }

    pub(crate) fn listen(&mut self, host: usize, addr: SocketAddr, backlog: u32) -> io::Result<SocketId> {
        self.check_local(host, addr.ip())?;
        // Old connections on the port do not stand in the way (every server sets SO_REUSEADDR);
        // another listener on the same address does (net/ipv4/inet_connection_sock.c
        // `inet_csk_bind_conflict`).
        let clash = self.listen_ports.get(&(host, addr.port())).is_some_and(|ids| {
            ids.iter().any(|id| {
                matches!(self.sockets.get(id), Some(Socket::Listener(l))
                    if l.local.ip() == addr.ip() || l.local.ip().is_unspecified() || addr.ip().is_unspecified())
            })
        });
        if clash || addr.port() == 0 {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let backlog = backlog.clamp(1, SOMAXCONN);
        let listener = Listener {
            host,
            local: addr,
            backlog,
            syn_queue: BTreeSet::new(),
            accept_queue: VecDeque::new(),
            waker: None,
        };
        let id = self.add_socket(Socket::Listener(listener));
        self.listen_ports.entry((host, addr.port())).or_default().push(id);
        Ok(id)
    }

    pub(crate) fn accept(&mut self, id: SocketId, waker: &Waker) -> Option<io::Result<(SocketId, SocketAddr)>> {
        let Some(Socket::Listener(l)) = self.sockets.get_mut(&id) else {
            return Some(Err(io::ErrorKind::NotConnected.into()));
        };
        let Some(child) = l.accept_queue.pop_front() else {
            l.waker = Some(waker.clone());
            return None;
        };
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&child) else {
            return Some(Err(io::ErrorKind::ConnectionAborted.into()));
        };
        conn.owned = true;
        conn.listener = None;
        Some(Ok((child, conn.tcb.peer)))
    }

    pub(crate) fn connect(&mut self, host: usize, to: SocketAddr, from: Option<IpAddr>) -> io::Result<SocketId> {
        let ip = match from {
            Some(ip) => {
                self.check_local(host, ip)?;
                if ip.is_unspecified() { self.source_for(host, to.ip()) } else { ip }
            }
            None => self.source_for(host, to.ip()),
        };
        let taken = |state: &State, port: u16| {
            state.conns.contains_key(&(SocketAddr::new(ip, port), to)) || state.listen_ports.contains_key(&(host, port))
        };
        let port = self.ephemeral_port(host, taken)?;
        let local = SocketAddr::new(ip, port);
        let iss = self.isn(local, to);
        let mut fx = Effects::default();
        let tcb = Tcb::connect(local, to, iss, self.now, &mut fx);
        let id = self.insert_conn(Conn { host, owned: true, listener: None, tcb });
        self.sync_timers(id);
        self.flush(fx);
        Ok(id)
    }

    /// Runs `f` on an owned connection, then sends what it produced.
    pub(crate) fn with_conn<R>(
        &mut self,
        id: SocketId,
        f: impl FnOnce(&mut Tcb, Time, &mut Effects) -> R,
    ) -> Option<R> {
        let now = self.now;
        let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&id) else { return None };
        let mut fx = Effects::default();
        let result = f(&mut conn.tcb, now, &mut fx);
        self.sync_timers(id);
        self.flush(fx);
        Some(result)
    }

    /// The process let go of a socket (closed it, or died).
    pub(crate) fn close(&mut self, id: SocketId) {
        let now = self.now;
        match self.sockets.get_mut(&id) {
            None => {}
            Some(Socket::Udp(s)) => {
                let key = (s.host, s.local.port());
                self.sockets.remove(&id);
                if let Some(ids) = self.udp_ports.get_mut(&key) {
                    ids.retain(|other| *other != id);
                    if ids.is_empty() {
                        self.udp_ports.remove(&key);
                    }
                }
            }
            Some(Socket::Listener(l)) => {
                let key = (l.host, l.local.port());
                let children: Vec<SocketId> =
                    l.accept_queue.drain(..).chain(std::mem::take(&mut l.syn_queue)).collect();
                self.sockets.remove(&id);
                if let Some(ids) = self.listen_ports.get_mut(&key) {
                    ids.retain(|other| *other != id);
                    if ids.is_empty() {
                        self.listen_ports.remove(&key);
                    }
                }
                // Established children waiting to be accepted are reset; handshakes under way end
                // silently, and the client's next segment meets no socket and gets a RST
                // (net/ipv4/inet_connection_sock.c `inet_csk_listen_stop`).
                for child in children {
                    let Some(Socket::Tcp(conn)) = self.sockets.get_mut(&child) else { continue };
                    conn.listener = None;
                    if conn.tcb.state != crate::tcp::TcpState::SynReceived {
                        let mut fx = Effects::default();
                        conn.tcb.abort(now, &mut fx);
                        self.flush(fx);
                    }
                    self.remove_conn(child);
                }
            }
            Some(Socket::Tcp(conn)) => {
                conn.owned = false;
                let mut fx = Effects::default();
                let next = conn.tcb.close(now, &mut fx);
                self.after(id, next);
                self.flush(fx);
            }
        }
    }
}
