//! The sans-IO zone-transfer engine of xfrsim.
//!
//! A [`Node`] is one DNS server: primary and secondary zones, SOA refresh/retry/expire,
//! AXFR, IXFR, NOTIFY and dynamic update. It takes `now`, messages and commands, and returns
//! messages, connections to open and close, its next deadline and [`Event`]s. It never reads a
//! clock, opens a socket or draws OS randomness; see [`Node`] for the drive contract.

mod canary;
pub mod catalog;
mod command;
mod config;
mod ctx;
mod event;
mod node;
mod primary;
mod profile;
mod rng;
mod secondary;
mod time;
mod timer;
pub mod wire;
mod zone_core;

pub use canary::Canary;
pub use catalog::Severity;
pub use catalog::{Emitter, EventInfo, ParamInfo, ParamKind, find_event, suggest_event};
pub use config::{Acl, ConfigError, NodeConfig, Prefix, Role, ZoneConfig};
pub use event::{BadResponse, CATALOG, Event, EventKind, Unreachable};

pub use command::{Command, CommandError};
pub use ctx::{ConnId, ConnectFailure, Transmit};
pub use node::{Node, PersistedZone, ZoneStatus};
pub use profile::{
    Backoff, Behaviour, EqualSerial, HalfWaySerial, MasterOrder, NotifyIgnore, NotifyTransport, OptionScope, Overrides,
    Profile, ProfileError, ReloadRule, RoundVerdict, SoaQuery, TcpClients, Timeouts,
};
pub use rng::SeededRng;
pub use time::Time;
