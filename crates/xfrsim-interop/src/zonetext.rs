//! The zone every check transfers, as master-file text that BIND, Knot, NSD and xfrsim all
//! load: a few thousand records of the common types, a delegation with glue, and one change.

use hickory_proto::rr::Name;
use xfrsim_zone::{Zone, ZoneFileError, parse_zone_text};

/// The zone the checks transfer (`.test` is reserved for testing, RFC 2606 §2).
pub const ORIGIN: &str = "interop.test.";

/// SOA timers as an operator would set them: refresh 1 h, retry 10 min, expire 14 days,
/// negative TTL 5 min. Only the event-sequence checks wait for timers, and they set their own
/// ([`ZoneText::with_timers`]); elsewhere NOTIFY and the initial load drive every transfer.
const SOA_TIMERS: SoaTimers = SoaTimers { refresh: 3600, retry: 600, expire: 1_209_600, minimum: 300 };

/// The SOA's timer fields, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// Master-file text of a zone: the SOA (kept apart so the serial can change) and the other
/// records, one per line, absolute names, explicit TTL and class.
#[derive(Debug, Clone)]
pub struct ZoneText {
    pub origin: String,
    pub serial: u32,
    pub timers: SoaTimers,
    pub records: Vec<String>,
}

/// A change made to the zone: records deleted and added (as `nsupdate` lines).
#[derive(Debug, Clone)]
pub struct ZoneChange {
    pub delete: Vec<String>,
    pub add: Vec<String>,
}

impl ZoneText {
    /// `hosts` hosts with an A record each, and AAAA, TXT, CNAME and SRV records for some of
    /// them: about 1.77 × `hosts` records in all.
    pub fn generated(origin: &str, serial: u32, hosts: usize) -> ZoneText {
        let o = origin;
        let mut records = vec![
            format!("{o} 3600 IN NS ns1.{o}"),
            format!("{o} 3600 IN NS ns2.{o}"),
            format!("{o} 3600 IN MX 10 mail.{o}"),
            format!("ns1.{o} 3600 IN A 192.0.2.1"),
            format!("ns2.{o} 3600 IN A 192.0.2.2"),
            format!("mail.{o} 3600 IN A 192.0.2.25"),
            // A delegation: the NS set and its glue are part of the zone's transfer.
            format!("sub.{o} 3600 IN NS ns.sub.{o}"),
            format!("ns.sub.{o} 3600 IN A 192.0.2.53"),
        ];
        for i in 0..hosts {
            records.push(format!("host{i}.{o} 300 IN A 10.{}.{}.{}", i >> 16, (i >> 8) & 0xff, i & 0xff));
            if i % 3 == 0 {
                records.push(format!("host{i}.{o} 300 IN AAAA 2001:db8::{i:x}"));
            }
            if i % 5 == 0 {
                records.push(format!("host{i}.{o} 300 IN TXT \"host {i}\" \"v=interop; n={i}\""));
            }
            if i % 7 == 0 {
                records.push(format!("alias{i}.{o} 300 IN CNAME host{i}.{o}"));
            }
            if i % 11 == 0 {
                records.push(format!("_svc{i}._tcp.{o} 300 IN SRV 0 5 443 host{i}.{o}"));
            }
        }
        ZoneText { origin: origin.to_string(), serial, timers: SOA_TIMERS, records }
    }

    /// The same zone with other SOA timers.
    pub fn with_timers(mut self, timers: SoaTimers) -> ZoneText {
        self.timers = timers;
        self
    }

    pub fn soa_line(&self) -> String {
        let o = &self.origin;
        let t = self.timers;
        format!(
            "{o} 3600 IN SOA ns1.{o} hostmaster.{o} {} {} {} {} {}",
            self.serial, t.refresh, t.retry, t.expire, t.minimum
        )
    }

    pub fn render(&self) -> String {
        let mut text = String::with_capacity(self.records.len() * 48);
        text.push_str(&self.soa_line());
        text.push('\n');
        for record in &self.records {
            text.push_str(record);
            text.push('\n');
        }
        text
    }

    /// The zone as xfrsim loads it.
    pub fn to_zone(&self) -> Result<Zone, ZoneFileError> {
        let origin = Name::from_ascii(&self.origin).expect("generated zones have valid origins");
        Ok(parse_zone_text(&self.render(), "generated zone", &origin)?.zone)
    }

    /// The text after `change` and a serial increment of one (what a dynamic update does).
    pub fn changed(&self, change: &ZoneChange) -> ZoneText {
        let mut next = self.clone();
        next.serial = self.serial.wrapping_add(1);
        next.records.retain(|r| !change.delete.contains(r));
        next.records.extend(change.add.iter().cloned());
        next
    }
}

impl ZoneChange {
    /// One record removed and two added: enough for an IXFR with both halves.
    pub fn sample(origin: &str) -> ZoneChange {
        let o = origin;
        ZoneChange {
            delete: vec![format!("host1.{o} 300 IN A 10.0.0.1")],
            add: vec![
                format!("added.{o} 300 IN A 192.0.2.200"),
                format!("added.{o} 300 IN TXT \"added by the interop check\""),
            ],
        }
    }
}
