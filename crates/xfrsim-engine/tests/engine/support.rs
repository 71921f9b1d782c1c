//! Zone, node and message builders shared by the engine tests.
//!
//! Zones are built from hickory records converted with `ZoneRecord::from_hickory`, and every
//! message a test sends as a peer (a secondary asking, a primary answering) is built and read
//! with hickory-proto: an implementation independent of the engine's own `xfrsim_zone::wire`,
//! so what the engine emits is checked by a second reader.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use xfrsim_engine::{Acl, Behaviour, NodeConfig, Profile, ZoneConfig};
use xfrsim_zone::{Serial, Zone, ZoneRecord, soa_record};

pub const HOUR: u64 = 3600;
pub const DAY: u64 = 86_400;

pub fn origin() -> Name {
    Name::from_ascii("example.com.").unwrap()
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A hickory record as zone data (panics on records the zone model refuses).
pub fn zr(record: &Record) -> ZoneRecord {
    ZoneRecord::from_hickory(record).unwrap_or_else(|e| panic!("{record}: {e}"))
}

/// The apex NS every zone needs (BIND refuses a zone without one: "has no NS records").
pub fn apex_ns(origin: &Name) -> ZoneRecord {
    let target = Name::from_ascii("ns1").unwrap().append_domain(origin).unwrap();
    zr(&Record::from_rdata(origin.clone(), 3600, RData::NS(NS(target))))
}

/// A zone at `origin`: SOA (realistic timers), apex NS, and `extra` records.
pub fn zone_at(origin: &Name, serial: u32, extra: impl IntoIterator<Item = Record>) -> Zone {
    let mut records = vec![soa_record(origin, serial, 3600, 600, 86_400), apex_ns(origin)];
    records.extend(extra.into_iter().map(|r| zr(&r)));
    Zone::new(origin.clone(), records).unwrap()
}

/// Realistic timers: refresh 1 h, retry 10 min, expire 1 day.
pub fn zone(serial: u32, hosts: u32) -> Zone {
    zone_with_timers(serial, hosts, 3600, 600, 86_400)
}

pub fn zone_with_timers(serial: u32, hosts: u32, refresh: u32, retry: u32, expire: u32) -> Zone {
    let origin = origin();
    let mut records = vec![soa_record(&origin, serial, refresh, retry, expire), apex_ns(&origin)];
    for i in 0..hosts {
        let name = Name::from_ascii(format!("host{i}.example.com.")).unwrap();
        records.push(zr(&Record::from_rdata(
            name.clone(),
            300,
            RData::A(A::new(10, 0, (i / 256) as u8, (i % 256) as u8)),
        )));
        records.push(zr(&Record::from_rdata(
            name,
            300,
            RData::TXT(TXT::new(vec![format!("host number {i} with some padding text")])),
        )));
    }
    Zone::new(origin, records).unwrap()
}

/// `<label>.example.com. 300 IN A 198.51.100.<last>` as hickory builds it (for messages).
pub fn a_rr(label: &str, last: u8) -> Record {
    Record::from_rdata(
        Name::from_ascii(format!("{label}.example.com.")).unwrap(),
        300,
        RData::A(A::new(198, 51, 100, last)),
    )
}

/// The same record as zone data (for `Change::Add`).
pub fn a_record(label: &str, last: u8) -> ZoneRecord {
    zr(&a_rr(label, last))
}

/// The serial of a hickory SOA record.
pub fn soa_serial(record: &Record) -> Option<Serial> {
    match &record.data {
        RData::SOA(soa) => Some(Serial(soa.serial)),
        _ => None,
    }
}

/// BIND's `transfer-message-size` default: the uncompressed record data one transfer message
/// carries (`xfrout.c` starts a new message when the next record would not fit; a record
/// larger than this goes alone). The engine follows it rather than filling 64 KiB messages.
pub const TRANSFER_MESSAGE_SIZE: usize = 20_480;

/// A record's uncompressed wire size: owner, type, class, TTL, RDLENGTH, RDATA — BIND's
/// measure for `transfer-message-size`.
pub fn uncompressed_len(record: &ZoneRecord) -> usize {
    record.owner().len() + 10 + record.rdata().len()
}

/// Uncompressed size of a whole AXFR of `zone` (both SOAs included).
pub fn axfr_bytes(zone: &Zone) -> usize {
    zone.axfr_records().map(uncompressed_len).sum()
}

/// A zone record as hickory decodes it.
pub fn hk(record: &ZoneRecord) -> Record {
    record.to_hickory().unwrap_or_else(|| panic!("hickory decodes {record}"))
}

// ----- messages, built and read with hickory ------------------------------------------------

pub fn question(name: &Name, rtype: RecordType) -> Query {
    let mut q = Query::query(name.clone(), rtype);
    q.set_query_class(DNSClass::IN);
    q
}

pub fn query(id: u16, name: &Name, rtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(question(name, rtype));
    m
}

/// RFC 1995 §3: IXFR carries the client's current SOA in the authority section.
pub fn ixfr_query(id: u16, zone: &Name, current_soa: &ZoneRecord) -> Message {
    let mut m = query(id, zone, RecordType::IXFR);
    m.add_authority(hk(current_soa));
    m
}

/// A response echoing the request's id, opcode and question.
pub fn response_to(request: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, rcode);
    m.add_queries(request.queries.iter().cloned());
    m
}

// ----- nodes ----------------------------------------------------------------------------------

pub fn node(name: &str, last: u8, zones: Vec<ZoneConfig>) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        addresses: vec![crate::net::addr(last)],
        zones,
        behaviour: Behaviour::of(Profile::Bind),
    }
}

pub fn primary(zone: Zone, notify: Vec<SocketAddr>) -> ZoneConfig {
    let mut config = ZoneConfig::primary(origin(), zone);
    config.notify = notify;
    config.allow_transfer = Acl::Any;
    config
}

pub fn secondary(masters: Vec<SocketAddr>) -> ZoneConfig {
    ZoneConfig::secondary(origin(), masters)
}
