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
