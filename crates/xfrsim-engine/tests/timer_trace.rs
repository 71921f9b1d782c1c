//! Timers fire by name: each firing is a `tracing` debug record (target `xfrsim::timer`) with
//! the zone, the timer and when it was due — for whoever reads the logs, never a timeline event.
//!
//! A test binary of its own: tracing caches per call site whether anyone listens, and a test
//! on another thread reaching the call site while this one installs its subscriber can cache
//! "no one" for good. Alone in its process, the capture cannot race.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::Name;
use tracing_subscriber::fmt::MakeWriter;
use xfrsim_engine::{Behaviour, Node, NodeConfig, Profile, Time, ZoneConfig};

/// Formatted tracing output, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The `xfrsim::timer` lines traced while `run` runs.
fn timer_lines(run: impl FnOnce()) -> Vec<String> {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .finish();
    tracing::subscriber::with_default(subscriber, run);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    text.lines().filter(|line| line.contains("xfrsim::timer")).map(str::to_owned).collect()
}

#[test]
fn a_silent_master_fires_refresh_then_the_soa_query_timer_by_name() {
    let master: SocketAddr = "10.0.0.1:53".parse().unwrap();
    let config = NodeConfig {
        name: "sec".into(),
        addresses: vec!["10.0.0.2:53".parse().unwrap()],
        zones: vec![ZoneConfig::secondary(Name::from_ascii("example.com.").unwrap(), vec![master])],
        behaviour: Behaviour::of(Profile::Bind),
    };
    let mut soa_query_due = None;
    let lines = timer_lines(|| {
        let mut sec = Node::new(config, 7, Time::ZERO).unwrap();
        // A zone never loaded refreshes at once; the master never answers the SOA query.
        sec.handle_timeout(Time::ZERO);
        let due = sec.poll_timeout().expect("the SOA query waits for its answer");
        soa_query_due = Some(due);
        sec.handle_timeout(due);
    });
    let soa_query_due = soa_query_due.unwrap();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (line, timer, at) in [(&lines[0], "refresh", Time::ZERO), (&lines[1], "soa-query", soa_query_due)] {
        assert!(line.contains("timer fired"), "{line}");
        assert!(line.contains("zone=example.com."), "{line}");
        assert!(line.contains(&format!("timer=\"{timer}\"")), "{line}");
        assert!(line.contains(&format!("at={at}")), "{line}");
    }
}
