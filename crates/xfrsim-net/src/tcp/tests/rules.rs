//! One rule at a time, on a connection driven by hand: the peer's window from the newest
//! segment, the SYN-ACK resend limit, a FIN held by a closed window, the initial window after a
//! lossy handshake, a reset for data left unread.

use bytes::Bytes;
use xfrsim_engine::Time;

use super::{CLIENT, SERVER, addr, ms};
use crate::linux::MSS_BYTES;
use crate::packet::{Body, Flags, Segment};
use crate::tcp::{Effects, Next, Tcb, TcpState, TimerKind};

/// The segments of `fx`, taken out.
fn segments(fx: &mut Effects) -> Vec<Segment> {
    fx.packets
        .drain(..)
        .filter_map(|p| match p.body {
            Body::Tcp(seg) => Some(seg),
            _ => None,
        })
        .collect()
}

/// A client connection past its handshake, with the SYN-ACK it took.
fn established_client() -> (Tcb, Segment) {
    let mut fx = Effects::default();
    let mut client = Tcb::connect(addr(CLIENT), addr(SERVER), 1_000, Time::ZERO, &mut fx);
    let syn = segments(&mut fx).remove(0);
    let _server = Tcb::accept_syn(addr(SERVER), addr(CLIENT), 9_000, &syn, Time::from_millis(10), &mut fx);
    let syn_ack = segments(&mut fx).remove(0);
    assert_eq!(client.input(&syn_ack, Time::from_millis(20), &mut fx), Next::Keep);
    (client, syn_ack)
}

/// RFC 9293 §3.10.7.4 (SND.WL1/WL2): a segment sent before the one that last set the window,
/// arriving after it (reordered), leaves the window alone; a newer one sets it.
#[test]
fn a_reordered_older_segment_does_not_set_the_peers_window() {
    let (mut client, syn_ack) = established_client();
    let mut fx = Effects::default();
    let data_at = |offset: u32, window: u32| Segment {
        seq: syn_ack.seq.wrapping_add(1).wrapping_add(offset),
        ack: 1_001,
        flags: Flags { ack: true, ..Flags::default() },
        window,
        payload: Bytes::from(vec![7u8; 100]),
        ..syn_ack.clone()
    };
    // The server sent bytes 0..100 offering 1,000, then 100..200 offering 40,000; the second
    // arrives first.
    client.input(&data_at(100, 40_000), Time::from_millis(30), &mut fx);
    assert_eq!(client.snd_wnd, 40_000);
    client.input(&data_at(0, 1_000), Time::from_millis(31), &mut fx);
    assert_eq!(client.snd_wnd, 40_000, "the older segment's window was taken");
    client.input(&data_at(200, 20_000), Time::from_millis(32), &mut fx);
    assert_eq!(client.snd_wnd, 20_000, "the newest segment's window is taken");
}

/// A retransmitted SYN gets an immediate SYN-ACK at most once per `tcp_invalid_ratelimit`.
#[test]
fn immediate_syn_ack_resends_are_rate_limited() {
    let mut fx = Effects::default();
    let _client = Tcb::connect(addr(CLIENT), addr(SERVER), 1_000, Time::ZERO, &mut fx);
    let syn = segments(&mut fx).remove(0);
    let mut server = Tcb::accept_syn(addr(SERVER), addr(CLIENT), 9_000, &syn, Time::ZERO, &mut fx);
    assert_eq!(segments(&mut fx).len(), 1, "the first SYN-ACK");
    let resent_at = |server: &mut Tcb, at: u64, fx: &mut Effects| {
        server.input(&syn, Time::from_millis(at), fx);
        segments(fx).iter().filter(|s| s.flags.syn && s.flags.ack).count()
    };
    assert_eq!(resent_at(&mut server, 100, &mut fx), 1, "the first retransmitted SYN is answered at once");
    assert_eq!(resent_at(&mut server, 400, &mut fx), 0, "within 500 ms of the last: not again");
    assert_eq!(resent_at(&mut server, 600, &mut fx), 1, "500 ms later: answered again");
}

/// A segment from the server of `established_client`, `offset` bytes into its stream.
fn from_server(syn_ack: &Segment, offset: u32, window: u32, payload: &[u8]) -> Segment {
    Segment {
        seq: syn_ack.seq.wrapping_add(1).wrapping_add(offset),
        ack: 1_001,
        flags: Flags { ack: true, ..Flags::default() },
        window,
        payload: Bytes::copy_from_slice(payload),
        ..syn_ack.clone()
    }
}

/// A FIN is held back by a closed window like data (Linux `tcp_snd_wnd_test`), and the persist
/// timer probes for it; it goes as soon as the window opens.
#[test]
fn a_fin_waits_for_the_window_like_data() {
    let (mut client, syn_ack) = established_client();
    let mut fx = Effects::default();
    client.input(&from_server(&syn_ack, 0, 0, b""), Time::from_millis(30), &mut fx);
    segments(&mut fx);
    client.shutdown(Time::from_millis(40), &mut fx);
    assert!(segments(&mut fx).iter().all(|s| !s.flags.fin), "a FIN went into a closed window");
    assert!(client.deadline[TimerKind::Persist as usize].is_some(), "no probe for the pending FIN");
    assert!(client.deadline[TimerKind::Retransmit as usize].is_none());
    client.input(&from_server(&syn_ack, 0, 1_000, b""), Time::from_millis(50), &mut fx);
    assert!(segments(&mut fx).iter().any(|s| s.flags.fin), "the window opened and no FIN went");
}

/// A handshake that needed two retransmissions starts with a window of one segment
/// (`tcp_init_transfer`); a clean one with ten.
#[test]
fn a_lossy_handshake_starts_with_one_segment() {
    let first_flight = |lost_syns: u64| {
        let mut fx = Effects::default();
        let mut client = Tcb::connect(addr(CLIENT), addr(SERVER), 1_000, Time::ZERO, &mut fx);
        let mut now = Time::ZERO;
        for _ in 0..lost_syns {
            now = client.deadline[TimerKind::Retransmit as usize].expect("a SYN timer");
            client.on_timer(TimerKind::Retransmit, now, &mut fx);
        }
        let syn = segments(&mut fx).pop().expect("a SYN");
        let _server = Tcb::accept_syn(addr(SERVER), addr(CLIENT), 9_000, &syn, now, &mut fx);
        let syn_ack = segments(&mut fx).remove(0);
        client.input(&syn_ack, now + ms(10), &mut fx);
        segments(&mut fx);
        client.write(&vec![1u8; 20 * MSS_BYTES as usize], now + ms(10), &mut fx).unwrap();
        segments(&mut fx).iter().filter(|s| !s.payload.is_empty()).count()
    };
    assert_eq!(first_flight(0), 10);
    assert_eq!(first_flight(1), 10);
    assert_eq!(first_flight(2), 1);
}

/// Closing a socket with data unread resets the peer in any state, FIN_WAIT1 too
/// (net/ipv4/tcp.c `tcp_close`, `data_was_unread`).
#[test]
fn closing_with_data_unread_resets_even_after_a_fin() {
    let (mut client, syn_ack) = established_client();
    let mut fx = Effects::default();
    client.input(&from_server(&syn_ack, 0, 30_000, &[5u8; 100]), Time::from_millis(30), &mut fx);
    client.shutdown(Time::from_millis(31), &mut fx);
    assert_eq!(client.state, TcpState::FinWait1);
    segments(&mut fx);
    assert_eq!(client.close(Time::from_millis(32), &mut fx), Next::Remove);
    assert!(segments(&mut fx).iter().any(|s| s.flags.rst), "no RST for the unread data");
}
