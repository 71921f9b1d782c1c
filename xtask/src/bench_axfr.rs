//! `bench axfr-real-sockets`: one 100,000-record zone file served on loopback by our `serve`
//! and, where installed, by BIND, Knot and NSD, each transferred five times by our own AXFR
//! client (`xfrsim_interop::axfr`, raw TCP, no EDNS), in one run.
//!
//! Output contract, one line per server, then one ratio line when BIND ran:
//! `bench axfr-real-sockets server=<name> records=<n> messages=<n> first_byte_ms=<x> total_ms=<x> bytes=<n>`
//! `ratio_vs_bind total=<xfrsim/bind> bytes=<xfrsim/bind>`
//! Times are the median of the five transfers; bytes are the message bytes of one transfer.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hickory_proto::rr::Name;
use xfrsim_interop::{Axfr, Peer, PeerRole, PeerServer, WorkDir, axfr, free_port, missing_packages};

const ORIGIN: &str = "bench.example.";
const SERIAL: u32 = 2_026_113_001;
const RECORDS: usize = 100_000;
const RUNS: usize = 5;
/// A loopback transfer of 100,000 records takes well under a second; this is only a bound.
const DEADLINE: Duration = Duration::from_secs(60);

/// The zone: SOA, two NS with addresses, an MX and its address, an SPF TXT, then hosts with
/// an A and a TXT each: exactly `RECORDS` records; realistic timers (refresh 1 h, retry
/// 10 min, expire 14 d).
fn zone_text() -> String {
    let mut text = String::with_capacity(RECORDS * 48);
    let _ = writeln!(text, "$ORIGIN {ORIGIN}\n$TTL 3600");
    let _ = writeln!(text, "@ IN SOA ns1 hostmaster {SERIAL} 3600 600 1209600 300");
    text.push_str("@ IN NS ns1\n@ IN NS ns2\n@ IN MX 10 mail\n@ IN TXT \"v=spf1 mx -all\"\n");
    text.push_str("ns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\nmail IN A 192.0.2.25\n");
    let hosts = (RECORDS - 8) / 2;
    for i in 0..hosts {
        let [_, b, c, d] = (i as u32).to_be_bytes();
        let _ = writeln!(text, "host{i} IN A 10.{b}.{c}.{d}");
        let _ = writeln!(text, "host{i} IN TXT \"v=xfrsim bench host {i}\"");
    }
    text
}

/// Our node, as operators run it: `xtask serve` in its own process.
struct OurServe(Child);

impl Drop for OurServe {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_ours(dir: &Path, addr: SocketAddr) -> Result<OurServe> {
    let config = dir.join("xfrsim.ron");
    std::fs::write(
        &config,
        format!("(name: \"bench\", listen: \"{addr}\", zones: [Primary(zone: \"{ORIGIN}\", file: \"bench.zone\")])"),
    )?;
    let exe = std::env::current_exe().context("locating xtask")?;
    let child = Command::new(exe)
        .args(["serve", "--seed", "1"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting xtask serve")?;
    let ours = OurServe(child);
    let origin = Name::from_ascii(ORIGIN).expect("a valid origin");
    for _ in 0..200 {
        if axfr_probe(addr, &origin) {
            return Ok(ours);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("xtask serve did not answer on {addr} within 10 s")
}

/// True once the server answers an AXFR of the whole zone.
fn axfr_probe(addr: SocketAddr, origin: &Name) -> bool {
    axfr(addr, origin, Duration::from_secs(5)).is_ok_and(|t| t.records.len() == RECORDS + 1)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Five transfers; the median times and the last transfer's sizes.
fn measure(addr: SocketAddr) -> Result<(Axfr, Duration, Duration)> {
    let origin = Name::from_ascii(ORIGIN).expect("a valid origin");
    let mut runs = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let transfer = axfr(addr, &origin, DEADLINE).map_err(anyhow::Error::msg)?;
        if transfer.records.len() != RECORDS + 1 {
            bail!("AXFR from {addr} carried {} records, expected {}", transfer.records.len(), RECORDS + 1);
        }
        runs.push(transfer);
    }
    let first_byte = median(runs.iter().map(|t| t.first_byte).collect());
    let total = median(runs.iter().map(|t| t.total).collect());
    Ok((runs.pop().expect("five runs"), first_byte, total))
}

fn report(server: &str, (transfer, first_byte, total): &(Axfr, Duration, Duration)) {
    println!(
        "bench axfr-real-sockets server={server} records={} messages={} first_byte_ms={:.2} total_ms={:.1} bytes={}",
        transfer.records.len(),
        transfer.messages,
        first_byte.as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0,
        transfer.bytes
    );
}

pub fn run() -> Result<ExitCode> {
    let work = WorkDir::new("bench-axfr").context("creating a work directory")?;
    let text = zone_text();
    let ours_dir = work.subdir("xfrsim")?;
    std::fs::write(ours_dir.join("bench.zone"), &text)?;
    let ours = {
        let addr = free_port()?;
        let _server = start_ours(&ours_dir, addr)?;
        measure(addr)?
    };
    report("xfrsim", &ours);
    let mut bind = None;
    for peer in Peer::ALL {
        let missing = missing_packages(&peer.programs());
        if !missing.is_empty() {
            println!("bench axfr-real-sockets server={} skipped=not-installed", peer.name());
            eprintln!("  apt-get install {} to compare with {}", missing.join(" "), peer.name());
            continue;
        }
        let dir = work.subdir(peer.name())?;
        let addr = free_port()?;
        let role = PeerRole::PrimaryFiles {
            origin: ORIGIN.to_string(),
            serial: SERIAL,
            main: "bench.zone".into(),
            files: vec![("bench.zone".into(), text.clone().into_bytes())],
        };
        let server = PeerServer::start(peer, &dir, addr, &[role]).map_err(anyhow::Error::msg)?;
        let measured = measure(addr)?;
        drop(server);
        report(peer.name(), &measured);
        if peer == Peer::Bind {
            bind = Some(measured);
        }
    }
    if let Some((bind_transfer, _, bind_total)) = &bind {
        println!(
            "ratio_vs_bind total={:.2} bytes={:.3}",
            ours.2.as_secs_f64() / bind_total.as_secs_f64().max(1e-9),
            ours.0.bytes as f64 / bind_transfer.bytes.max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
