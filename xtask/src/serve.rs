//! `cargo xtask serve CONFIG`: one xfrsim node on real sockets — the same engine and driver as
//! in simulation, with tokio sockets and wall-clock time.
//!
//! Zone files are handled here, outside the engine, as BIND 9 handles them (lib/dns/zone.c):
//! - a primary's file is read at start and again on SIGHUP when it was modified since;
//! - a secondary's `file` is written after each transfer (atomically, by a thread of its own so
//!   the engine never waits on the disk) and loaded at start, its expire time kept in the file's
//!   modification time;
//! - a zone whose file fails to load is reported on one line and skipped; the others serve.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow};
use hickory_proto::rr::Name;
use xfrsim_driver::{Clock as _, NodeSlot, Tokio, WallClock};
use xfrsim_engine::{Acl, Behaviour, Command, EventKind, Node, NodeConfig, Role, Time, ZoneConfig};
use xfrsim_scenario::{LoadedNode, NodeZone, ServerProfile, ZoneFileData, parse_peer, read_zone_file};
use xfrsim_zone::{Serial, Zone, ZoneDigest};

/// The engine counts time from the node's start; files carry wall-clock times. One moment
/// read from both clocks converts between them.
#[derive(Clone, Copy)]
struct Epoch {
    time: Time,
    system: SystemTime,
}

impl Epoch {
    fn time_of(&self, when: SystemTime) -> Time {
        match when.duration_since(self.system) {
            Ok(ahead) => self.time + ahead,
            Err(behind) => self.time - behind.duration(),
        }
    }

    fn system_of(&self, time: Time) -> SystemTime {
        let ahead = time.saturating_since(self.time);
        let behind = self.time.saturating_since(time);
        self.system.checked_add(ahead).and_then(|t| t.checked_sub(behind)).unwrap_or(self.system)
    }
}

/// A zone whose data lives in a file.
struct FileZone {
    origin: Name,
    path: PathBuf,
    /// A primary: the modification time of the file as last loaded (`None` when unknown).
    /// `None` here for a secondary, whose file this process writes.
    loaded_modified: Option<Option<SystemTime>>,
}

/// The zone's behaviour: the node's with the zone's own settings over it (what the engine
/// clamps the SOA timers with).
fn zone_behaviour(node: &Behaviour, zone: &NodeZone) -> Result<Behaviour> {
    node.clone().with(&zone.options().overrides()).map_err(|e| anyhow!("{e}"))
}

/// The engine's configuration of every zone that loaded. A secondary's copy read from its file
/// expires at the file's modification time plus the zone's EXPIRE as clamped (BIND zone.c
/// `zone_postload`: `isc_file_getmodtime(zone->masterfile)` + `zone->expire`; without a
/// modification time, now + RETRY). A copy already past that time is handed over anyway and
/// expires at the engine's first timeout, before any socket is open: BIND loads it, then
/// `zone_maintenance` finds `now >= expiretime` and calls `zone_expire`, refreshing at once.
fn zone_configs(loaded: &LoadedNode, behaviour: &Behaviour, epoch: Epoch) -> Result<Vec<ZoneConfig>> {
    let peers = |list: &[String]| list.iter().filter_map(|p| parse_peer(p)).collect::<Vec<_>>();
    // Checked when the file was loaded: every entry parses.
    let prefixes = |list: &[String]| list.iter().map(|p| p.parse().expect("checked at load")).collect();
    let acl = |list: &Option<Vec<String>>| list.as_deref().map_or(Acl::Any, |l| Acl::Only(prefixes(l)));
    let mut configs = Vec::new();
    for (zone, data) in loaded.node.zones.iter().zip(&loaded.zones) {
        let config = match zone {
            NodeZone::Primary { zone, notify, allow_transfer, allow_update, journal, options, .. } => {
                // A primary whose file failed to load was reported; as in BIND it stays
                // configured, answering SERVFAIL, and a SIGHUP after the file is mended loads it.
                let role = match data {
                    Some(data) => Role::Primary { zone: data.zone.clone() },
                    None => Role::PrimaryNotLoaded,
                };
                ZoneConfig {
                    origin: Name::from_ascii(zone).map_err(|e| anyhow!("zone `{zone}`: {e}"))?,
                    role,
                    notify: peers(notify),
                    allow_transfer: acl(allow_transfer),
                    allow_update: Acl::Only(prefixes(allow_update)),
                    journal_max_diffs: *journal,
                    // Sources are the node's first address, `listen`.
                    notify_source: None,
                    transfer_source: None,
                    overrides: options.overrides(),
                }
            }
            NodeZone::Secondary { zone: name, masters, notify, allow_transfer, journal, options, .. } => {
                let restored = match data {
                    Some(data) => {
                        let soa = data.zone.soa();
                        let behaviour = zone_behaviour(behaviour, zone)?;
                        let (_, retry, expire) = behaviour.clamp_timers(soa.refresh, soa.retry, soa.expire);
                        let expire_at = match data.modified {
                            // Added in wall time first: the engine's time starts now and
                            // cannot go before it.
                            Some(modified) => epoch.time_of(modified.checked_add(expire).unwrap_or(modified)),
                            None => epoch.time + retry,
                        };
                        Some((data.zone.clone(), expire_at))
                    }
                    None => None,
                };
                ZoneConfig {
                    origin: Name::from_ascii(name).map_err(|e| anyhow!("zone `{name}`: {e}"))?,
                    role: Role::Secondary { masters: peers(masters), restored },
                    notify: peers(notify),
                    allow_transfer: acl(allow_transfer),
                    allow_update: Acl::None,
                    journal_max_diffs: *journal,
                    notify_source: None,
                    transfer_source: None,
                    overrides: options.overrides(),
                }
            }
        };
        configs.push(config);
    }
    Ok(configs)
}

/// The zones with files, by origin: every primary (one whose file did not load has no
/// modification time yet, so the next SIGHUP reads it), and secondaries that name a file.
fn file_zones(loaded: &LoadedNode) -> BTreeMap<Name, FileZone> {
    let mut zones = BTreeMap::new();
    for (zone, data) in loaded.node.zones.iter().zip(&loaded.zones) {
        let (name, file, loaded_modified) = match zone {
            NodeZone::Primary { zone, file, .. } => (zone, file, Some(data.as_ref().and_then(|d| d.modified))),
            NodeZone::Secondary { zone, file: Some(file), .. } => (zone, file, None),
            NodeZone::Secondary { file: None, .. } => continue,
        };
        // Checked when the configuration was loaded.
        let Ok(origin) = Name::from_ascii(name) else { continue };
        let path = loaded.zone_file_path(file);
        zones.insert(origin.clone(), FileZone { origin, path, loaded_modified });
    }
    zones
}

/// Sets a secondary's file that failed to load aside, as BIND does before transferring the zone
/// again (zone.c `zone_postload` → `zone_saveunique(zone, zone->masterfile, "db-XXXXXXXX")`:
/// "unable to load from '%s'; renaming file to '%s' for failure analysis and retransferring").
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
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
enum Save {
    /// Write a secondary's new copy (after a transfer), its modification time set.
    Write { origin: Name, path: PathBuf, zone: Box<Zone>, modified: SystemTime },
    /// The copy is unchanged but its expire time moved (a refresh found the serial equal):
    /// only the modification time changes (BIND zone.c `refresh_callback` → `setmodtime`).
    Touch { origin: Name, path: PathBuf, modified: SystemTime },
}

/// The writer thread: saves run one at a time in the order asked, so an older copy never
/// replaces a newer one, and the engine's loop never waits on the disk.
fn spawn_writer() -> (std::sync::mpsc::Sender<Save>, std::thread::JoinHandle<()>) {
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
fn write_atomically(path: &Path, contents: &[u8], modified: SystemTime) -> std::io::Result<()> {
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

/// Why a reloaded file does not become a new version of a zone serving `current` (serial,
/// digest): an empty string for the same serial and data (BIND "ixfr-from-differences:
/// unchanged", nothing to say), the message for a serial that is not greater (BIND: "new serial
/// (N) out of range [a - b]"); `None` when the file is a new version.
fn reload_refusal(zone: &FileZone, data: &ZoneFileData, current: (Serial, ZoneDigest)) -> Option<String> {
    let (serial, old) = (data.zone.serial(), current.0);
    if serial == old && data.zone.digest() == current.1 {
        return Some(String::new());
    }
    if serial.is_newer_than(old) {
        return None;
    }
    let (min, max) = (old.0.wrapping_add(1), old.0.wrapping_add(0x7fff_ffff));
    Some(format!(
        "zone `{}` not reloaded: {}: new serial ({serial}) out of range [{min} - {max}]; serial {old} keeps serving",
        zone.origin,
        zone.path.display()
    ))
}

/// SIGHUP: every primary's file modified since it was last loaded is read again (BIND zone.c
/// `zone_load`: "skipping load: master file older than last load", `zone_touched`). A file that
/// loads with a greater serial becomes a new version through the engine, which keeps the diff
/// for IXFR and sends NOTIFY: BIND with `ixfr-from-differences`, the only way a reloaded file
/// can be served by IXFR. As there (zone.c `zone_postload`), the same serial and data is no
/// change, and any other serial is refused: the loaded version keeps serving. Only zone files
/// are read again, not the node configuration.
async fn reload_primaries(
    slot: &Rc<NodeSlot>,
    zones: &mut BTreeMap<Name, FileZone>,
    profile: ServerProfile,
    clock: &WallClock,
) {
    for zone in zones.values_mut() {
        let Some(last_modified) = zone.loaded_modified else { continue };
        let modified = std::fs::metadata(&zone.path).and_then(|m| m.modified()).ok();
        if let (Some(modified), Some(last)) = (modified, last_modified)
            && modified <= last
        {
            continue;
        }
        let (path, origin) = (zone.path.clone(), zone.origin.clone());
        let read = tokio::task::spawn_blocking(move || read_zone_file(&path, &origin, profile)).await;
        // BIND: "not loaded due to errors", the old version serving on.
        let failure = match read {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let data: ZoneFileData = match failure {
            Ok(data) => data,
            Err(reason) => {
                eprintln!("zone `{}` not reloaded: {reason}; the loaded version keeps serving", zone.origin);
                continue;
            }
        };
        for warning in &data.warnings {
            eprintln!("{warning}");
        }
        let Some(current) = slot.with(|node| node.zone(&zone.origin).map(|z| (z.serial(), z.digest()))) else {
            continue;
        };
        // A zone that never loaded takes whatever serial its file has.
        if let Some(current) = current
            && let Some(refused) = reload_refusal(zone, &data, current)
        {
            if refused.is_empty() {
                zone.loaded_modified = Some(data.modified);
            } else {
                eprintln!("{refused}");
            }
            continue;
        }
        let reloaded =
            slot.with(|node| node.handle_command(clock.now(), Command::Reload { zone: Box::new(data.zone) }));
        match reloaded {
            Some(Ok(())) => {
                zone.loaded_modified = Some(data.modified);
                // The driver sends what the reload queued (NOTIFY).
                slot.wake.notify_one();
            }
            Some(Err(e)) => eprintln!("zone `{}` not reloaded: {e}", zone.origin),
            None => {}
        }
    }
}

pub fn serve(path: &Path, seed: Option<u64>) -> Result<ExitCode> {
    crate::logging::init_tracing(Some("xfrsim=info"), true)?;
    // Errors go to stderr: coloured when that is a terminal and NO_COLOR is unset.
    let loaded = xfrsim_scenario::load_node(path).map_err(|e| anyhow!("{}", e.render_for(&std::io::stderr())))?;
    for warning in &loaded.zone_warnings {
        eprintln!("{warning}");
    }
    // One line per zone that failed to load; the others serve, even none at all (BIND starts
    // with zones that failed to load, answering for the rest).
    for error in &loaded.zone_errors {
        let secondary_file = loaded.node.zones.iter().find_map(|z| match z {
            NodeZone::Secondary { zone, file: Some(file), .. } if *zone == error.zone => Some(file),
            _ => None,
        });
        match secondary_file {
            Some(file) => match set_aside(&loaded.zone_file_path(file)) {
                Ok(aside) => {
                    eprintln!("{error}; renamed to {} for failure analysis, transferring again", aside.display());
                }
                Err(e) => eprintln!("{error}; transferring again (cannot rename it aside: {e})"),
            },
            None => eprintln!("{error}"),
        }
    }
    let listen = loaded.node.listen;
    let addresses: Vec<std::net::SocketAddr> =
        std::iter::once(listen).chain(loaded.node.also_listen.iter().copied()).collect();
    let shown = addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let name = loaded.node.name.clone();
    let profile = loaded.node.profile;
    let behaviour = loaded.node.options.behaviour(profile).map_err(|e| anyhow!("{e}"))?;
    let seed = seed.unwrap_or_else(|| u64::from(std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let clock = WallClock::start();
        // Files carry wall-clock times; this is the one place serve reads that clock.
        #[expect(clippy::disallowed_methods, reason = "zone files' modification times are wall-clock times")]
        let epoch = Epoch { time: clock.now(), system: SystemTime::now() };
        let config = NodeConfig {
            name: name.clone(),
            addresses: addresses.clone(),
            zones: zone_configs(&loaded, &behaviour, epoch)?,
            behaviour,
        };
        let mut files = file_zones(&loaded);
        let node = Node::new(config, seed, epoch.time).map_err(|e| anyhow!("{e}"))?;
        // Installs and in-sync refreshes of secondaries with a file, for the loop below.
        let (saves, mut to_save) = tokio::sync::mpsc::unbounded_channel::<(Name, bool)>();
        let with_file: Vec<Name> =
            files.iter().filter(|(_, z)| z.loaded_modified.is_none()).map(|(o, _)| o.clone()).collect();
        let printer_name = name.clone();
        let on_event = move |event: &xfrsim_engine::Event| {
            // Timeline lines as in `replay`, with time since the node started.
            println!("{}", event.timeline_line(&printer_name));
            let rewrite = match event.kind {
                EventKind::ZoneUpdate { .. } => true,
                EventKind::ZoneInSync { .. } => false,
                _ => return,
            };
            if let Some(origin) = event.zone.as_ref().filter(|o| with_file.contains(o)) {
                let _ = saves.send((origin.clone(), rewrite));
            }
        };
        let slot = NodeSlot::new(Some(node), Box::new(on_event));
        // A copy restored past its expire time expires now, before anything is answered.
        slot.with(|node| node.handle_timeout(clock.now()));
        let (writer, writer_thread) = spawn_writer();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        let mut driver =
            tokio::task::spawn_local(xfrsim_driver::run::<Tokio, WallClock>(slot.clone(), addresses, clock.clone()));
        eprintln!("{name}: serving on {shown} (UDP and TCP); SIGHUP reloads zone files; Ctrl-C stops");
        loop {
            tokio::select! {
                biased;
                stopped = tokio::signal::ctrl_c() => {
                    stopped.context("waiting for Ctrl-C")?;
                    // Saves already asked for are finished before the process ends.
                    drop(writer);
                    let _ = writer_thread.join();
                    eprintln!("{name}: stopped");
                    return Ok(ExitCode::SUCCESS);
                }
                ended = &mut driver => {
                    ended.context("the driver task failed")?.with_context(|| format!("serving on {shown}"))?;
                    return Ok(ExitCode::SUCCESS);
                }
                Some((origin, rewrite)) = to_save.recv() => {
                    let Some(file) = files.get(&origin) else { continue };
                    // What the zone holds now (a later install may already be in; writing it is
                    // what the next save would do anyway).
                    let saved = slot.with(|node| {
                        let (expire_at, expire) = node.expiry(&origin)?;
                        Some((node.zone(&origin).cloned().filter(|_| rewrite), expire_at, expire))
                    });
                    let Some(Some((zone, expire_at, expire))) = saved else { continue };
                    // EXPIRE before the expire time, as BIND's `setmodtime`.
                    let expires = epoch.system_of(expire_at);
                    let modified = expires.checked_sub(expire).unwrap_or(expires);
                    let path = file.path.clone();
                    let save = match zone {
                        Some(zone) => Save::Write { origin, path, zone: Box::new(zone), modified },
                        None => Save::Touch { origin, path, modified },
                    };
                    let _ = writer.send(save);
                }
                _ = hangup.recv() => {
                    eprintln!("{name}: SIGHUP: reloading zone files");
                    reload_primaries(&slot, &mut files, profile, &clock).await;
                }
            }
        }
    })
}
