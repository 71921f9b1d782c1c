//! Operator commands on a running node and why one may be refused: a leaf, so the roles that
//! carry commands out (`primary/`, `secondary/`) and the node that routes them share one type.

use std::net::SocketAddr;

use hickory_proto::rr::Name;
use xfrsim_zone::{Change, Zone, ZoneError};

use crate::config::Acl;

/// An operator action on a running node.
#[derive(Debug, Clone)]
pub enum Command {
    /// Apply a dynamic update to a primary zone (as `nsupdate` would).
    Update { zone: Name, changes: Vec<Change> },
    /// Replace a secondary's master list (the fix the 6523 runbook asks for).
    SetMasters { zone: Name, masters: Vec<SocketAddr> },
    /// Load new contents into a primary, e.g. a restore with an older serial (rollback).
    Reload { zone: Box<Zone> },
    /// Start a refresh of a secondary zone now (`rndc refresh`).
    Refresh { zone: Name },
    /// Replace who may transfer the zone from this node.
    SetAllowTransfer { zone: Name, acl: Acl },
}

/// Why an operator command was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("zone {0} is not configured on this node")]
    UnknownZone(String),
    #[error("zone {0} is not a primary zone on this node")]
    NotPrimary(String),
    #[error("zone {0} is not a secondary zone on this node")]
    NotSecondary(String),
    #[error("update rejected: {0}")]
    Update(#[from] ZoneError),
    #[error("zone {0} is not loaded")]
    NotLoaded(String),
}
