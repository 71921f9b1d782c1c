//! What travels between hosts: IPv4/IPv6 packets carrying a UDP datagram, a TCP segment or an
//! ICMP port unreachable. Only the fields the model acts on; sizes on the wire are computed
//! from the header sizes in [`crate::linux`].

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use crate::linux::{ICMP_UNREACHABLE_BYTES, TCP_HEADER_BYTES, UDP_HEADER_BYTES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Udp(Datagram),
    Tcp(Segment),
    /// ICMP destination unreachable, code 3 (port), about the datagram from `quoted_src` to
    /// `quoted_dst` (RFC 792 quotes its IP header and first 8 bytes: both ports and, for DNS,
    /// the message id).
    PortUnreachable {
        quoted_src: SocketAddr,
        quoted_dst: SocketAddr,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Bytes,
}

/// The control bits the model uses (RFC 9293 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    /// The receive window offered, in bytes (window scaling is taken as negotiated, so the
    /// value is not limited to 16 bits).
    pub window: u32,
    /// RFC 7323 timestamps, which Linux negotiates by default (`net.ipv4.tcp_timestamps` = 1),
    /// in milliseconds: the sender's clock and the last value it received. Every ACK of new
    /// data gives an RTT sample from the echo, retransmitted or not.
    pub ts_val: u32,
    pub ts_ecr: u32,
    pub payload: Bytes,
}

impl Segment {
    /// Sequence space the segment occupies: its payload, plus one for SYN and one for FIN.
    pub fn len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Packet {
    /// Bytes on the wire (what a link's bandwidth is spent on).
    pub fn size(&self) -> u32 {
        match &self.body {
            Body::Udp(d) => UDP_HEADER_BYTES + d.payload.len() as u32,
            Body::Tcp(s) => TCP_HEADER_BYTES + s.payload.len() as u32,
            Body::PortUnreachable { .. } => ICMP_UNREACHABLE_BYTES,
        }
    }

    pub fn is_tcp(&self) -> bool {
        matches!(self.body, Body::Tcp(_))
    }
}

/// RFC 1982-style comparisons of 32-bit sequence numbers (RFC 9293 §3.4).
pub(crate) fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

pub(crate) fn seq_le(a: u32, b: u32) -> bool {
    a == b || seq_lt(a, b)
}
