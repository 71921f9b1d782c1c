//! A scenario's zones as their primaries load them, built when the scenario is loaded so a
//! bad zone file is reported before anything runs: generated (`hosts`) or read from a master
//! `file` kept inside the scenario's directory.

use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::Name;
use xfrsim_zone::{
    Confinement, Dname, LoadedZone, ReadOptions, RrsetTtl, Zone, ZoneBuilder, ZoneError, ZoneFileError,
    ZoneFileWarning, ZoneRecord, soa_record,
};

use crate::ZoneSpec;

/// Why a scenario zone could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneLoadError {
    #[error("zone file `{0}` is an absolute path; name it relative to the scenario file")]
    AbsolutePath(String),
    #[error("{0}")]
    File(#[from] ZoneFileError),
    #[error("generated zone: {0}")]
    Generated(#[from] ZoneError),
    #[error("origin is not a domain name: {0}")]
    Origin(xfrsim_zone::NameError),
}

/// Builds every zone of a scenario, in order, with the warnings their files gave; on failure,
/// the index of the zone at fault. A zone file is read as its primary's server reads it
/// (`rrset_ttl` gives that server's rule for each origin).
pub(crate) fn build_all(
    specs: &[ZoneSpec],
    dir: &Path,
    rrset_ttl: impl Fn(&str) -> RrsetTtl,
) -> Result<(Vec<Zone>, Vec<ZoneFileWarning>), (usize, ZoneLoadError)> {
    let mut zones = Vec::with_capacity(specs.len());
    let mut warnings = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        // Read as every scenario name is read (RFC 1035 §5.1 escapes, `\DDD` decimal).
        let origin = Dname::from_text(spec.origin.as_bytes(), &Dname::root())
            .map_err(|e| (index, ZoneLoadError::Origin(e)))?
            .to_hickory();
        let loaded = build_zone(spec, &origin, dir, rrset_ttl(&spec.origin)).map_err(|e| (index, e))?;
        warnings.extend(loaded.warnings);
        zones.push(loaded.zone);
    }
    Ok((zones, warnings))
}

/// Builds the zone `spec` describes; a `file` is resolved against `dir` and must stay inside
/// it (as must everything it `$INCLUDE`s); an RRset written with several TTLs is settled by
/// `rrset_ttl`.
pub fn build_zone(
    spec: &ZoneSpec,
    origin: &Name,
    dir: &Path,
    rrset_ttl: RrsetTtl,
) -> Result<LoadedZone, ZoneLoadError> {
    match &spec.file {
        Some(file) => {
            if Path::new(file).is_absolute() {
                return Err(ZoneLoadError::AbsolutePath(file.clone()));
            }
            let options = ReadOptions { rrset_ttl, ..ReadOptions::new(Confinement::Within(dir.to_path_buf())) };
            Ok(xfrsim_zone::load_zone_file(&dir.join(file), origin, &options)?)
        }
        None => {
            let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
            let zone = generated_zone(
                origin,
                spec.serial,
                secs(spec.refresh),
                secs(spec.retry),
                secs(spec.expire),
                spec.hosts,
            )?;
            Ok(LoadedZone { zone, warnings: Vec::new() })
        }
    }
}

/// `hostN A 10.x.y.z` and `hostN TXT "v=xfrsim host N"`, plus the apex NS `ns1`: a
/// deterministic zone of any size, built record by record.
pub fn generated_zone(
    origin: &Name,
    serial: u32,
    refresh_secs: u32,
    retry_secs: u32,
    expire_secs: u32,
    hosts: u32,
) -> Result<Zone, ZoneError> {
    let apex = Dname::from_hickory(origin);
    let child = |label: &str| {
        let mut wire = vec![label.len() as u8];
        wire.extend_from_slice(label.as_bytes());
        wire.extend_from_slice(apex.as_wire());
        wire
    };
    let mut builder = ZoneBuilder::new(origin.clone());
    builder.push(soa_record(origin, serial, refresh_secs, retry_secs, expire_secs))?;
    builder.push(ZoneRecord::new(apex.as_wire(), xfrsim_zone::NS, 3600, &child("ns1"))?)?;
    for i in 0..hosts {
        let owner = child(&format!("host{i}"));
        let [_, b, c, d] = i.to_be_bytes();
        builder.push(ZoneRecord::new(&owner, 1, 3600, &[10, b, c, d])?)?;
        let text = format!("v=xfrsim host {i}");
        let mut rdata = vec![text.len() as u8];
        rdata.extend_from_slice(text.as_bytes());
        builder.push(ZoneRecord::new(&owner, 16, 3600, &rdata)?)?;
    }
    builder.finish()
}
