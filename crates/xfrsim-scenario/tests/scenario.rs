//! The scenario loader on every bundled scenario and on damaged copies of them.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn bundled() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).expect("readable"))).collect()
}

#[test]
fn every_bundled_scenario_loads_and_names_itself_after_its_file() {
    let scenarios = bundled();
    assert!(scenarios.len() >= 16, "the library promises at least 16 scenarios");
    for (path, _) in scenarios {
        let loaded = xfrsim_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.name, path.file_stem().unwrap().to_string_lossy());
        assert!(
            !loaded.scenario.expect.is_empty(),
            "{}: a scenario without expectations tests nothing",
            path.display()
        );
    }
}

#[test]
fn updates_expand_in_time_order() {
    let (path, source) = bundled().into_iter().find(|(p, _)| p.ends_with("serial-wrap.ron")).unwrap();
    let loaded = xfrsim_scenario::parse(&source, &path).unwrap();
    let steps = &loaded.setup.schedule;
    // 1h to 6h30m every 30m: 12 updates, each a single `Update` from the one `Updates` step.
    assert_eq!(steps.len(), 12);
    assert!(steps.windows(2).all(|w| w[0].at < w[1].at));
    assert!(steps.iter().all(|s| matches!(s.fault, xfrsim_scenario::Fault::Update { .. }) && s.step == 0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Damaged files (bytes replaced, cut, or a line dropped) give an error or a scenario,
    /// never a panic, and errors always carry `path:line:col: `.
    #[test]
    fn damaged_files_never_panic(which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), byte in any::<u8>(), mode in 0u8..3) {
        let files = bundled();
        let (path, source) = &files[which.index(files.len())];
        let mut bytes = source.clone().into_bytes();
        let i = at.index(bytes.len());
        match mode {
            0 => bytes[i] = byte,
            1 => bytes.truncate(i),
            _ => {
                let end = bytes[i..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| i + p);
                bytes.drain(i..end);
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = xfrsim_scenario::parse(&text, path) {
            let shown = e.to_string();
            let prefix = format!("{}:", path.display());
            prop_assert!(shown.starts_with(&prefix), "{}", shown);
            prop_assert!(!e.message.is_empty());
        }
    }
}

/// `docs/scenarios.md` shows a complete file, every action and every expectation: all of it
/// must load, so the guide cannot drift from the format.
#[test]
fn the_guide_examples_load() {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenarios.md")).unwrap();
    let blocks: Vec<&str> = guide.split("```ron\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 3, "complete file, actions, expectations");
    // As if the guide's file were saved in `scenarios/`, where its zone file exists.
    let path = &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/from-the-guide.ron");
    xfrsim_scenario::parse(blocks[0], path).unwrap_or_else(|e| panic!("complete file: {e}"));
    let frame = |timeline: &str, expect: &str| {
        format!(
            r#"(
    duration: "2d",
    zones: [(origin: "example.com.")],
    servers: [
        (name: "ns1", address: "192.0.2.1", zones: [Primary(zone: "example.com.")]),
        (name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: ["ns1"])]),
    ],
    silent_hosts: ["192.0.2.99"],
    timeline: [{timeline}],
    expect: [{expect}],
)"#
        )
    };
    // A scenario must expect something: the actions get one expectation to stand beside.
    let converged = r#"Converged(zone: "example.com.", by: "1d")"#;
    let actions = xfrsim_scenario::parse(&frame(blocks[1], converged), path).unwrap_or_else(|e| panic!("actions: {e}"));
    assert_eq!(actions.scenario.timeline.len(), 28, "one example per action");
    let expectations =
        xfrsim_scenario::parse(&frame("", blocks[2]), path).unwrap_or_else(|e| panic!("expectations: {e}"));
    assert_eq!(expectations.scenario.expect.len(), 6);
}

/// Node configurations for `cargo xtask serve`: a good one loads; mistakes are refused with
/// their position, like scenario mistakes.
#[test]
fn node_configurations_load_or_point_at_the_mistake() {
    // The good configuration's zone file is the zone crate's test fixture.
    let beside_fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../xfrsim-zone/tests/data/node.ron");
    let path = Path::new("node.ron");
    let good = r#"(name: "s", listen: "127.0.0.1:5301", also_listen: ["[::1]:5301"], zones: [
        Secondary(zone: "example.org.", masters: ["127.0.0.1:5300", "192.0.2.1"]),
        Primary(zone: "example.com.", file: "example.com.zone", allow_transfer: ["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]),
    ])"#;
    let loaded = xfrsim_scenario::parse_node(good, &beside_fixture).unwrap();
    assert_eq!(loaded.node.zones.len(), 2);
    assert!(loaded.zones[0].is_none() && loaded.zones[1].as_ref().is_some_and(|z| z.zone.len() == 13));
    assert!(loaded.zone_errors.is_empty());

    // A zone file that fails to load skips its zone, with one error naming the zone and the
    // file; a secondary's file that does not exist yet is no error (its first transfer writes
    // it). The configuration itself still loads.
    let one_bad = r#"(listen: "127.0.0.1:5301", zones: [
        Primary(zone: "example.com.", file: "example.com.zone"),
        Primary(zone: "example.net.", file: "missing.zone"),
        Secondary(zone: "example.org.", masters: ["192.0.2.1"], file: "not-yet.zone"),
    ])"#;
    let loaded = xfrsim_scenario::parse_node(one_bad, &beside_fixture).unwrap();
    assert!(loaded.zones[0].is_some() && loaded.zones[1].is_none() && loaded.zones[2].is_none());
    let errors: Vec<String> = loaded.zone_errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("zone `example.net.` not loaded: "), "{errors:?}");
    assert!(errors[0].ends_with("missing.zone: cannot read zone file: no such file"), "{errors:?}");
    assert_eq!(xfrsim_scenario::parse_peer("192.0.2.1"), Some("192.0.2.1:53".parse().unwrap()));

    let cases = [
        (
            r#"(listen: "127.0.0.1:5301", zones: [Secondary(zone: "example.org.", masters: ["localhost:53"])])"#,
            "node.ron:1:78: `localhost:53` is not an address (IP or IP:port)",
        ),
        (r#"(listen: "127.0.0.1", zones: [])"#, "node.ron:1:10: invalid socket address syntax"),
        (
            r#"(listen: "127.0.0.1:53", zones: [Secondary(zone: "example.org.", masters: [])])"#,
            "node.ron:1:50: secondary zone `example.org.` has no masters",
        ),
        (r#"(listn: "127.0.0.1:53", zones: [])"#, "node.ron:1:2: unknown field `listn`"),
        (
            r#"(listen: "127.0.0.1:53", also_listen: ["127.0.0.1:53"], zones: [])"#,
            "node.ron:1:40: 127.0.0.1:53 is listed twice",
        ),
        (
            r#"(listen: "127.0.0.1:53", zones: [Secondary(zone: "e.", masters: ["192.0.2.1"], allow_transfer: ["10.0.0.1/8"])])"#,
            "node.ron:1:97: `10.0.0.1/8` is not an address or prefix",
        ),
    ];
    for (text, expected) in cases {
        let error = xfrsim_scenario::parse_node(text, path).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{error}\n  does not start with\n{expected}");
    }
}

/// `provide_ixfr` on one zone is refused where the server's profile takes it only server-wide
/// (its `provide_ixfr_scope` row: BIND, whose zone statement has no `provide-ixfr`) and
/// accepted where it is a zone option (Knot `zone.provide-ixfr`, NSD `store-ixfr`).
#[test]
fn provide_ixfr_on_a_zone_follows_the_profile_row() {
    for (profile, refused) in [("Bind", true), ("Knot", false), ("Nsd", false)] {
        let text = format!(
            r#"(
                duration: "1h",
                zones: [(origin: "example.com.")],
                servers: [(name: "ns1", address: "192.0.2.1", profile: {profile},
                    zones: [Primary(zone: "example.com.", options: (provide_ixfr: false))])],
                expect: [Converged(zone: "example.com.", by: "1m")],
            )"#
        );
        match xfrsim_scenario::parse(&text, Path::new("zone-option.ron")) {
            Ok(_) => assert!(!refused, "{profile}: provide_ixfr accepted on a zone"),
            Err(e) => {
                assert!(refused, "{profile}: {e}");
                let text = e.to_string();
                assert!(
                    text.contains("provide_ixfr is a server option in BIND (options, view, server), not a zone's"),
                    "{text}"
                );
            }
        }
    }
}

/// Durations are BIND's TTL syntax: `15M` is fifteen minutes (it once read as fifteen months,
/// and the retry was silently clamped to two weeks), units in any case, a bare number seconds.
#[test]
fn durations_read_as_bind_reads_ttls() {
    let source = r#"(
        duration: "1D",
        zones: [(origin: "example.com.", refresh: "1H", retry: "15M", expire: "1W2d")],
        servers: [
            (name: "ns1", address: "192.0.2.1", zones: [Primary(zone: "example.com.")]),
            (name: "ns2", address: "192.0.2.2", zones: [Secondary(zone: "example.com.", masters: ["ns1"])]),
        ],
        timeline: [(at: "90", action: Refresh(server: "ns2", zone: "example.com."))],
        expect: [Converged(zone: "example.com.", by: "1h30m")],
    )"#;
    let loaded = xfrsim_scenario::parse(source, std::path::Path::new("durations.ron")).unwrap();
    let soa = loaded.setup.zones[0].data.soa();
    assert_eq!((soa.refresh, soa.retry, soa.expire), (3600, 900, 9 * 86_400));
    assert_eq!(loaded.setup.duration, std::time::Duration::from_secs(86_400));
    assert_eq!(loaded.setup.timeline[0].at, std::time::Duration::from_secs(90));
}
