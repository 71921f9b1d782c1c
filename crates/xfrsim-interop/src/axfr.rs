//! Our own AXFR client on a raw TCP socket: every record exactly as it came off the wire
//! (owner case, TTL, RDATA bytes), plus what the transfer cost (messages, bytes, time to the
//! first byte, total). It reads peers and our own node alike, so comparisons see bytes, not a
//! client's printout of them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use xfrsim_zone::wire::{Message, RCODE_NOERROR, TYPE_AXFR};
use xfrsim_zone::{CLASS_IN, SOA, ZoneRecord};

/// A complete AXFR as received.
#[derive(Debug, Clone)]
pub struct Axfr {
    /// Every record of every message, in order: SOA first and last (RFC 5936 §2.2).
    pub records: Vec<ZoneRecord>,
    pub messages: usize,
    /// Message bytes, without the 2-byte TCP length prefixes (as BIND's and Knot's logs count).
    pub bytes: usize,
    /// From sending the query to the first byte of the answer.
    pub first_byte: Duration,
    /// From sending the query to the closing SOA.
    pub total: Duration,
}

/// Transfers `zone` from `server`; fails after `deadline` in all.
#[expect(clippy::disallowed_methods, reason = "measures a real transfer on real sockets")]
pub fn axfr(server: SocketAddr, zone: &Name, deadline: Duration) -> Result<Axfr, String> {
    let fail = |what: &str, e: std::io::Error| format!("AXFR from {server}: {what}: {e}");
    let mut stream = TcpStream::connect_timeout(&server, deadline).map_err(|e| fail("connect", e))?;
    stream.set_nodelay(true).map_err(|e| fail("socket", e))?;
    let query = xfrsim_engine::wire::query(0x7a7a, zone, TYPE_AXFR);
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&query);
    let start = Instant::now();
    stream.write_all(&framed).map_err(|e| fail("send", e))?;
    let mut records = Vec::new();
    let (mut messages, mut bytes) = (0, 0);
    let mut first_byte = None;
    let mut soas = 0;
    while soas < 2 {
        let left = deadline.checked_sub(start.elapsed()).filter(|d| !d.is_zero()).ok_or_else(|| {
            format!("AXFR from {server}: not complete within {deadline:?} ({messages} messages so far)")
        })?;
        stream.set_read_timeout(Some(left)).map_err(|e| fail("socket", e))?;
        let mut prefix = [0u8; 2];
        stream.read_exact(&mut prefix).map_err(|e| fail("read", e))?;
        first_byte.get_or_insert_with(|| start.elapsed());
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
        stream.read_exact(&mut body).map_err(|e| fail("read", e))?;
        messages += 1;
        bytes += body.len();
        let message = Message::parse(&body).map_err(|e| format!("AXFR from {server}: message {messages}: {e}"))?;
        if message.id != 0x7a7a || !message.is_response() {
            return Err(format!("AXFR from {server}: message {messages} is not an answer to our query"));
        }
        if message.rcode() != u16::from(RCODE_NOERROR) {
            return Err(format!("AXFR from {server}: rcode {}", message.rcode()));
        }
        for record in &message.answers {
            if record.class != CLASS_IN {
                return Err(format!("AXFR from {server}: a record of class {}", record.class));
            }
            let parsed = message.zone_record(record);
            if parsed.rtype() == SOA {
                soas += 1;
            }
            records.push(parsed);
        }
        if records.first().is_some_and(|r| r.rtype() != SOA) {
            return Err(format!("AXFR from {server}: the first record is not an SOA"));
        }
    }
    Ok(Axfr { records, messages, bytes, first_byte: first_byte.unwrap_or_default(), total: start.elapsed() })
}

/// RFC 5936 §2.2: the zone SOA first and last, the same bytes, and no SOA between.
pub fn check_axfr_shape(records: &[ZoneRecord]) -> Result<(), String> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err("no records".to_string());
    };
    if records.len() < 2 || first.rtype() != SOA || !first.same_bytes(last) {
        return Err(format!("does not open and close with the same SOA: `{first}` … `{last}`"));
    }
    if let Some(soa) = records[1..records.len() - 1].iter().find(|r| r.rtype() == SOA) {
        return Err(format!("an SOA inside: `{soa}`"));
    }
    Ok(())
}

/// The records of two AXFRs (closing SOA dropped), as multisets: every record of one equals
/// one of the other byte for byte (owner, type, TTL, RDATA; class is IN in both), or — with
/// `fold_case` — equal once the case of every name (owner and names inside RDATA) is folded.
pub fn compare_records(ours: &[ZoneRecord], theirs: &[ZoneRecord], fold_case: bool) -> Result<(), String> {
    let key = |r: &ZoneRecord| {
        let (owner, rdata) = if fold_case {
            (r.owner().to_ascii_lowercase(), xfrsim_zone::rdata::fold_name_case(r.rtype(), r.rdata()))
        } else {
            (r.owner().to_vec(), r.rdata().to_vec())
        };
        (owner, r.rtype(), r.ttl(), rdata)
    };
    let sorted = |records: &[ZoneRecord]| {
        let mut keyed: Vec<_> =
            records[..records.len().saturating_sub(1)].iter().map(|r| (key(r), r.to_string())).collect();
        keyed.sort();
        keyed
    };
    let (a, b) = (sorted(ours), sorted(theirs));
    let only_ours: Vec<&String> = a.iter().filter(|x| !b.iter().any(|y| y.0 == x.0)).map(|x| &x.1).take(3).collect();
    let only_theirs: Vec<&String> = b.iter().filter(|y| !a.iter().any(|x| x.0 == y.0)).map(|y| &y.1).take(3).collect();
    if a.len() != b.len()
        || !only_ours.is_empty()
        || !only_theirs.is_empty()
        || a.iter().zip(&b).any(|(x, y)| x.0 != y.0)
    {
        return Err(format!(
            "{} records here, {} there; only here: {only_ours:?}; only there: {only_theirs:?}",
            a.len(),
            b.len()
        ));
    }
    Ok(())
}
