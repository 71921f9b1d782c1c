//! What a primary answers to requests it refuses, compared with the real server: the RCODE for
//! AXFR asked over UDP (`Behaviour::axfr_udp_rcode`, `axfr_udp_before_acl`) and for a transfer
//! its ACL denies (`Behaviour::transfer_denied_rcode`). Our primary runs with the peer's
//! profile.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_proto::rr::Name;
use xfrsim_engine::{Acl, Behaviour, ZoneConfig, wire};
use xfrsim_zone::wire::TYPE_AXFR;

use super::{SERIAL, Session, generated_zone, origin, port, primary_config, profile_of};
use crate::peer::{Peer, PeerRole};
use crate::zonetext::ZoneText;

/// How long a refusal may take on loopback.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The RCODE of the answer to an AXFR query sent over UDP.
fn axfr_over_udp(to: SocketAddr, zone: &Name) -> Result<u8, String> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("cannot bind: {e}"))?;
    socket.set_read_timeout(Some(ANSWER_WITHIN)).map_err(|e| e.to_string())?;
    socket.send_to(&wire::query(0x5544, zone, TYPE_AXFR), to).map_err(|e| format!("AXFR to {to}: {e}"))?;
    let mut answer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut answer).map_err(|e| format!("no answer over UDP from {to}: {e}"))?;
    rcode_of(&answer[..len], to)
}

/// The RCODE of the first message answering an AXFR query over TCP.
fn axfr_over_tcp(to: SocketAddr, zone: &Name) -> Result<u8, String> {
    let mut stream = TcpStream::connect_timeout(&to, ANSWER_WITHIN).map_err(|e| format!("connect {to}: {e}"))?;
    stream.set_read_timeout(Some(ANSWER_WITHIN)).map_err(|e| e.to_string())?;
    let query = wire::query(0x5545, zone, TYPE_AXFR);
    let mut framed = u16::try_from(query.len()).expect("a short query").to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    stream.write_all(&framed).map_err(|e| format!("AXFR to {to}: {e}"))?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).map_err(|e| format!("no answer over TCP from {to}: {e}"))?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message).map_err(|e| format!("a short answer from {to}: {e}"))?;
    rcode_of(&message, to)
}

fn rcode_of(message: &[u8], from: SocketAddr) -> Result<u8, String> {
    match message.get(3) {
        Some(flags) if message.len() >= 12 => Ok(flags & 0x0f),
        _ => Err(format!("a {}-octet answer from {from}", message.len())),
    }
}

/// The peer serves two zones: one nobody may transfer, one 127.0.0.1 may; ours the same, with
/// the peer's profile. AXFR over UDP for each, and a denied AXFR over TCP, must draw the same
/// RCODEs from both (BIND answers the denial before it looks at the transport).
pub fn server_answers(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (peer_addr, our_addr) = (port()?, port()?);
    let denied = generated_zone();
    let allowed = ZoneText::generated("other.test.", SERIAL, 10);
    let other = Name::from_ascii(allowed.origin.as_str()).map_err(|e| e.to_string())?;
    s.start_peer(
        peer,
        peer_addr,
        &[
            PeerRole::Primary { zone: denied.clone(), notify: None, allow_transfer: false },
            PeerRole::Primary { zone: allowed.clone(), notify: None, allow_transfer: true },
        ],
    )?;
    let nobody = Acl::hosts([IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))]);
    let closed = ZoneConfig { allow_transfer: nobody, ..primary_config(&denied, vec![])? };
    let data = allowed.to_zone().map_err(|e| format!("the second zone does not load: {e}"))?;
    let open = ZoneConfig { allow_transfer: Acl::Any, ..ZoneConfig::primary(other.clone(), data) };
    s.start_named("xfrsim", our_addr, vec![closed, open], Some(Behaviour::of(profile_of(peer))))?;
    type Ask = fn(SocketAddr, &Name) -> Result<u8, String>;
    let cases: [(&str, &str, Ask, &Name); 3] = [
        ("AXFR over UDP, ACL denies", "Behaviour::axfr_udp_rcode, axfr_udp_before_acl", axfr_over_udp, &origin()),
        ("AXFR over UDP, ACL allows", "Behaviour::axfr_udp_rcode", axfr_over_udp, &other),
        ("AXFR over TCP, ACL denies", "Behaviour::transfer_denied_rcode", axfr_over_tcp, &origin()),
    ];
    for (what, row, ask, zone) in cases {
        let (theirs, ours) = (ask(peer_addr, zone)?, ask(our_addr, zone)?);
        if theirs != ours {
            return Err(format!("{what}: {} answers RCODE {theirs}, xfrsim {ours} ({row})", peer.name()));
        }
    }
    Ok(())
}
