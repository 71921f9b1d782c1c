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

/// A loopback port that is free for both UDP and TCP right now and has not been handed out
/// before by this process (checks run in parallel; each gets its own ports).
pub fn free_port() -> std::io::Result<SocketAddr> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..64 {
        let udp = UdpSocket::bind((LOOPBACK, 0))?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind((LOOPBACK, port)).is_err() {
            continue;
        }
        let mut given = GIVEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if given.insert(port) {
            return Ok(SocketAddr::from((LOOPBACK, port)));
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no loopback port free for both UDP and TCP"))
}
