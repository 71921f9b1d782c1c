//! Refusals: our secondary against a peer that will not let it transfer (an ACL, a zone it is
//! not authoritative for), and our own answers where nothing serves (a closed port, a zone not
//! loaded).

use super::*;
/// Our secondary against a peer that serves the zone but does not let us transfer it. BIND and
/// NSD answer REFUSED (6525); Knot answers NOTAUTH to a transfer its ACL denies, which we
/// report as a bad response (6524), as for any NOTAUTH.
pub(super) fn acl_refused(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (our_addr, peer_addr) = (port()?, port()?);
    s.start_peer(
        peer,
        peer_addr,
        &[PeerRole::Primary { zone: generated_zone(), notify: None, allow_transfer: false }],
    )?;
    let ours = s.start_ours(our_addr, vec![secondary_config(vec![peer_addr])])?;
    let notauth = u16::from(ResponseCode::NotAuth);
    let seen = ours
        .wait_event(SOON, |e| match &e.kind {
            EventKind::AxfrRefused { master } if *master == peer_addr => Some(6525),
            EventKind::AxfrBadResponse { master, reason: BadResponse::Rcode(code) }
                if *master == peer_addr && *code == notauth =>
            {
                Some(6524)
            }
            _ => None,
        })
        .ok_or_else(|| format!("no 6525 (or 6524 NOTAUTH) for {peer_addr}"))?;
    let expected = if peer == Peer::Knot { 6524 } else { 6525 };
    if seen != expected {
        return Err(format!("logged {seen} for {}'s refusal; expected {expected}", peer.name()));
    }
    not_serving(&ours)
}

/// Our secondary against a peer that does not serve the zone at all: the SOA query is
/// REFUSED, so we try the transfer anyway (as BIND does), which all three answer NOTAUTH: 6524.
pub(super) fn not_authoritative(s: &mut Session, peer: Peer) -> Result<(), String> {
    let (our_addr, peer_addr) = (port()?, port()?);
    let other = ZoneText::generated("other.test.", SERIAL, 10);
    s.start_peer(peer, peer_addr, &[PeerRole::Primary { zone: other, notify: None, allow_transfer: true }])?;
    let ours = s.start_ours(our_addr, vec![secondary_config(vec![peer_addr])])?;
    let notauth = u16::from(ResponseCode::NotAuth);
    ours.wait_event(SOON, |e| match &e.kind {
        EventKind::AxfrBadResponse { master, reason: BadResponse::Rcode(code) }
            if *master == peer_addr && *code == notauth =>
        {
            Some(())
        }
        _ => None,
    })
    .ok_or_else(|| format!("no 6524 (NOTAUTH) for {peer_addr}, which is not authoritative"))?;
    not_serving(&ours)
}

/// Our secondary whose only master is a loopback port nothing listens on: 6523 naming that
/// address and port, "connection refused".
pub(super) fn closed_port(s: &mut Session) -> Result<(), String> {
    let (our_addr, closed) = (port()?, port()?);
    let ours = s.start_ours(our_addr, vec![secondary_config(vec![closed])])?;
    let reason = ours
        .wait_event(REFUSED_WITHIN, |e| match e.kind {
            EventKind::XfrMasterUnavailable { master, reason } if master == closed => Some(reason),
            _ => None,
        })
        .ok_or_else(|| format!("no 6523 for {closed} within {REFUSED_WITHIN:?}"))?;
    if reason != Unreachable::ConnectionRefused {
        return Err(format!("6523 for {closed} says `{reason}`; expected `connection refused`"));
    }
    not_serving(&ours)
}

pub(super) fn not_serving(ours: &OurNode) -> Result<(), String> {
    match ours.zone(&origin())? {
        (ZoneStatus::NotServing { expired: false }, _) => Ok(()),
        (status, _) => Err(format!("our secondary's zone is {status:?}; it has never loaded, so it must not serve")),
    }
}
