//! SIGHUP: primaries' zone files read again, and which of them become the version served — the
//! profile's `ReloadRule` (crates/xfrsim-engine/src/profile.rs, with each server's source).

use std::collections::BTreeMap;
use std::rc::Rc;

use hickory_proto::rr::Name;
use xfrsim_driver::{Clock as _, NodeSlot, WallClock};
use xfrsim_engine::{Command, ReloadRule};
use xfrsim_scenario::{ServerProfile, ZoneFileData, read_zone_file};
use xfrsim_zone::{Serial, ZoneDigest};

use crate::files::FileZone;

/// What a reloaded file does to a zone serving a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Handed to the engine as `Command::Reload`, which keeps a diff for IXFR when the serial
    /// is greater and drops the journal otherwise.
    Install,
    /// The same serial and data: nothing to do, nothing to say (BIND
    /// "ixfr-from-differences: unchanged").
    Unchanged,
    /// Not taken; the loaded version keeps serving. The serials that would have been taken,
    /// for BIND's message "new serial (N) out of range [min - max]".
    Refused { min: u32, max: u32 },
}

/// The rule for a file with `file` (serial, digest) over a zone serving `current`.
pub fn decide(rule: ReloadRule, current: (Serial, ZoneDigest), file: (Serial, ZoneDigest)) -> Decision {
    if file == current {
        return Decision::Unchanged;
    }
    match rule {
        ReloadRule::AnySerial => Decision::Install,
        ReloadRule::GreaterSerial if file.0.is_newer_than(current.0) => Decision::Install,
        ReloadRule::GreaterSerial => {
            let old = current.0.0;
            Decision::Refused { min: old.wrapping_add(1), max: old.wrapping_add(0x7fff_ffff) }
        }
    }
}

/// SIGHUP: every primary's file modified since it was last loaded is read again (BIND zone.c
/// `zone_load`: "skipping load: master file older than last load", `zone_touched`; Knot and
/// NSD also compare the file's modification time). What becomes of a file that loads is
/// [`decide`]'s, by the node's profile; an install goes through the engine, which sends
/// NOTIFY. A file that fails to load changes nothing: the loaded version keeps serving. Only
/// zone files are read again, not the node configuration.
pub(crate) async fn reload_primaries(
    slot: &Rc<NodeSlot>,
    zones: &mut BTreeMap<Name, FileZone>,
    profile: ServerProfile,
    rule: ReloadRule,
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
        if let Some((serial, digest)) = current {
            match decide(rule, (serial, digest), (data.zone.serial(), data.zone.digest())) {
                Decision::Install => {}
                Decision::Unchanged => {
                    zone.loaded_modified = Some(data.modified);
                    continue;
                }
                Decision::Refused { min, max } => {
                    eprintln!(
                        "zone `{}` not reloaded: {}: new serial ({}) out of range [{min} - {max}]; serial {serial} \
                         keeps serving",
                        zone.origin,
                        zone.path.display(),
                        data.zone.serial()
                    );
                    continue;
                }
            }
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

#[cfg(test)]
mod tests {
    use xfrsim_engine::ReloadRule::{AnySerial, GreaterSerial};

    use super::*;

    fn version(serial: u32, digest: u64) -> (Serial, ZoneDigest) {
        (Serial(serial), ZoneDigest(digest))
    }

    #[test]
    fn the_same_serial_and_data_is_no_change_under_every_rule() {
        for rule in [GreaterSerial, AnySerial] {
            assert_eq!(decide(rule, version(7, 1), version(7, 1)), Decision::Unchanged, "{rule:?}");
        }
    }

    #[test]
    fn bind_takes_only_a_greater_serial_and_names_the_range_it_would_take() {
        assert_eq!(decide(GreaterSerial, version(7, 1), version(8, 2)), Decision::Install);
        // RFC 1982: 2^31 - 1 ahead is still greater, across the wrap too.
        assert_eq!(decide(GreaterSerial, version(u32::MAX, 1), version(3, 2)), Decision::Install);
        let refused = Decision::Refused { min: 8, max: 7 + 0x7fff_ffff };
        assert_eq!(decide(GreaterSerial, version(7, 1), version(7, 2)), refused, "same serial, other data");
        assert_eq!(decide(GreaterSerial, version(7, 1), version(6, 1)), refused, "lower serial");
    }

    #[test]
    fn knot_and_nsd_take_any_file_that_differs() {
        assert_eq!(decide(AnySerial, version(7, 1), version(7, 2)), Decision::Install);
        assert_eq!(decide(AnySerial, version(7, 1), version(6, 1)), Decision::Install);
        assert_eq!(decide(AnySerial, version(7, 1), version(8, 1)), Decision::Install);
    }

    #[test]
    fn each_profile_has_its_servers_rule() {
        use xfrsim_engine::{Behaviour, Profile};
        assert_eq!(Behaviour::of(Profile::Bind).reload_rule, GreaterSerial);
        assert_eq!(Behaviour::of(Profile::Knot).reload_rule, AnySerial);
        assert_eq!(Behaviour::of(Profile::Nsd).reload_rule, AnySerial);
    }
}
