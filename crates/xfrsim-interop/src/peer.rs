//! The real servers: BIND 9 (`named`), Knot DNS (`knotd`) and NSD (`nsd`), each started by a
//! check with a generated configuration in the check's own directory, listening on one
//! loopback port, and stopped when the check ends — whether it passed, failed or panicked.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::client::Client;
use crate::program::{Program, find_program};
use crate::zonetext::{ZoneChange, ZoneText};
use crate::{run_program, wait_until};

const NAMED: Program = Program { binary: "named", package: "bind9" };
const KNOTD: Program = Program { binary: "knotd", package: "knot" };
const NSD: Program = Program { binary: "nsd", package: "nsd" };
const NSD_CONTROL: Program = Program { binary: "nsd-control", package: "nsd" };

/// A real DNS server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Bind,
    Knot,
    Nsd,
}

impl Peer {
    pub const ALL: [Peer; 3] = [Peer::Bind, Peer::Knot, Peer::Nsd];

    /// The name in `interop <peer> <check>` lines.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Bind => "bind",
            Peer::Knot => "knot",
            Peer::Nsd => "nsd",
        }
    }

    /// The client an operator of this server uses. NSD ships none; its operators use dig.
    pub fn client(self) -> Client {
        match self {
            Peer::Bind | Peer::Nsd => Client::Dig,
            Peer::Knot => Client::Kdig,
        }
    }

    /// Everything a check against this peer runs: the server and its client.
    pub fn programs(self) -> Vec<Program> {
        let mut programs = match self {
            Peer::Bind => vec![NAMED],
            Peer::Knot => vec![KNOTD],
            Peer::Nsd => vec![NSD, NSD_CONTROL],
        };
        programs.extend(self.client().programs());
        programs
    }
}

/// How the peer holds a zone.
#[derive(Debug, Clone)]
pub enum PeerRole {
    /// Loaded from `zone`; sends NOTIFY to `notify`; lets 127.0.0.1 transfer it only when
    /// `allow_transfer`; accepts dynamic updates from 127.0.0.1.
    Primary { zone: ZoneText, notify: Option<SocketAddr>, allow_transfer: bool },
    /// Loaded from `files` (paths relative to the server's directory, `main` the zone file,
    /// which may `$INCLUDE` the others); 127.0.0.1 may transfer it; no NOTIFY.
    PrimaryFiles { origin: String, serial: u32, main: PathBuf, files: Vec<(PathBuf, Vec<u8>)> },
    /// Transferred from `master`; anyone on 127.0.0.1 may transfer it on.
    Secondary { master: SocketAddr, origin: String, options: SecondaryOptions },
}

/// How a real secondary is tuned beyond the defaults (the event-sequence checks run SOA timers
/// of seconds, which every server clamps up by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondaryOptions {
    /// Lower the server's minimum SOA timers to 1 s: BIND `min-refresh-time 1; min-retry-time
    /// 1;` (it has no expire minimum), Knot `refresh-min-interval`, `retry-min-interval` and
    /// `expire-min-interval` at their lowest: knotd 3.2 refuses a `refresh-min-interval` below 2
    /// and an `expire-min-interval` below 3 (its defaults, so only RETRY is lowered); NSD
    /// `min-refresh-time: 1`, `min-retry-time: 1`, `min-expire-time: 1`.
    pub lower_clamps: bool,
    /// Log at debug level: Knot `any: debug` (its `ACL, denied, action notify` line is debug),
    /// BIND `-d 3` (xfrin's "got <rcode>, retrying with AXFR" is debug 3), NSD `verbosity: 3`
    /// (xfrd's "received error code NOTIMPL" for an IXFR is logged from 3; otherwise 2).
    pub debug_log: bool,
}

impl PeerRole {
    fn origin(&self) -> &str {
        match self {
            PeerRole::Primary { zone, .. } => &zone.origin,
            PeerRole::PrimaryFiles { origin, .. } | PeerRole::Secondary { origin, .. } => origin,
        }
    }

    /// The zone file's name in the server's directory.
    fn file_name(&self) -> String {
        match self {
            PeerRole::PrimaryFiles { main, .. } => main.display().to_string(),
            _ => zone_file_name(self.origin()),
        }
    }

    /// For a primary: whom it notifies and whether 127.0.0.1 may transfer it.
    fn primary(&self) -> Option<(Option<SocketAddr>, bool)> {
        match self {
            PeerRole::Primary { notify, allow_transfer, .. } => Some((*notify, *allow_transfer)),
            PeerRole::PrimaryFiles { .. } => Some((None, true)),
            PeerRole::Secondary { .. } => None,
        }
    }

    /// The serial a primary serves once loaded.
    fn serial(&self) -> Option<u32> {
        match self {
            PeerRole::Primary { zone, .. } => Some(zone.serial),
            PeerRole::PrimaryFiles { serial, .. } => Some(*serial),
            PeerRole::Secondary { .. } => None,
        }
    }
}

/// A running real server. Dropping it stops the process.
pub struct PeerServer {
    pub peer: Peer,
    pub addr: SocketAddr,
    dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

fn zone_file_name(origin: &str) -> String {
    format!("{}.zone", origin.trim_end_matches('.'))
}

impl PeerServer {
    /// Writes the configuration and zone files under `dir`, starts the server on `addr`, and
    /// waits until it accepts TCP connections and serves every primary zone.
    pub fn start(peer: Peer, dir: &Path, addr: SocketAddr, zones: &[PeerRole]) -> Result<PeerServer, String> {
        let io = |e: std::io::Error| format!("{}: setting up in {}: {e}", peer.name(), dir.display());
        std::fs::create_dir_all(dir).map_err(io)?;
        for zone in zones {
            match zone {
                PeerRole::Primary { zone, .. } => {
                    std::fs::write(dir.join(zone_file_name(&zone.origin)), zone.render()).map_err(io)?;
                }
                PeerRole::PrimaryFiles { files, .. } => crate::workdir::write_files(dir, files)?,
                PeerRole::Secondary { .. } => {}
            }
        }
        let (config_name, config_text) = match peer {
            Peer::Bind => ("named.conf", bind_config(dir, addr, zones)),
            Peer::Knot => {
                std::fs::create_dir_all(dir.join("db")).map_err(io)?;
                ("knot.conf", knot_config(dir, addr, zones))
            }
            Peer::Nsd => ("nsd.conf", nsd_config(dir, addr, zones)),
        };
        let config = dir.join(config_name);
        std::fs::write(&config, config_text).map_err(io)?;
        let log = Self::log_file(dir, peer);
        let log_file = File::create(&log).map_err(io)?;
        let debug = zones.iter().any(|z| matches!(z, PeerRole::Secondary { options, .. } if options.debug_log));
        let (program, args): (Program, Vec<&str>) = match peer {
            // -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread; -d 3: the
            // debug lines up to level 3 too.
            Peer::Bind if debug => (NAMED, vec!["-g", "-4", "-n", "1", "-d", "3", "-c"]),
            Peer::Bind => (NAMED, vec!["-g", "-4", "-n", "1", "-c"]),
            Peer::Knot => (KNOTD, vec!["-c"]),
            // -d: foreground.
            Peer::Nsd => (NSD, vec!["-d", "-c"]),
        };
        let binary = find_program(program.binary)
            .ok_or_else(|| format!("`{}` not found: install the Debian package {}", program.binary, program.package))?;
        // With util-linux's setpriv the server gets SIGKILL if this process dies without
        // stopping it (killed by a CI timeout, say): nothing outlives the run.
        let mut command = match find_program("setpriv") {
            Some(setpriv) => {
                let mut command = Command::new(setpriv);
                command.args(["--pdeathsig", "KILL", "--"]).arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        let child = command
            .args(args)
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(io)?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = PeerServer { peer, addr, dir: dir.to_path_buf(), config, log, child: Some(child) };
        server.wait_ready(zones)?;
        Ok(server)
    }

    fn wait_ready(&mut self, zones: &[PeerRole]) -> Result<(), String> {
        let name = self.peer.name();
        wait_until(Duration::from_secs(15), || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let mut why = format!("{name} exited at start ({status}): {}", self.log_tail(5));
                if self.peer == Peer::Bind && self.log().contains("permission denied") {
                    // Debian's bind9 ships an AppArmor profile confining named to /etc/bind and
                    // /var/{lib,cache}/bind.
                    why.push_str(" (AppArmor's usr.sbin.named profile may confine named: see docs/interop.md)");
                }
                return Some(Err(why));
            }
            TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).ok().map(|_| Ok(()))
        })
        .ok_or_else(|| format!("{name} did not listen on {} within 15 s: {}", self.addr, self.log_tail(5)))??;
        for zone in zones {
            if let Some(serial) = zone.serial() {
                self.wait_serial(zone.origin(), serial, Duration::from_secs(15))?;
            }
        }
        Ok(())
    }

    /// Waits until the peer answers `serial` in the SOA of `origin`.
    pub fn wait_serial(&self, origin: &str, serial: u32, timeout: Duration) -> Result<(), String> {
        let client = self.peer.client();
        let mut last = Ok(None);
        wait_until(timeout, || {
            last = client.soa_serial(self.addr, origin);
            matches!(last, Ok(Some(s)) if s == serial).then_some(())
        })
        .ok_or_else(|| {
            let seen = match &last {
                Ok(Some(s)) => format!("serial {s}"),
                Ok(None) => "no SOA".to_string(),
                Err(e) => e.clone(),
            };
            format!(
                "{} did not serve {origin} serial {serial} within {timeout:?} (last seen: {seen})",
                self.peer.name()
            )
        })
    }

    /// Changes a primary zone the way its operators do: a dynamic update (BIND, Knot), or an
    /// edited zone file and a reload (NSD has no dynamic update). Returns the zone as it now is.
    pub fn change(&self, zone: &ZoneText, change: &ZoneChange) -> Result<ZoneText, String> {
        let next = zone.changed(change);
        match self.peer {
            Peer::Bind | Peer::Knot => self.peer.client().update(self.addr, &zone.origin, change)?,
            Peer::Nsd => {
                std::fs::write(self.dir.join(zone_file_name(&zone.origin)), next.render())
                    .map_err(|e| format!("nsd: rewriting the zone file: {e}"))?;
                let control = find_program(NSD_CONTROL.binary)
                    .ok_or_else(|| "`nsd-control` not found: install the Debian package nsd".to_string())?;
                let mut command = Command::new(control);
                command.arg("-c").arg(&self.config).args(["reload", zone.origin.trim_end_matches('.')]);
                let output = run_program(command, "", Duration::from_secs(20))?;
                if !output.status.success() {
                    return Err(format!(
                        "nsd-control reload failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
            }
        }
        self.wait_serial(&zone.origin, next.serial, Duration::from_secs(15))?;
        Ok(next)
    }

    /// The last `lines` lines of the server's log, joined with ` | ` (for one-line reports).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join(" | ")
    }

    /// Where a server started in `dir` logs (its stdout and stderr), known before it starts.
    pub fn log_file(dir: &Path, peer: Peer) -> PathBuf {
        dir.join(format!("{}.log", peer.name()))
    }

    /// The server's log file (stdout and stderr).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log, for a failure report.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server: SIGTERM (a clean shutdown; NSD's children go with their parent), then
    /// SIGKILL if it is still running after 5 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &child.id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if wait_until(Duration::from_secs(5), || child.try_wait().ok().flatten()).is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_config(dir: &Path, addr: SocketAddr, zones: &[PeerRole]) -> String {
    let d = dir.display();
    let mut conf = format!(
        "options {{\n\
         \tdirectory \"{d}\";\n\
         \tpid-file \"{d}/named.pid\";\n\
         \tsession-keyfile \"{d}/session.key\";\n\
         \tmanaged-keys-directory \"{d}\";\n\
         \tlisten-on port {port} {{ {ip}; }};\n\
         \tlisten-on-v6 {{ none; }};\n\
         \trecursion no;\n\
         \tdnssec-validation no;\n\
         \t// NOTIFY only the configured targets (the NS names are not real servers), at once.\n\
         \tnotify explicit;\n\
         \tnotify-delay 0;\n\
         }};\n\
         controls {{ }};\n",
        port = addr.port(),
        ip = addr.ip(),
    );
    for zone in zones {
        let origin = zone.origin();
        let file = zone.file_name();
        let _ = writeln!(conf, "zone \"{origin}\" {{\n\tfile \"{file}\";");
        match zone {
            PeerRole::Primary { .. } | PeerRole::PrimaryFiles { .. } => {
                let (notify, allow_transfer) = zone.primary().expect("a primary");
                conf.push_str("\ttype primary;\n\tallow-update { 127.0.0.1; };\n");
                let acl = if allow_transfer { "127.0.0.1;" } else { "none;" };
                let _ = writeln!(conf, "\tallow-transfer {{ {acl} }};");
                if let Some(target) = notify {
                    let _ = writeln!(conf, "\talso-notify {{ {} port {}; }};", target.ip(), target.port());
                }
            }
            PeerRole::Secondary { master, options, .. } => {
                conf.push_str("\ttype secondary;\n\tallow-transfer { 127.0.0.1; };\n");
                let _ = writeln!(conf, "\tprimaries {{ {} port {}; }};", master.ip(), master.port());
                if options.lower_clamps {
                    // ARM: the defaults are 300 s and 500 s; BIND has no expire minimum (it only
                    // keeps EXPIRE at least REFRESH + RETRY).
                    conf.push_str("\tmin-refresh-time 1;\n\tmin-retry-time 1;\n");
                }
            }
        }
        conf.push_str("};\n");
    }
    conf
}

fn knot_config(dir: &Path, addr: SocketAddr, zones: &[PeerRole]) -> String {
    let d = dir.display();
    let knot_debug = zones.iter().any(|z| matches!(z, PeerRole::Secondary { options, .. } if options.debug_log));
    let mut conf = format!(
        "server:\n    rundir: \"{d}\"\n    listen: {ip}@{port}\n\
         log:\n  - target: stderr\n    any: {level}\n\
         database:\n    storage: \"{d}/db\"\n\
         acl:\n  - id: local\n    address: 127.0.0.1\n    action: [transfer, notify, update]\n\
         \x20 - id: local-no-transfer\n    address: 127.0.0.1\n    action: [notify, update]\n",
        ip = addr.ip(),
        port = addr.port(),
        level = if knot_debug { "debug" } else { "info" },
    );
    let remotes: Vec<SocketAddr> = zones
        .iter()
        .filter_map(|z| match z {
            PeerRole::Primary { .. } | PeerRole::PrimaryFiles { .. } => z.primary().and_then(|(notify, _)| notify),
            PeerRole::Secondary { master, .. } => Some(*master),
        })
        .collect();
    if !remotes.is_empty() {
        conf.push_str("remote:\n");
        for (i, remote) in remotes.iter().enumerate() {
            let _ = writeln!(conf, "  - id: remote{i}\n    address: {}@{}", remote.ip(), remote.port());
        }
    }
    let _ = write!(conf, "template:\n  - id: default\n    storage: \"{d}\"\nzone:\n");
    let mut remote = 0;
    for zone in zones {
        let origin = zone.origin();
        let _ = writeln!(conf, "  - domain: {origin}\n    file: \"{}\"", zone.file_name());
        match zone {
            PeerRole::Primary { .. } | PeerRole::PrimaryFiles { .. } => {
                let (notify, allow_transfer) = zone.primary().expect("a primary");
                let acl = if allow_transfer { "local" } else { "local-no-transfer" };
                let _ = writeln!(conf, "    acl: {acl}");
                if notify.is_some() {
                    let _ = writeln!(conf, "    notify: remote{remote}");
                    remote += 1;
                }
            }
            PeerRole::Secondary { options, .. } => {
                let _ = writeln!(conf, "    acl: local\n    master: remote{remote}");
                remote += 1;
                if options.lower_clamps {
                    // doc/reference.rst: the defaults are 2 s, 1 s and 3 s; knotd 3.2 takes
                    // nothing below 2 for refresh nor below 3 for expire ("value is out of range").
                    conf.push_str(
                        "    refresh-min-interval: 2\n    retry-min-interval: 1\n    expire-min-interval: 3\n",
                    );
                }
            }
        }
    }
    conf
}

fn nsd_config(dir: &Path, addr: SocketAddr, zones: &[PeerRole]) -> String {
    let d = dir.display();
    // nsd.conf(5): 1 logs NOTIFYs taken, committed transfers and "ignoring old serial"; 2 adds
    // refused NOTIFYs; 3 adds the error RCODE of an IXFR answered NOTIMP or FORMERR (xfrd.c
    // logs it below 3 only once IXFR is known to be off). Connect failures and the expiry are
    // errors, logged at any verbosity.
    let nsd_debug = zones.iter().any(|z| matches!(z, PeerRole::Secondary { options, .. } if options.debug_log));
    let mut conf = format!(
        "server:\n\
         \tip-address: {ip}@{port}\n\
         \tport: {port}\n\
         \tdo-ip6: no\n\
         \t# Run as whoever started us, with no chroot: everything lives in this directory.\n\
         \tusername: \"\"\n\
         \tchroot: \"\"\n\
         \tzonesdir: \"{d}\"\n\
         \tdatabase: \"\"\n\
         \tpidfile: \"{d}/nsd.pid\"\n\
         \txfrdfile: \"{d}/xfrd.state\"\n\
         \txfrdir: \"{d}\"\n\
         \tzonelistfile: \"{d}/zone.list\"\n\
         \tserver-count: 1\n\
         \tverbosity: {verbosity}\n\
         remote-control:\n\
         \tcontrol-enable: yes\n\
         \tcontrol-interface: \"{d}/nsd.ctl\"\n",
        ip = addr.ip(),
        port = addr.port(),
        verbosity = if nsd_debug { 3 } else { 2 },
    );
    for zone in zones {
        let origin = zone.origin();
        let _ = writeln!(conf, "zone:\n\tname: {origin}\n\tzonefile: {}", zone.file_name());
        match zone {
            PeerRole::Primary { .. } | PeerRole::PrimaryFiles { .. } => {
                let (notify, allow_transfer) = zone.primary().expect("a primary");
                if allow_transfer {
                    conf.push_str("\tprovide-xfr: 127.0.0.1 NOKEY\n");
                }
                if let Some(target) = notify {
                    let _ = writeln!(conf, "\tnotify: {}@{} NOKEY", target.ip(), target.port());
                }
            }
            PeerRole::Secondary { master, options, .. } => {
                let _ = writeln!(conf, "\trequest-xfr: {}@{} NOKEY", master.ip(), master.port());
                conf.push_str("\tallow-notify: 127.0.0.1 NOKEY\n\tprovide-xfr: 127.0.0.1 NOKEY\n");
                if options.lower_clamps {
                    // nsd.conf(5): the defaults are min-refresh-time 0, min-retry-time 0 and
                    // no expire minimum, but xfrd.h's `within_*_bounds` keep each at 1 s or more.
                    conf.push_str("\tmin-refresh-time: 1\n\tmin-retry-time: 1\n\tmin-expire-time: 1\n");
                }
            }
        }
    }
    conf
}
