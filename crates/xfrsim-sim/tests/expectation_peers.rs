//! Peers in an expectation's parameters are written as everywhere else in a scenario: a server
//! name or a bare IP matches what the event prints (`IP:53` for a server's address, any port
//! for the connecting side of a transfer). Before the loader normalised them, `{"master":
//! "ns1"}` and `{"master": "192.0.2.1"}` matched nothing.

use std::path::Path;

use xfrsim_sim::RunOptions;

const SCENARIO: &str = r#"(
    duration: "90m",
    zones: [(origin: "example.com.", refresh: "1h", hosts: 2)],
    servers: [
        (name: "ns1", address: "192.0.2.1", zones: [Primary(zone: "example.com.", notify: ["ns2"])]),
        (name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: ["ns1"])]),
    ],
    expect: [
        // The refresh after an hour finds the same serial at ns1.
        Event(on: "ns2", event: "6521", params: {"master": "ns1"}, count: AtLeast(1)),
        Event(on: "ns2", event: "6521", params: {"master": "192.0.2.1"}, count: AtLeast(1)),
        Event(on: "ns2", event: "6521", params: {"master": "192.0.2.1:53"}, count: AtLeast(1)),
        Event(on: "ns2", event: "6521", params: {"master": "192.0.2.1:5353"}, count: Never),
        // The first transfer: the secondary connects from a port its system picked.
        Event(on: "ns1", event: "6001", params: {"secondary": "ns2"}, count: Exactly(1)),
        Event(on: "ns1", event: "6001", params: {"secondary": "192.0.2.2"}, count: Exactly(1)),
        Before(first: (on: "ns2", event: "6520", params: {"master": "ns1"}), then: (on: "ns2", event: "6521", params: {"master": "ns1"})),
    ],
)"#;

#[test]
fn a_server_name_or_a_bare_ip_matches_what_events_print() {
    let loaded = xfrsim_scenario::parse(SCENARIO, Path::new("expectation-peers.ron")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = xfrsim_sim::run(&loaded, RunOptions { seed: 1, warp: true }).unwrap_or_else(|e| panic!("{e}"));
    let failures: Vec<String> = outcome.failures.iter().map(ToString::to_string).collect();
    assert!(outcome.passed(), "{}", failures.join("\n"));
}

/// An event is written the way `cargo xtask events` and `replay --event` read it: by Windows ID,
/// or by name in any case, with or without its `DNS_EVENT_` or `XFRSIM_` prefix. Before the
/// loader read events through the catalog's lookup, only the exact name or the ID loaded.
const EVENT_FORMS: &str = r#"(
    duration: "1h",
    zones: [(origin: "example.com.", refresh: "20m", retry: "10m", hosts: 2)],
    servers: [
        (name: "ns1", address: "192.0.2.1", zones: [Primary(zone: "example.com.", notify: ["ns2"])]),
        (name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: ["ns1"])]),
    ],
    silent_hosts: ["192.0.2.99"],
    timeline: [
        // A renumbered master: nothing answers at .99 (6523 at each refresh and retry), and the
        // NOTIFY for the update comes from ns1, no longer a master (refused).
        (at: "5m", action: SetMasters(server: "ns2", zone: "example.com.", masters: ["192.0.2.99"])),
        (at: "30m", action: Update(server: "ns1", zone: "example.com.")),
    ],
    expect: [
        Event(on: "ns2", event: "6523", params: {"master": "192.0.2.99"}, count: AtLeast(2)),
        Event(on: "ns2", event: "xfr_master_unavailable", params: {"master": "192.0.2.99"}, count: AtLeast(2)),
        Event(on: "ns2", event: "Dns_Event_Xfr_Master_Unavailable", until: "5m", count: Never),
        Event(on: "ns2", event: "notify_refused", params: {"from": "ns1"}, count: Exactly(1)),
        Event(on: "ns2", event: "xfrsim_notify_refused", from: "30m", until: "30m1s", count: Exactly(1)),
        Event(on: "ns1", event: "dynamic_update", count: Exactly(1)),
        Before(first: (on: "ns2", event: "xfr_master_unavailable"), then: (on: "ns2", event: "notify_refused")),
    ],
)"#;

#[test]
fn an_event_written_by_name_without_its_prefix_loads_and_matches() {
    let loaded = xfrsim_scenario::parse(EVENT_FORMS, Path::new("event-forms.ron")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = xfrsim_sim::run(&loaded, RunOptions { seed: 1, warp: true }).unwrap_or_else(|e| panic!("{e}"));
    let failures: Vec<String> = outcome.failures.iter().map(ToString::to_string).collect();
    assert!(outcome.passed(), "{}", failures.join("\n"));
    // Each form matched what the same expectation by ID matches: the counts are not vacuous.
    let count = |name: &str| outcome.recording.lines.iter().filter(|l| l.contains(name)).count();
    assert!(count(" 6523 DNS_EVENT_XFR_MASTER_UNAVAILABLE ") >= 2);
    assert_eq!(count(" XFRSIM_NOTIFY_REFUSED "), 1);
}
