//! Scratch space for one check: a temporary directory and loopback ports nobody else uses.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every address a check uses is on this host's loopback, never anywhere else.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Set to keep each check's directory (configs, zone files, server logs) after it ends.
pub const KEEP_ENV: &str = "XFRSIM_INTEROP_KEEP";

const PREFIX: &str = "xfrsim-interop-";

/// A directory under the system temporary directory, created by us (mode 0700, never one that
/// existed before) and removed when dropped, unless [`KEEP_ENV`] is set.
pub struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn new(label: &str) -> std::io::Result<WorkDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(sweep_abandoned);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("{PREFIX}{}-{n}-{label}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(WorkDir { path, keep: std::env::var_os(KEEP_ENV).is_some() }),
                // Someone else's (or a stale one of a recycled pid): leave it, take the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// A subdirectory, created if missing.
    pub fn subdir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.path.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("interop: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Removes the directories of earlier runs whose process no longer exists (a run that was
/// killed could not clean up). Skipped when [`KEEP_ENV`] is set, so kept directories survive.
fn sweep_abandoned() {
    if std::env::var_os(KEEP_ENV).is_some() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)).and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let alive = std::path::Path::new("/proc").join(pid).exists();
        if pid.parse::<u32>().is_ok() && !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `files` under `dir`.
pub fn write_files(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<(), String> {
    for (path, contents) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, contents).map_err(|e| format!("writing {}: {e}", target.display()))?;
    }
    Ok(())
}

/// The lowest port the kernel hands out for outgoing connections (Linux; 32768 elsewhere).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A loopback port that is free for both UDP and TCP right now and has not been handed out
/// before by this process (checks run in parallel; each gets its own ports).
///
/// Ports come from below the kernel's ephemeral range (10000 up, or 1025 up when that range
/// starts lower): between choosing a port and the server binding it, no client (`dig`, a
/// peer's transfer) can take it as its source port.
pub fn free_port() -> std::io::Result<SocketAddr> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let high = ephemeral_low().clamp(1_026, 65_536);
    let low = if high > 11_000 { 10_000 } else { 1_025 };
    let span = high - low;
    // Start where another process running checks at the same time is unlikely to.
    let start = std::process::id() % span;
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for i in 0..span {
        let Ok(port) = u16::try_from(low + (start + i) % span) else { continue };
        if given.contains(&port) {
            continue;
        }
        let free = UdpSocket::bind((LOOPBACK, port)).is_ok() && TcpListener::bind((LOOPBACK, port)).is_ok();
        if free {
            given.insert(port);
            return Ok(SocketAddr::from((LOOPBACK, port)));
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no loopback port free for both UDP and TCP"))
}
