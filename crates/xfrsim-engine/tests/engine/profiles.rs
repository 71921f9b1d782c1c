//! The profile table's decisions that scenarios cannot isolate: the 2^31 serial and NOTIFY
//! hints, the clamps, and override checks.

use std::time::Duration;

use xfrsim_engine::{Behaviour, Overrides, Profile, ProfileError, TcpClients};
use xfrsim_zone::Serial;

const OURS: Serial = Serial(1_000);
const HALF_WAY: Serial = Serial(1_000 + 0x8000_0000);

#[test]
fn a_serial_exactly_half_way_round_is_newer_for_knot_and_nsd_only() {
    // BIND lib/isc/serial.c: neither greater nor less; Knot SERIAL_INCOMPARABLE is taken as
    // "outdated" (transfer); NSD util.c compare_serial calls it newer.
    assert!(!Behaviour::of(Profile::Bind).is_newer(HALF_WAY, OURS));
    assert!(Behaviour::of(Profile::Knot).is_newer(HALF_WAY, OURS));
    assert!(Behaviour::of(Profile::Nsd).is_newer(HALF_WAY, OURS));
    for profile in Profile::ALL {
        let b = Behaviour::of(profile);
        assert!(b.is_newer(Serial(1_001), OURS) && !b.is_newer(Serial(999), OURS) && !b.is_newer(OURS, OURS));
    }
}

#[test]
fn a_notify_half_way_round_is_acted_on_and_an_older_one_only_by_knot() {
    for profile in Profile::ALL {
        let b = Behaviour::of(profile);
        // BIND isc_serial_le is false at 2^31: the hint is not "up to date", so it refreshes.
        assert!(!b.ignores_notify(HALF_WAY, OURS), "{profile}");
        assert!(b.ignores_notify(OURS, OURS), "{profile}");
        assert!(!b.ignores_notify(Serial(1_001), OURS), "{profile}");
    }
    assert!(Behaviour::of(Profile::Bind).ignores_notify(Serial(999), OURS));
    assert!(Behaviour::of(Profile::Nsd).ignores_notify(Serial(999), OURS));
    assert!(!Behaviour::of(Profile::Knot).ignores_notify(Serial(999), OURS));
}

#[test]
fn clamps_follow_each_server() {
    let secs = Duration::from_secs;
    // BIND: refresh to ≥ 300, retry to ≥ 500, expire to ≥ refresh + retry.
    assert_eq!(Behaviour::of(Profile::Bind).clamp_timers(60, 60, 60), (secs(300), secs(500), secs(800)));
    assert_eq!(Behaviour::of(Profile::Bind).clamp_timers(7200, 1800, 3600), (secs(7200), secs(1800), secs(9000)));
    assert_eq!(Behaviour::of(Profile::Bind).clamp_timers(1, 1, u32::MAX).2, secs(24 * 7 * 86_400));
    // Knot: only its own minima.
    assert_eq!(Behaviour::of(Profile::Knot).clamp_timers(7200, 1800, 3600), (secs(7200), secs(1800), secs(3600)));
    assert_eq!(Behaviour::of(Profile::Knot).clamp_timers(0, 0, 0), (secs(2), secs(1), secs(3)));
    // NSD: at least a second each, refresh at most 4 weeks.
    assert_eq!(Behaviour::of(Profile::Nsd).clamp_timers(0, 0, 0), (secs(1), secs(1), secs(1)));
    assert_eq!(Behaviour::of(Profile::Nsd).clamp_timers(u32::MAX, 60, 60).0, secs(4 * 7 * 86_400));
}

#[test]
fn overrides_apply_and_bad_ones_are_refused() {
    let lowered = Overrides { min_refresh: Some(Duration::from_secs(1)), ..Overrides::default() };
    let b = Behaviour::of(Profile::Bind).with(&lowered).unwrap();
    assert_eq!(b.clamp_timers(4, 2, 20).0, Duration::from_secs(4));
    let inverted = Overrides {
        min_retry: Some(Duration::from_secs(3600)),
        max_retry: Some(Duration::from_secs(60)),
        ..Overrides::default()
    };
    assert_eq!(
        Behaviour::of(Profile::Bind).with(&inverted),
        Err(ProfileError::MinAboveMax { min: "min_retry", max: "max_retry" })
    );
    let zero = Overrides { transfers_in: Some(0), ..Overrides::default() };
    assert_eq!(Behaviour::of(Profile::Knot).with(&zero), Err(ProfileError::ZeroLimit("transfers_in")));
    let clients = Overrides { tcp_clients: Some(0), ..Overrides::default() };
    assert_eq!(Behaviour::of(Profile::Bind).with(&clients), Err(ProfileError::ZeroLimit("tcp_clients")));
    let clients = Overrides { tcp_clients: Some(40), ..Overrides::default() };
    assert_eq!(Behaviour::of(Profile::Knot).with(&clients).unwrap().tcp_clients, TcpClients::Fixed(40));
    let idle = Overrides { max_transfer_idle_in: Some(Duration::ZERO), ..Overrides::default() };
    assert_eq!(Behaviour::of(Profile::Nsd).with(&idle), Err(ProfileError::ZeroDuration("max_transfer_idle_in")));
}

#[test]
fn a_behaviour_with_a_zero_wait_is_refused() {
    for profile in Profile::ALL {
        assert_eq!(Behaviour::of(profile).zero_setting(), None, "{profile}");
    }
    let mut b = Behaviour::of(Profile::Bind);
    b.notify_tcp_timeout = Duration::ZERO;
    assert_eq!(b.zero_setting(), Some("notify_tcp_timeout"));
    let mut b = Behaviour::of(Profile::Knot);
    b.timeouts.udp_sends = 0;
    assert_eq!(b.zero_setting(), Some("udp_sends"));
}

#[test]
fn tcp_client_limits_follow_each_server() {
    let limit = |profile, fd_limit| Behaviour::of(profile).tcp_clients.resolve(fd_limit);
    assert_eq!(limit(Profile::Bind, Some(64)), 150, "BIND's tcp-clients ignores the fd limit");
    assert_eq!(limit(Profile::Nsd, None), 100);
    assert_eq!(limit(Profile::Knot, Some(65_536)), 32_768, "Knot: half the fd limit");
    assert_eq!(limit(Profile::Knot, None), 512);
    assert_eq!(limit(Profile::Knot, Some(1)), 1);
    assert_eq!(Behaviour::of(Profile::Bind).tcp_pipelined, 23);
    assert_eq!(Behaviour::of(Profile::Knot).tcp_pipelined, 1);
    assert_eq!(Behaviour::of(Profile::Nsd).tcp_pipelined, 1);
}
