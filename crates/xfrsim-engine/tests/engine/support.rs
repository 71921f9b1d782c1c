//! Zone and node builders shared by the engine tests.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record};
use xfrsim_engine::{Acl, NodeConfig, Timeouts, ZoneConfig};
use xfrsim_zone::{Zone, soa_record};

pub const HOUR: u64 = 3600;
pub const DAY: u64 = 86_400;

pub fn origin() -> Name {
    Name::from_ascii("example.com.").unwrap()
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Realistic timers: refresh 1 h, retry 10 min, expire 1 day.
pub fn zone(serial: u32, hosts: u32) -> Zone {
    zone_with_timers(serial, hosts, 3600, 600, 86_400)
}

pub fn zone_with_timers(serial: u32, hosts: u32, refresh: i32, retry: i32, expire: i32) -> Zone {
    let origin = origin();
    let mut records = vec![soa_record(&origin, serial, refresh, retry, expire)];
    records.push(Record::from_rdata(
        origin.clone(),
        3600,
        RData::NS(hickory_proto::rr::rdata::NS(Name::from_ascii("ns1.example.com.").unwrap())),
    ));
    for i in 0..hosts {
        let name = Name::from_ascii(format!("host{i}.example.com.")).unwrap();
        records.push(Record::from_rdata(name.clone(), 300, RData::A(A::new(10, 0, (i / 256) as u8, (i % 256) as u8))));
        records.push(Record::from_rdata(
            name,
            300,
            RData::TXT(TXT::new(vec![format!("host number {i} with some padding text")])),
        ));
    }
    Zone::new(origin, records).unwrap()
}

pub fn a_record(label: &str, last: u8) -> Record {
    Record::from_rdata(
        Name::from_ascii(format!("{label}.example.com.")).unwrap(),
        300,
        RData::A(A::new(198, 51, 100, last)),
    )
}

pub fn node(name: &str, last: u8, zones: Vec<ZoneConfig>) -> NodeConfig {
    NodeConfig { name: name.into(), addresses: vec![crate::net::addr(last)], zones, timeouts: Timeouts::default() }
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
