//! The listen queue of the DNS TCP listener (`Behaviour::tcp_listen_queue`), read from the
//! kernel: for a listening socket `ss` shows the backlog it was given (capped at
//! `net.core.somaxconn`) in its Send-Q column (iproute2, the `inet_diag` idiag_wqueue of a
//! LISTEN socket). The real server's and our node's, with the peer's profile, must agree.

use std::collections::BTreeSet;
use std::process::Command;

use xfrsim_engine::Behaviour;

use super::{Session, generated_zone, port, primary_config, profile_of};
use crate::peer::{Peer, PeerRole};

/// The backlogs of every TCP socket listening on `port` (a server may listen once per
/// thread, each with the same backlog).
fn listen_backlogs(port: u16) -> Result<BTreeSet<u32>, String> {
    let output = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .map_err(|e| format!("cannot run ss (package iproute2): {e}"))?;
    if !output.status.success() {
        return Err(format!("ss failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // "LISTEN <Recv-Q> <Send-Q> <local> <peer>": Send-Q is the backlog.
    text.lines()
        .filter(|line| line.starts_with("LISTEN"))
        .map(|line| {
            line.split_whitespace()
                .nth(2)
                .and_then(|q| q.parse().ok())
                .ok_or_else(|| format!("unreadable ss line: {line}"))
        })
        .collect()
}

/// The peer and our node, each a primary on its own loopback port, listen with the same
/// backlog.
pub fn listen_queue(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (peer_addr, our_addr) = (port()?, port()?);
    let zone = generated_zone();
    s.start_peer(peer, peer_addr, &[PeerRole::Primary { zone: zone.clone(), notify: None, allow_transfer: true }])?;
    let behaviour = Behaviour::of(profile_of(peer));
    let row = behaviour.tcp_listen_queue;
    s.start_named("xfrsim", our_addr, vec![primary_config(&zone, vec![])?], Some(behaviour))?;
    let (theirs, ours) = (listen_backlogs(peer_addr.port())?, listen_backlogs(our_addr.port())?);
    if theirs.is_empty() || ours.is_empty() {
        return Err(format!("no TCP listener found: {} {theirs:?}, xfrsim {ours:?}", peer.name()));
    }
    if theirs != ours {
        return Err(format!(
            "{} listens with a backlog of {theirs:?}, xfrsim with {ours:?} (Behaviour::tcp_listen_queue {row})",
            peer.name()
        ));
    }
    Ok(())
}
