//! The scenario file's shape. Every struct refuses unknown fields, so a typo is an error with
//! its position, never a silently ignored setting.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One scenario: the servers and zones, a timeline of faults and operator actions, and what
/// must be observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Defaults to the file name without `.ron`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Seed for the network and every engine; defaults to [`crate::DEFAULT_SEED`].
    #[serde(default)]
    pub seed: Option<u64>,
    /// How much simulated time the scenario runs.
    #[serde(with = "crate::duration::required")]
    pub duration: Duration,
    #[serde(default)]
    pub network: Network,
    pub zones: Vec<ZoneSpec>,
    pub servers: Vec<ServerSpec>,
    /// Addresses where a host exists but nothing ever answers: packets vanish, TCP connects
    /// hang (a wrong master IP on an empty segment).
    #[serde(default)]
    pub silent_hosts: Vec<IpAddr>,
    /// Addresses where a host answers but runs no DNS service: TCP connects are refused.
    #[serde(default)]
    pub closed_hosts: Vec<IpAddr>,
    #[serde(default)]
    pub timeline: Vec<Step>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

/// Message latency, drawn per message between `min_latency` and `max_latency` (whole ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(with = "crate::duration::required", default = "default_min_latency")]
    pub min_latency: Duration,
    #[serde(with = "crate::duration::required", default = "default_max_latency")]
    pub max_latency: Duration,
}

fn default_min_latency() -> Duration {
    Duration::from_millis(1)
}

fn default_max_latency() -> Duration {
    Duration::from_millis(20)
}

impl Default for Network {
    fn default() -> Self {
        Network { min_latency: default_min_latency(), max_latency: default_max_latency() }
    }
}

/// A zone's initial content at its primary: an SOA with these timers plus either `hosts`
/// generated records (`hostN A` and `hostN TXT`) or the records of a master `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    pub origin: String,
    /// Initial serial (ignored when `file` gives the SOA).
    #[serde(default = "default_serial")]
    pub serial: u32,
    #[serde(with = "crate::duration::required", default = "default_refresh")]
    pub refresh: Duration,
    #[serde(with = "crate::duration::required", default = "default_retry")]
    pub retry: Duration,
    #[serde(with = "crate::duration::required", default = "default_expire")]
    pub expire: Duration,
    #[serde(default)]
    pub hosts: u32,
    /// A master file, relative to the scenario file; its SOA replaces serial and timers.
    #[serde(default)]
    pub file: Option<String>,
}

fn default_serial() -> u32 {
    2_026_010_101
}
fn default_refresh() -> Duration {
    Duration::from_secs(3600)
}
fn default_retry() -> Duration {
    Duration::from_secs(600)
}
fn default_expire() -> Duration {
    Duration::from_secs(7 * 86_400)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    pub name: String,
    /// The server's address: where its name points in master and notify lists.
    pub address: IpAddr,
    /// More addresses the server owns and listens on (answers leave from the address asked).
    #[serde(default)]
    pub other_addresses: Vec<IpAddr>,
    /// Which real server this one behaves as (default `Bind`).
    #[serde(default)]
    pub profile: ServerProfile,
    /// Settings over the profile's defaults, named as the real servers name them.
    #[serde(default)]
    pub options: Options,
    pub zones: Vec<ServerZone>,
}

/// The real server a simulated one behaves as (see the profile table in docs/scenarios.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ServerProfile {
    /// ISC BIND 9: the default, as the most deployed.
    #[default]
    Bind,
    Knot,
    Nsd,
}

impl ServerProfile {
    pub fn engine(self) -> xfrsim_engine::Profile {
        match self {
            ServerProfile::Bind => xfrsim_engine::Profile::Bind,
            ServerProfile::Knot => xfrsim_engine::Profile::Knot,
            ServerProfile::Nsd => xfrsim_engine::Profile::Nsd,
        }
    }
}

/// Settings over a profile's defaults, for a server or (`options` on a zone) for one zone;
/// each absent one keeps the value beneath it. Durations are written as `"5s"`, `"2h"`, ...
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default, with = "crate::duration::optional")]
    pub notify_delay: Option<Duration>,
    /// Server-wide only, as in every real server.
    #[serde(default)]
    pub transfers_in: Option<u32>,
    #[serde(default)]
    pub transfers_per_ns: Option<u32>,
    #[serde(default)]
    pub transfers_out: Option<u32>,
    #[serde(default, with = "crate::duration::optional")]
    pub min_refresh: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub max_refresh: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub min_retry: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub max_retry: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub min_expire: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub max_expire: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub max_transfer_time_in: Option<Duration>,
    #[serde(default, with = "crate::duration::optional")]
    pub max_transfer_idle_in: Option<Duration>,
    /// Records and message bytes an incoming transfer may carry (BIND `max-records`).
    #[serde(default)]
    pub max_records_in: Option<u64>,
    #[serde(default)]
    pub max_bytes_in: Option<u64>,
    #[serde(default)]
    pub request_ixfr: Option<bool>,
    /// Per zone in Knot and NSD; BIND sets it per server (ARM: options, view, server).
    #[serde(default)]
    pub provide_ixfr: Option<bool>,
    #[serde(default)]
    pub multi_master: Option<bool>,
    #[serde(default)]
    pub request_expire: Option<bool>,
    /// Inbound TCP connections at once (BIND `tcp-clients`); server-wide.
    #[serde(default)]
    pub tcp_clients: Option<u32>,
}

impl Options {
    pub fn overrides(&self) -> xfrsim_engine::Overrides {
        xfrsim_engine::Overrides {
            notify_delay: self.notify_delay,
            transfers_in: self.transfers_in,
            transfers_per_ns: self.transfers_per_ns,
            transfers_out: self.transfers_out,
            min_refresh: self.min_refresh,
            max_refresh: self.max_refresh,
            min_retry: self.min_retry,
            max_retry: self.max_retry,
            min_expire: self.min_expire,
            max_expire: self.max_expire,
            max_transfer_time_in: self.max_transfer_time_in,
            max_transfer_idle_in: self.max_transfer_idle_in,
            max_records_in: self.max_records_in,
            max_bytes_in: self.max_bytes_in,
            request_ixfr: self.request_ixfr,
            provide_ixfr: self.provide_ixfr,
            multi_master: self.multi_master,
            request_expire: self.request_expire,
            tcp_clients: self.tcp_clients,
        }
    }

    /// A server's behaviour: the profile with these settings applied (checked: the error
    /// names the option).
    pub fn behaviour(&self, profile: ServerProfile) -> Result<xfrsim_engine::Behaviour, xfrsim_engine::ProfileError> {
        xfrsim_engine::Behaviour::of(profile.engine()).with(&self.overrides())
    }

    /// What is wrong with these settings on a zone of a server whose own behaviour is
    /// `server`: an option no real server takes per zone, one this server does not (its
    /// profile's `*_scope` rows), or a value that does not go with the server's (a minimum
    /// above a maximum).
    pub fn check_zone(&self, server: &xfrsim_engine::Behaviour) -> Result<(), String> {
        for (name, set) in [
            ("transfers_in", self.transfers_in.is_some()),
            ("transfers_per_ns", self.transfers_per_ns.is_some()),
            ("transfers_out", self.transfers_out.is_some()),
            ("tcp_clients", self.tcp_clients.is_some()),
        ] {
            if set {
                return Err(format!("{name} is server-wide: set it in the server's options"));
            }
        }
        if let xfrsim_engine::OptionScope::Server { product, statements } = server.provide_ixfr_scope
            && self.provide_ixfr.is_some()
        {
            return Err(format!("provide_ixfr is a server option in {product} ({statements}), not a zone's"));
        }
        server.clone().with(&self.overrides()).map(|_| ()).map_err(|e| e.to_string())
    }
}

impl ServerSpec {
    /// `address` then `other_addresses`.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        std::iter::once(self.address).chain(self.other_addresses.iter().copied())
    }
}

/// A zone on a server. Peers (`masters`, `notify`, `allow_transfer`) are server names,
/// `IP` or `IP:port` (port 53 when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ServerZone {
    Primary {
        zone: String,
        #[serde(default)]
        notify: Vec<String>,
        /// `None`: anyone may transfer.
        #[serde(default)]
        allow_transfer: Option<Vec<String>>,
        #[serde(default = "default_journal")]
        journal: usize,
        /// The server's address NOTIFY leaves from (BIND `notify-source`); default `address`.
        #[serde(default)]
        notify_source: Option<IpAddr>,
        /// The server's address SOA queries and transfers leave from (BIND `transfer-source`).
        #[serde(default)]
        transfer_source: Option<IpAddr>,
        /// Settings for this zone over the server's (where the real server allows them per zone).
        #[serde(default)]
        options: Options,
    },
    Secondary {
        zone: String,
        masters: Vec<String>,
        #[serde(default)]
        notify: Vec<String>,
        #[serde(default)]
        allow_transfer: Option<Vec<String>>,
        #[serde(default = "default_journal")]
        journal: usize,
        #[serde(default)]
        notify_source: Option<IpAddr>,
        #[serde(default)]
        transfer_source: Option<IpAddr>,
        #[serde(default)]
        options: Options,
    },
}

/// Versions a zone keeps for IXFR unless the file says otherwise (scenarios and node files).
pub(crate) fn default_journal() -> usize {
    100
}

impl ServerZone {
    pub fn zone(&self) -> &str {
        match self {
            ServerZone::Primary { zone, .. } | ServerZone::Secondary { zone, .. } => zone,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            ServerZone::Primary { options, .. } | ServerZone::Secondary { options, .. } => options,
        }
    }

    /// (`notify_source`, `transfer_source`).
    pub fn sources(&self) -> (Option<IpAddr>, Option<IpAddr>) {
        match self {
            ServerZone::Primary { notify_source, transfer_source, .. }
            | ServerZone::Secondary { notify_source, transfer_source, .. } => (*notify_source, *transfer_source),
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(with = "crate::duration::required")]
    pub at: Duration,
    pub action: Action,
}

/// Faults and operator actions. `a`, `b`, `server`, `peer` are server names (or, for links,
/// any scenario host address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// Silence both ways: every packet between the two vanishes, so TCP connects and UDP
    /// queries time out (a partition, a firewall that drops).
    Partition(String, String),
    /// Silence from the first to the second only.
    PartitionOneway(String, String),
    /// A firewall between the two that rejects, both ways: TCP gets a RST and UDP an ICMP port
    /// unreachable, so connects and queries are refused at once.
    Reject(String, String),
    /// Rejecting from the first to the second only.
    RejectOneway(String, String),
    /// Lift every `Partition`, `Reject` and `Block` between the two, both ways.
    Heal(String, String),
    HealOneway(String, String),
    /// Silence between a server and every other host; `Rejoin` undoes it.
    Isolate(String),
    Rejoin(String),
    /// Block one protocol between two hosts (both ways unless `oneway`: then from `from` to
    /// `to` only), dropping its packets or, with `reject`, refusing them as a firewall does.
    Block {
        from: String,
        to: String,
        protocol: Protocol,
        #[serde(default)]
        reject: bool,
        #[serde(default)]
        oneway: bool,
    },
    /// Lift a `Block` (same ends, protocol and direction).
    Unblock {
        from: String,
        to: String,
        protocol: Protocol,
        #[serde(default)]
        oneway: bool,
    },
    /// Queue traffic on a link until `Release` (then it arrives late, all at once).
    Hold(String, String),
    Release(String, String),
    /// Fixed latency on one link, both ways.
    Latency(String, String, #[serde(with = "crate::duration::required")] Duration),
    /// Probability (0..=1) that a packet on the link, either way, is lost. TCP retransmits what
    /// is lost; a lost UDP datagram is gone.
    Loss(String, String, f64),
    /// Shape a link, both ways: one-way `latency`, plus a uniform `jitter` on top of it (a link
    /// stays first in, first out), per-packet `loss`, and `bandwidth` (`"1Mbit"`, `"100Mbit"`,
    /// `"512kbit"`, `"1Gbit"`): a packet takes size / bandwidth to leave, after those ahead of
    /// it. Absent fields stay as they were.
    Link {
        a: String,
        b: String,
        #[serde(with = "crate::duration::optional", default)]
        latency: Option<Duration>,
        #[serde(with = "crate::duration::optional", default)]
        jitter: Option<Duration>,
        #[serde(default)]
        loss: Option<f64>,
        #[serde(default)]
        bandwidth: Option<String>,
    },
    /// Stop the server; what it keeps is what a real one keeps on disk.
    Crash(String),
    Restart(String),
    /// Restart a primary from an older copy of its zone: the given serial, the original content.
    RestartWithSerial {
        server: String,
        zone: String,
        serial: u32,
    },
    /// Replace a secondary's master list (the runbook fix for 6523).
    SetMasters {
        server: String,
        zone: String,
        masters: Vec<String>,
    },
    /// Make a primary refuse (or allow again) transfers to one peer.
    DenyTransfer {
        server: String,
        zone: String,
        peer: String,
    },
    AllowTransfer {
        server: String,
        zone: String,
        peer: String,
    },
    /// One dynamic update at a primary (adds a record; the serial goes up by one).
    Update {
        server: String,
        zone: String,
    },
    /// A dynamic update every `every`, from this step's time until `until`.
    Updates {
        server: String,
        zone: String,
        #[serde(with = "crate::duration::required")]
        every: Duration,
        #[serde(with = "crate::duration::required")]
        until: Duration,
    },
    /// Reload a primary with the original content at a lower (or any) serial.
    Rollback {
        server: String,
        zone: String,
        serial: u32,
    },
    /// Start a refresh of a secondary zone now (`rndc refresh`).
    Refresh {
        server: String,
        zone: String,
    },
    /// From now on the server cuts every TCP connection it serves after writing this many
    /// messages: its transfers abort mid-stream. `StopCutting` ends it.
    CutTransfers {
        server: String,
        after_messages: usize,
    },
    StopCutting(String),
}

/// A transport protocol, for `Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Parses a link bandwidth, `<number><unit>` with unit `bit`, `kbit`, `Mbit` or `Gbit` (per
/// second, decimal multiples as in `tc`), into bits per second.
pub fn parse_bandwidth(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "bit" => 1,
        "kbit" => 1_000,
        "Mbit" => 1_000_000,
        "Gbit" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(scale).filter(|bps| *bps > 0)
}

/// Which events an expectation is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    /// Server name.
    pub on: String,
    /// Windows event ID (`"6523"`) or symbolic name (`"DNS_EVENT_XFR_MASTER_UNAVAILABLE"`).
    pub event: String,
    #[serde(default)]
    pub zone: Option<String>,
    /// Parameters that must match exactly, e.g. `{"master": "192.0.2.99:53"}`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(with = "crate::duration::optional", default)]
    pub from: Option<Duration>,
    #[serde(with = "crate::duration::optional", default)]
    pub until: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Count {
    Exactly(u32),
    AtLeast(u32),
    AtMost(u32),
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZoneState {
    /// Answering with this serial.
    Serving(u32),
    /// Answering SERVFAIL after expiry.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Expectation {
    /// Events matching these fields (as in [`EventMatch`]) occur `count` times (default: at
    /// least once). Spelled out rather than nested so a file reads
    /// `Event(on: "ns2", event: "6523", count: AtLeast(3))`.
    Event {
        on: String,
        event: String,
        #[serde(default)]
        zone: Option<String>,
        #[serde(default)]
        params: BTreeMap<String, String>,
        #[serde(with = "crate::duration::optional", default)]
        from: Option<Duration>,
        #[serde(with = "crate::duration::optional", default)]
        until: Option<Duration>,
        #[serde(default = "default_count")]
        count: Count,
    },
    /// The first event matching `first` comes before the first matching `then`.
    Before { first: EventMatch, then: EventMatch },
    /// Every server holding `zone` serves the same serial and content by `by`, and from then on.
    Converged {
        zone: String,
        #[serde(with = "crate::duration::required")]
        by: Duration,
    },
    /// Between `from` and `until`, each secondary lags the primary by at most `max_serials`
    /// serials, or for at most `max_lag` (whichever are given).
    Lag {
        zone: String,
        #[serde(with = "crate::duration::required")]
        from: Duration,
        #[serde(with = "crate::duration::required")]
        until: Duration,
        #[serde(default)]
        max_serials: Option<u32>,
        #[serde(with = "crate::duration::optional", default)]
        max_lag: Option<Duration>,
    },
    /// The zone's state on a server at a time.
    State {
        on: String,
        zone: String,
        #[serde(with = "crate::duration::required")]
        at: Duration,
        state: ZoneState,
    },
}

fn default_count() -> Count {
    Count::AtLeast(1)
}
