//! `cargo xtask events`: the catalog as users read it, and `docs/events.md` generated from it.

use std::process::Command;

fn events(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).arg("events").args(args).output().expect("xtask runs");
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn one_event_shows_its_parameters_and_the_bind_and_knot_lines() {
    for query in ["6523", "DNS_EVENT_XFR_MASTER_UNAVAILABLE", "dns_event_xfr_master_unavailable"] {
        let (code, out, err) = events(&[query]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("6523 DNS_EVENT_XFR_MASTER_UNAVAILABLE (warning)\n"), "{out}");
        for needle in [
            "parameters:\n  master ",
            "\n  reason ",
            "connection refused",
            "when xfrsim emits it:",
            "BIND 9:\n  zone example.com/IN: refresh: retry limit for primary",
            "Knot DNS:\n  [example.com.] refresh, remote",
        ] {
            assert!(out.contains(needle), "{needle:?} missing:\n{out}");
        }
    }
}

#[test]
fn a_miss_is_one_line_with_a_suggestion() {
    let (code, out, err) = events(&["xfr_master_unavailabel"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(
        err.trim_end(),
        "error: no event `xfr_master_unavailabel`; did you mean 6523 DNS_EVENT_XFR_MASTER_UNAVAILABLE?"
    );
}

#[test]
fn the_list_keeps_its_three_columns_first() {
    let (code, out, _) = events(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), xfrsim_engine::CATALOG.len());
    assert!(out.lines().any(|l| l.starts_with(" 6523 warning DNS_EVENT_XFR_MASTER_UNAVAILABLE ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("    - info    XFRSIM_NOTIFY_SENT ")), "{out}");
}

#[test]
fn docs_events_md_is_generated_from_the_catalog() {
    let (code, generated, _) = events(&["--markdown"]);
    assert_eq!(code, Some(0));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/events.md is not what the catalog says: run `cargo xtask events --markdown > docs/events.md`"
    );
}
