//! Zone files on disk, as BIND 9 keeps them (lib/dns/zone.c, masterdump.c): wall-clock times
//! and the engine's clock, a secondary's file set aside when it fails to load, and the writer
//! thread that saves secondaries' copies atomically, in the order asked.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use hickory_proto::rr::Name;
use xfrsim_engine::Time;
use xfrsim_zone::Zone;

/// The engine counts time from the node's start; files carry wall-clock times. One moment
/// read from both clocks converts between them.
#[derive(Clone, Copy)]
pub(crate) struct Epoch {
    pub(crate) time: Time,
    pub(crate) system: SystemTime,
}

impl Epoch {
    pub(crate) fn time_of(&self, when: SystemTime) -> Time {
        match when.duration_since(self.system) {
            Ok(ahead) => self.time + ahead,
            Err(behind) => self.time - behind.duration(),
        }
    }

    pub(crate) fn system_of(&self, time: Time) -> SystemTime {
        let ahead = time.saturating_since(self.time);
        let behind = self.time.saturating_since(time);
        self.system.checked_add(ahead).and_then(|t| t.checked_sub(behind)).unwrap_or(self.system)
    }
}

/// A zone whose data lives in a file.
pub(crate) struct FileZone {
    pub(crate) origin: Name,
    pub(crate) path: PathBuf,
    /// A primary: the modification time of the file as last loaded (`None` when unknown).
    /// `None` here for a secondary, whose file this process writes.
    pub(crate) loaded_modified: Option<Option<SystemTime>>,
}

/// Sets a secondary's file that failed to load aside, as BIND does before transferring the zone
/// again (zone.c `zone_postload` → `zone_saveunique(zone, zone->masterfile, "db-XXXXXXXX")`:
/// "unable to load from '%s'; renaming file to '%s' for failure analysis and retransferring").
pub(crate) fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    for attempt in 0..1000u32 {
        let aside = dir.join(format!("db-{:08}", u64::from(std::process::id()) * 1000 + u64::from(attempt)));
        if !aside.exists() {
            std::fs::rename(path, &aside)?;
            return Ok(aside);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free db-XXXXXXXX name"))
}

/// What the file writer is asked to do, in order.
pub(crate) enum Save {
    /// Write a secondary's new copy (after a transfer), its modification time set.
    Write { origin: Name, path: PathBuf, zone: Box<Zone>, modified: SystemTime },
    /// The copy is unchanged but its expire time moved (a refresh found the serial equal):
    /// only the modification time changes (BIND zone.c `refresh_callback` → `setmodtime`).
    Touch { origin: Name, path: PathBuf, modified: SystemTime },
}

/// The writer thread: saves run one at a time in the order asked, so an older copy never
/// replaces a newer one, and the engine's loop never waits on the disk.
pub(crate) fn spawn_writer() -> (std::sync::mpsc::Sender<Save>, std::thread::JoinHandle<()>) {
    let (sender, receiver) = std::sync::mpsc::channel::<Save>();
    let thread = std::thread::spawn(move || {
        for save in receiver {
            match save {
                Save::Write { origin, path, zone, modified } => {
                    if let Err(e) = write_atomically(&path, zone.to_text().as_bytes(), modified) {
                        eprintln!("zone `{origin}`: cannot write {}: {e}", path.display());
                    }
                }
                Save::Touch { origin, path, modified } => {
                    let touched =
                        std::fs::File::options().write(true).open(&path).and_then(|f| f.set_modified(modified));
                    if let Err(e) = touched {
                        eprintln!("zone `{origin}`: cannot set the modification time of {}: {e}", path.display());
                    }
                }
            }
        }
    });
    (sender, thread)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` by `contents` so that a crash at any moment leaves the old file or the new
/// one, never a part: as BIND's masterdump.c `opentmp` (a unique `<file>-XXXXXXXXXX` in the
/// same directory, opened exclusively) and `closeandrename` (flush, fsync, close, rename; the
/// temporary file removed on failure).
pub(crate) fn write_atomically(path: &Path, contents: &[u8], modified: SystemTime) -> std::io::Result<()> {
    let (temp, mut file) = loop {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = path.as_os_str().to_owned();
        name.push(format!("-{:010}", u64::from(std::process::id()).wrapping_mul(100_000).wrapping_add(n)));
        let temp = PathBuf::from(name);
        match std::fs::File::options().write(true).create_new(true).open(&temp) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1_000_000 => continue,
            Err(e) => return Err(e),
        }
    };
    // The modification time is set after the last write (a write would reset it) and survives
    // the rename.
    let written = file.write_all(contents).and_then(|()| file.set_modified(modified)).and_then(|()| file.sync_all());
    drop(file);
    match written.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xfrsim-serve-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        dir
    }

    #[test]
    fn an_atomic_write_replaces_the_file_with_its_modification_time_and_leaves_no_temporary() {
        let dir = temp_dir("atomic");
        let path = dir.join("db.example");
        std::fs::write(&path, "old").unwrap();
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        write_atomically(&path, b"new", modified).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_set_aside_keeps_its_contents_under_a_db_name_beside_it() {
        let dir = temp_dir("aside");
        let path = dir.join("db.example");
        std::fs::write(&path, "broken").unwrap();
        let aside = set_aside(&path).unwrap();
        assert!(!path.exists());
        assert_eq!(aside.parent(), Some(dir.as_path()));
        assert!(aside.file_name().unwrap().to_string_lossy().starts_with("db-"));
        assert_eq!(std::fs::read_to_string(&aside).unwrap(), "broken");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_epoch_converts_both_ways_on_either_side_of_the_start() {
        let system = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let epoch = Epoch { time: Time::ZERO + Duration::from_secs(100), system };
        let later = system + Duration::from_secs(30);
        assert_eq!(epoch.time_of(later), Time::ZERO + Duration::from_secs(130));
        assert_eq!(epoch.system_of(epoch.time_of(later)), later);
        let earlier = system - Duration::from_secs(40);
        assert_eq!(epoch.time_of(earlier), Time::ZERO + Duration::from_secs(60));
        assert_eq!(epoch.system_of(Time::ZERO + Duration::from_secs(60)), earlier);
    }
}
