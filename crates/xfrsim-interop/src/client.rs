//! The peers' own command-line clients, used as an operator would: `dig`/`nsupdate` from BIND
//! (Debian `bind9-dnsutils`) and `kdig`/`knsupdate` from Knot (`knot-dnsutils`).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::Name;
use xfrsim_zone::ZoneRecord;

use crate::program::{Program, find_program};
use crate::run_program;
use crate::zonetext::ZoneChange;

pub const DIG: Program = Program { binary: "dig", package: "bind9-dnsutils" };
pub const NSUPDATE: Program = Program { binary: "nsupdate", package: "bind9-dnsutils" };
pub const KDIG: Program = Program { binary: "kdig", package: "knot-dnsutils" };
pub const KNSUPDATE: Program = Program { binary: "knsupdate", package: "knot-dnsutils" };

/// The clients' own timeouts are 5 s per try, one try; this bounds the whole run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Which client family talks to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `dig` and `nsupdate` (BIND 9).
    Dig,
    /// `kdig` and `knsupdate` (Knot DNS).
    Kdig,
}

/// What to ask for in a zone transfer.
#[derive(Debug, Clone, Copy)]
pub enum Transfer {
    Axfr,
    /// IXFR from this serial (RFC 1995 §3).
    Ixfr(u32),
}

impl Client {
    pub fn programs(self) -> [Program; 2] {
        match self {
            Client::Dig => [DIG, NSUPDATE],
            Client::Kdig => [KDIG, KNSUPDATE],
        }
    }

    fn query_program(self) -> Program {
        self.programs()[0]
    }

    /// Runs one query; returns the answer section's records in the order printed.
    fn query(self, server: SocketAddr, name: &str, qtype: &str) -> Result<Vec<ZoneRecord>, String> {
        let program = self.query_program();
        let path = find_program(program.binary).ok_or_else(|| format!("`{}` not found", program.binary))?;
        let mut command = Command::new(path);
        command.arg(format!("@{}", server.ip())).arg("-p").arg(server.port().to_string());
        command.args(["+noall", "+answer", "+time=5"]);
        command.arg(match self {
            Client::Dig => "+tries=1",
            Client::Kdig => "+retry=0",
        });
        command.args([name, qtype]);
        let shown = format!("{} @{server} {name} {qtype}", program.binary);
        let output = run_program(command, "", CLIENT_TIMEOUT)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // dig reports a failed transfer on stdout and exits 0; kdig exits non-zero.
        if !output.status.success() || stdout.contains("; Transfer failed.") {
            let said = stderr.lines().chain(stdout.lines()).find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            return Err(format!("`{shown}` failed ({}): {said}", output.status));
        }
        parse_answer(&stdout).map_err(|e| format!("`{shown}`: {e}"))
    }

    /// The serial of the SOA the server answers for `origin`; `None` when it answers none
    /// (not serving the zone, REFUSED, SERVFAIL).
    pub fn soa_serial(self, server: SocketAddr, origin: &str) -> Result<Option<u32>, String> {
        let records = self.query(server, origin, "SOA")?;
        Ok(records.iter().find_map(|r| r.soa_serial().map(|s| s.0)))
    }

    /// A zone transfer over TCP, every record of every message in order.
    pub fn transfer(self, server: SocketAddr, origin: &str, what: Transfer) -> Result<Vec<ZoneRecord>, String> {
        match what {
            Transfer::Axfr => self.query(server, origin, "AXFR"),
            Transfer::Ixfr(serial) => self.query(server, origin, &format!("IXFR={serial}")),
        }
    }

    /// A dynamic update (RFC 2136) sent with `nsupdate`/`knsupdate`.
    pub fn update(self, server: SocketAddr, origin: &str, change: &ZoneChange) -> Result<(), String> {
        let program = self.programs()[1];
        let path = find_program(program.binary).ok_or_else(|| format!("`{}` not found", program.binary))?;
        let mut script = format!("server {} {}\nzone {origin}\n", server.ip(), server.port());
        for record in &change.delete {
            script.push_str(&format!("update delete {record}\n"));
        }
        for record in &change.add {
            script.push_str(&format!("update add {record}\n"));
        }
        script.push_str("send\n");
        let mut command = Command::new(path);
        command.args(match self {
            Client::Dig => vec!["-t", "5"],
            Client::Kdig => vec!["-t", "5", "-r", "0"],
        });
        let output = run_program(command, &script, CLIENT_TIMEOUT)?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            return Err(format!("`{}` to {server} failed ({}): {}", program.binary, output.status, said.trim()));
        }
        Ok(())
    }
}

/// Parses dig/kdig `+noall +answer` output: one record per line in master-file form, read
/// by the same reader as zone files (every type, generic RDATA, escapes, case kept).
pub fn parse_answer(text: &str) -> Result<Vec<ZoneRecord>, String> {
    xfrsim_zone::parse_records(text, "client output", &Name::root()).map_err(|e| e.to_string())
}
