//! A master whose IXFR fails: a small relay on loopback (UDP and TCP) in front of our primary
//! that passes every query through unchanged except IXFR, which it answers itself with an
//! error RCODE (NOTIMP: "this master does not do IXFR"). SOA queries, NOTIFY answers and AXFR
//! reach the real primary byte for byte, so the secondaries see one master that serves
//! everything but IXFR — what RFC 1995 §2 asks a secondary to survive by falling back to AXFR.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

const TYPE_IXFR: u16 = 251;
const RCODE_NOTIMP: u8 = 4;

/// The relay; dropping it stops listening (connections already relayed end with their ends).
pub struct IxfrRefusingRelay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl IxfrRefusingRelay {
    /// Listens on `addr` (UDP and TCP) and relays to `upstream`.
    pub fn start(addr: SocketAddr, upstream: SocketAddr) -> Result<IxfrRefusingRelay, String> {
        let io = |e: std::io::Error| format!("relay on {addr}: {e}");
        let udp = UdpSocket::bind(addr).map_err(io)?;
        udp.set_read_timeout(Some(Duration::from_millis(100))).map_err(io)?;
        let tcp = TcpListener::bind(addr).map_err(io)?;
        tcp.set_nonblocking(true).map_err(io)?;
        let stop = Arc::new(AtomicBool::new(false));
        let udp_stop = stop.clone();
        let udp_thread = std::thread::spawn(move || relay_udp(&udp, upstream, &udp_stop));
        let tcp_stop = stop.clone();
        let tcp_thread = std::thread::spawn(move || accept_tcp(&tcp, upstream, &tcp_stop));
        Ok(IxfrRefusingRelay { addr, stop, threads: vec![udp_thread, tcp_thread] })
    }
}

impl Drop for IxfrRefusingRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The QTYPE of a query, and where its question ends. Names in a query's question are never
/// compressed (nothing precedes them to point at), so labels are walked to the root.
fn question(message: &[u8]) -> Option<(u16, usize)> {
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xC0 != 0 {
            return None;
        }
        at += 1 + len;
    }
    let qtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
    // QTYPE and QCLASS.
    (message.len() >= at + 4).then_some((qtype, at + 4))
}

/// An answer to `query` with `rcode` and nothing but the question: same ID, opcode and RD,
/// QR set, no records.
fn error_answer(query: &[u8], question_end: usize, rcode: u8) -> Vec<u8> {
    let mut answer = query[..question_end].to_vec();
    answer[2] = 0x80 | (query[2] & 0x79);
    answer[3] = rcode;
    answer[4..6].copy_from_slice(&1u16.to_be_bytes());
    answer[6..12].fill(0);
    answer
}

/// `Some(answer)` when the relay answers `query` itself (an IXFR).
fn own_answer(query: &[u8]) -> Option<Vec<u8>> {
    match question(query) {
        Some((TYPE_IXFR, end)) => Some(error_answer(query, end, RCODE_NOTIMP)),
        _ => None,
    }
}

fn relay_udp(socket: &UdpSocket, upstream: SocketAddr, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_535];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, client)) = socket.recv_from(&mut buf) else { continue };
        let query = &buf[..len];
        if let Some(answer) = own_answer(query) {
            let _ = socket.send_to(&answer, client);
            continue;
        }
        // One socket per query, connected to the primary: its answer (or ICMP refusal) comes
        // back on it alone.
        let Ok(out) = UdpSocket::bind(("127.0.0.1", 0)) else { continue };
        let _ = out.set_read_timeout(Some(Duration::from_secs(2)));
        if out.connect(upstream).is_err() || out.send(query).is_err() {
            continue;
        }
        let mut answer = vec![0u8; 65_535];
        if let Ok(n) = out.recv(&mut answer) {
            let _ = socket.send_to(&answer[..n], client);
        }
    }
}

fn accept_tcp(listener: &TcpListener, upstream: SocketAddr, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                // Each connection lives on its own threads until either end closes it.
                std::thread::spawn(move || relay_tcp(client, upstream));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).ok()?;
    Some(message)
}

fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).map_err(|_| std::io::Error::other("message too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    stream.write_all(&framed)
}

/// Answers each IXFR query on the connection itself and passes every other message to the
/// primary over one connection of its own, opened at the first such message (a secondary may
/// send its SOA query and then its IXFR on one connection, as Knot does). The primary's
/// messages are copied back whole, so the two writers never interleave inside a message.
fn relay_tcp(client: TcpStream, upstream: SocketAddr) {
    let _ = client.set_nodelay(true);
    let Ok(writer) = client.try_clone() else { return };
    let writer = Arc::new(std::sync::Mutex::new(writer));
    let mut reader = client;
    let mut server: Option<TcpStream> = None;
    let mut back: Option<JoinHandle<()>> = None;
    while let Some(query) = read_framed(&mut reader) {
        if let Some(answer) = own_answer(&query) {
            let mut w = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if write_framed(&mut w, &answer).is_err() {
                break;
            }
            continue;
        }
        if server.is_none() {
            let Ok(stream) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else { break };
            let _ = stream.set_nodelay(true);
            let (Ok(mut from_server), writer) = (stream.try_clone(), writer.clone()) else { break };
            back = Some(std::thread::spawn(move || {
                while let Some(message) = read_framed(&mut from_server) {
                    let mut w = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if write_framed(&mut w, &message).is_err() {
                        break;
                    }
                }
                let w = writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let _ = w.shutdown(std::net::Shutdown::Both);
            }));
            server = Some(stream);
        }
        if server.as_mut().is_some_and(|s| write_framed(s, &query).is_err()) {
            break;
        }
    }
    if let Some(server) = server {
        let _ = server.shutdown(std::net::Shutdown::Both);
    }
    if let Some(back) = back {
        let _ = back.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_ixfr_notimp_with_the_question() {
        // ID 0x1234, RD set, one question (interop.test. IXFR IN) and, as IXFR carries, one
        // SOA in the authority section: the answer keeps the question only.
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 1, 0, 0];
        query.extend_from_slice(b"\x07interop\x04test\x00\x00\xfb\x00\x01");
        let question_end = query.len();
        query.extend_from_slice(b"\xc0\x0c\x00\x06\x00\x01");
        let answer = own_answer(&query).expect("IXFR is answered");
        assert_eq!(&answer[..12], &[0x12, 0x34, 0x81, RCODE_NOTIMP, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&answer[12..], &query[12..question_end]);
        // AXFR passes through.
        let mut axfr = query.clone();
        axfr[question_end - 3] = 0xfc;
        assert!(own_answer(&axfr).is_none());
    }
}
