//! Scratch space for one check: a temporary directory and loopback ports nobody else uses.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Every address a check uses is on this host's loopback, never anywhere else.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Set to keep each check's directory (configs, zone files, server logs) after it ends.
pub const KEEP_ENV: &str = "XFRSIM_INTEROP_KEEP";

/// A directory under the system temporary directory, removed when dropped (unless
/// [`KEEP_ENV`] is set).
pub struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn new(label: &str) -> std::io::Result<WorkDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("xfrsim-interop-{}-{n}-{label}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(WorkDir { path, keep: std::env::var_os(KEEP_ENV).is_some() })
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

/// The lowest port the kernel hands out for outgoing connections (Linux; 32768 elsewhere).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A loopback port that is free for both UDP and TCP right now and has not been handed out
/// before by this process (checks run in parallel; each gets its own ports).
///
/// Ports come from below the kernel's ephemeral range: between choosing a port and the server
/// binding it, no client (`dig`, a peer's transfer) can take it as its source port.
pub fn free_port() -> std::io::Result<SocketAddr> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let low = 10_000u16;
    let span = ephemeral_low().saturating_sub(low).max(1);
    // Start where another process running checks at the same time is unlikely to.
    let start = (std::process::id() % u32::from(span)) as u16;
    let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for i in 0..span {
        let port = low + (start + i) % span;
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
