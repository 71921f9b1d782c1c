//! What a node is told at start: its addresses, its zones and their roles, and protocol timers.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::Name;
use xfrsim_zone::Zone;

use crate::Time;
use crate::profile::{Behaviour, Overrides, ProfileError};

/// Who may do something (transfer, update): nobody, anybody, or listed address prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Acl {
    #[default]
    None,
    Any,
    Only(Vec<Prefix>),
}

impl Acl {
    /// Exactly these addresses.
    pub fn hosts(ips: impl IntoIterator<Item = IpAddr>) -> Acl {
        Acl::Only(ips.into_iter().map(Prefix::host).collect())
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        match self {
            Acl::None => false,
            Acl::Any => true,
            Acl::Only(prefixes) => prefixes.iter().any(|p| p.contains(ip)),
        }
    }
}

/// An address prefix, as BIND's `address_match_list` elements are written: `192.0.2.0/24`,
/// `2001:db8::/32`, or a lone address (all its bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    network: IpAddr,
    len: u8,
}

impl Prefix {
    pub fn host(ip: IpAddr) -> Prefix {
        Prefix { network: ip, len: if ip.is_ipv4() { 32 } else { 128 } }
    }

    /// `network/len`; the address's bits past `len` must be zero, as BIND requires.
    pub fn new(network: IpAddr, len: u8) -> Option<Prefix> {
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = Prefix { network, len };
        (len <= width && prefix.masked(network) == network).then_some(prefix)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.network.is_ipv4() && self.masked(ip) == self.network
    }

    /// `ip` with the bits past this prefix's length cleared.
    fn masked(&self, ip: IpAddr) -> IpAddr {
        let len = u32::from(self.len);
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }
}

impl core::str::FromStr for Prefix {
    type Err = ();

    fn from_str(text: &str) -> Result<Prefix, ()> {
        match text.split_once('/') {
            None => text.parse().map(Prefix::host).map_err(|_| ()),
            Some((network, len)) => {
                let network: IpAddr = network.parse().map_err(|_| ())?;
                Prefix::new(network, len.parse().map_err(|_| ())?).ok_or(())
            }
        }
    }
}

impl core::fmt::Display for Prefix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

/// How a node holds a zone.
#[derive(Debug, Clone)]
pub enum Role {
    /// The zone's data is loaded here; it changes by dynamic update or reload.
    Primary { zone: Zone },
    /// The zone is pulled from `masters`, tried in this order (BIND semantics, see `secondary`).
    /// `restored` is what survived a restart on disk: the last installed copy and the time at
    /// which it expires (BIND keeps this as the zone file's mtime + EXPIRE).
    Secondary { masters: Vec<SocketAddr>, restored: Option<(Zone, Time)> },
    /// A primary zone whose file did not load: configured, answering SERVFAIL, until a reload
    /// ([`crate::Command::Reload`]) installs a first version. BIND keeps such a zone (zone.c
    /// `zone_postload`: "not loaded due to errors") and loads it on `rndc reload`; an unknown
    /// zone would be answered REFUSED instead.
    PrimaryNotLoaded,
}

/// One zone on a node.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub origin: Name,
    pub role: Role,
    /// Servers to NOTIFY after each new version (RFC 1996 §2: BIND's `also-notify`; the default
    /// NS-minus-MNAME set is not derived, so scenarios say exactly whom they notify).
    pub notify: Vec<SocketAddr>,
    /// Who may transfer the zone from this node (RFC 5936 §5: not open by default).
    pub allow_transfer: Acl,
    /// Who may send dynamic updates (primaries only).
    pub allow_update: Acl,
    /// Versions kept for IXFR (RFC 1995 §5 lets a server purge at any time).
    pub journal_max_diffs: usize,
    /// The address NOTIFY is sent from (BIND `notify-source`); `None`: the node's first.
    pub notify_source: Option<IpAddr>,
    /// The address SOA queries and transfers to the masters leave from (BIND
    /// `transfer-source`); `None`: the node's first.
    pub transfer_source: Option<IpAddr>,
    /// This zone's settings over the node's behaviour (BIND's zone statement options, Knot's
    /// zone or template, NSD's pattern). Server-wide limits (`transfers_*`) are ignored here.
    pub overrides: Overrides,
}

impl ZoneConfig {
    pub fn primary(origin: Name, zone: Zone) -> Self {
        ZoneConfig {
            origin,
            role: Role::Primary { zone },
            notify: Vec::new(),
            allow_transfer: Acl::Any,
            allow_update: Acl::None,
            journal_max_diffs: 100,
            notify_source: None,
            transfer_source: None,
            overrides: Overrides::default(),
        }
    }

    pub fn secondary(origin: Name, masters: Vec<SocketAddr>) -> Self {
        ZoneConfig {
            origin,
            role: Role::Secondary { masters, restored: None },
            notify: Vec::new(),
            allow_transfer: Acl::Any,
            allow_update: Acl::None,
            journal_max_diffs: 100,
            notify_source: None,
            transfer_source: None,
            overrides: Overrides::default(),
        }
    }
}

/// A node: a name for logs, the addresses it answers on, its zones.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    /// Where the node listens (address and port): a master list naming one of these is a
    /// 7062 (self-send). Ports matter: several servers may share 127.0.0.1.
    pub addresses: Vec<SocketAddr>,
    pub zones: Vec<ZoneConfig>,
    /// The server this node behaves as, with its options (`Behaviour::of(Profile::Bind)`).
    pub behaviour: Behaviour,
}

/// A configuration the engine cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("zone {0} is configured twice")]
    DuplicateZone(String),
    #[error("zone {configured}: loaded data is for origin {loaded}")]
    OriginMismatch { configured: String, loaded: String },
    #[error("timeout {0} must be greater than zero")]
    ZeroTimeout(&'static str),
    #[error("zone {zone}: {error}")]
    ZoneOption { zone: String, error: ProfileError },
    #[error("zone {zone}: {option} {address} is not one of the node's addresses")]
    ForeignSource { zone: String, option: &'static str, address: IpAddr },
}
