//! One direction of a link between two addresses: what it does to each packet (filters per
//! protocol, hold, loss, latency and jitter, bandwidth), and the packets a rejecting firewall
//! sends back.

use std::net::IpAddr;
use std::time::Duration;

use xfrsim_engine::{SeededRng, Time};
use xfrsim_zone::mix64;

use crate::packet::Packet;

/// What a filter does to the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    Open,
    /// Silence: the packet vanishes (a partition, a firewall that drops).
    Drop,
    /// A firewall that rejects: TCP gets a RST, UDP an ICMP port unreachable, both at once.
    Reject,
}

/// Which transport a filter applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    Udp,
    Tcp,
    Both,
}

/// One direction of a link between two addresses.
#[derive(Debug)]
pub(crate) struct Link {
    /// This link's own random stream (latency, loss): traffic elsewhere never shifts it.
    rng: SeededRng,
    pub(crate) udp: Filter,
    pub(crate) tcp: Filter,
    /// `Hold`: packets wait here, in order, until released.
    pub(crate) held: Option<Vec<Packet>>,
    /// Latency range override (whole milliseconds, drawn per packet).
    pub(crate) latency: Option<(Duration, Duration)>,
    /// Probability that a packet is lost.
    pub(crate) loss: f64,
    /// Bits per second; `None`: no limit.
    pub(crate) bandwidth_bps: Option<u64>,
    /// When the link's transmitter is free again (bandwidth model).
    busy_until: Duration,
    /// Latest arrival scheduled on this link: a link is a FIFO, so jitter never reorders it.
    last_arrival: Time,
}

impl Link {
    pub(crate) fn new(seed: u64, from: IpAddr, to: IpAddr) -> Link {
        let ends = format!("{from}>{to}");
        Link {
            rng: SeededRng::new(mix64(seed ^ xfrsim_zone::fnv1a64(ends.as_bytes()))),
            udp: Filter::Open,
            tcp: Filter::Open,
            held: None,
            latency: None,
            loss: 0.0,
            bandwidth_bps: None,
            busy_until: Duration::ZERO,
            last_arrival: Time::ZERO,
        }
    }
}

impl Link {
    /// Whether the next packet is lost (a draw from this link's stream).
    pub(crate) fn loses(&mut self) -> bool {
        if self.loss <= 0.0 {
            return false;
        }
        // 53 bits of the stream: an exact uniform in [0, 1).
        let draw = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        draw < self.loss
    }

    /// When a packet of `size` bytes leaving at `now` arrives: its transmission time at the
    /// link's bandwidth after whatever is queued ahead of it, plus a latency drawn in whole
    /// milliseconds, never before the previous packet on the link (a link is a FIFO).
    pub(crate) fn arrival(&mut self, now: Time, size: u32, default_latency: (Duration, Duration)) -> Time {
        let (min, max) = self.latency.unwrap_or(default_latency);
        let span_ms = u64::try_from(max.saturating_sub(min).as_millis()).unwrap_or(0);
        let latency = min + Duration::from_millis(self.rng.below(span_ms + 1));
        let departure = match self.bandwidth_bps {
            Some(bps) => {
                let start = self.busy_until.max(now.since_origin());
                let bits = u128::from(size) * 8;
                let nanos = (bits * 1_000_000_000).div_ceil(u128::from(bps.max(1)));
                let done = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                self.busy_until = done;
                done
            }
            None => now.since_origin(),
        };
        let at = Time::from_duration(whole_millis_up(departure + latency)).max(self.last_arrival);
        self.last_arrival = at;
        at
    }
}

fn whole_millis_up(d: Duration) -> Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}
