//! Master files (RFC 1035 §5) read as BIND 9's `named-checkzone` reads them: every type with a
//! grammar in [`crate::rdata`] in its own syntax, any type in RFC 3597 generic form, every
//! escape, parentheses and comments anywhere, `$ORIGIN`, `$TTL`, `$INCLUDE file [origin]` and
//! `$GENERATE`.
//!
//! Why a reader of our own rather than a crate's: hickory-proto's reader refuses SPF, LOC,
//! DNSSEC types and generic RDATA and lower-cases names; NLnet Labs' `domain` (0.12,
//! `zonefile` feature) is close, but refuses 14 types in native syntax with no extension hook,
//! panics on some malformed inputs, reports no file name, and reads `@` inside RDATA as a
//! literal label. Both ends of what we need — text to wire bytes and wire bytes checked per
//! type — share one grammar table here, which is smaller than adapting either.
//!
//! Faithful to BIND where the servers differ (observed on BIND 9.18, Knot 3.2, NSD 4.6):
//! records of one RRset take the TTL and the owner spelling of the first one read (Knot keeps
//! the last TTL, NSD each record's own); out-of-zone records are skipped with a warning;
//! `$TTL` set inside an included file stays in force after it (Knot restores the outer one).
//! Relative `$INCLUDE` paths are resolved against the including file's directory, as Knot
//! does (BIND and NSD use their working directory, which operators usually point at the zone
//! directory anyway).

mod error;
mod generate;
pub(crate) mod lexer;
mod source;

use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use crate::name::Dname;
use crate::rdata::syntax::{Token, decode_escapes, parse_ttl};
use crate::rdata::text::parse_rdata;
use crate::rdata::{TypeName, is_meta, type_from_text};
use crate::record::{SOA, Soa, ZoneRecord};
use crate::zone::{Zone, check_sorted};
use crate::{ZoneError, rdata::wire::read_rdata};
pub use error::{WarningKind, ZoneFileError, ZoneFileErrorKind, ZoneFileWarning};
pub use lexer::LexError;
use source::read_checked;
pub use source::{
    Confinement, DEFAULT_MAX_INCLUDE_DEPTH, DEFAULT_MAX_INCLUDES, DEFAULT_MAX_ZONE_FILE_BYTES, FileKind, ReadOptions,
    RrsetTtl,
};

/// Largest TTL kept as written (RFC 2181 §8); BIND loads a larger one as 0, with a warning.
pub const MAX_TTL: u32 = 0x7FFF_FFFF;

/// A loaded zone and what BIND would have warned about on the way.
#[derive(Debug, Clone)]
pub struct LoadedZone {
    pub zone: Zone,
    pub warnings: Vec<ZoneFileWarning>,
}

/// Where a record was read: file (index into the reader's list), line, column.
#[derive(Debug, Clone, Copy)]
struct Place {
    file: u32,
    line: u32,
    col: u32,
}

/// Reads a master file and everything it includes. `origin` is the zone name, the initial
/// `$ORIGIN`.
pub fn load_zone_file(path: &Path, origin: &Name, options: &ReadOptions) -> Result<LoadedZone, ZoneFileError> {
    let mut reader = Reader::new(origin, options);
    let apex = reader.apex.clone();
    reader.read_file(path, &apex, 0)?;
    reader.finish()
}

/// Parses master-file text given inline; `source` names it in errors. `$INCLUDE` is refused.
pub fn parse_zone_text(text: &str, source: &str, origin: &Name) -> Result<LoadedZone, ZoneFileError> {
    let options = ReadOptions::new(Confinement::Anywhere);
    let mut reader = Reader::new(origin, &options);
    reader.files.push(source.to_string());
    let apex = reader.apex.clone();
    reader.read_text(text.as_bytes(), 0, None, &apex, 0)?;
    reader.finish()
}

/// Parses records given as master-file text (a client's printout of an answer, a transfer),
/// in the order written, with no zone checks: each record as written, duplicates kept.
/// Relative names are relative to `origin`; `$INCLUDE` is refused.
pub fn parse_records(text: &str, source: &str, origin: &Name) -> Result<Vec<ZoneRecord>, ZoneFileError> {
    let options = ReadOptions::new(Confinement::Anywhere);
    let mut reader = Reader::new(&Name::root(), &options);
    reader.zone_checks = false;
    reader.files.push(source.to_string());
    reader.read_text(text.as_bytes(), 0, None, &Dname::from_hickory(origin), 0)?;
    Ok(reader.records)
}

struct Reader<'o> {
    options: &'o ReadOptions,
    origin: Name,
    apex: Dname,
    /// Display paths of the files read, by index.
    files: Vec<String>,
    /// Records in file order (the index is the reading order).
    records: Vec<ZoneRecord>,
    places: Vec<Place>,
    /// For each record, its batch: a run of consecutive records with one owner, the unit in
    /// which BIND's master.c commits records (it decides TTLs and duplicates per batch).
    batches: Vec<u32>,
    batch_owner: Option<Dname>,
    includes: usize,
    /// `$TTL`, in force until changed, across includes (as BIND and NSD do).
    default_ttl: Option<u32>,
    /// The last TTL used, for records without one when no `$TTL` was given (RFC 1035 §5.1).
    last_ttl: Option<u32>,
    warnings: Vec<ZoneFileWarning>,
    warned_rfc1035_ttl: bool,
    /// Off for bare record lists ([`parse_records`]): no apex, so no zone rules.
    zone_checks: bool,
}

impl<'o> Reader<'o> {
    fn warn(&mut self, place: Place, kind: WarningKind) {
        let path = self.files[place.file as usize].clone();
        self.warnings.push(ZoneFileWarning { path, line: place.line, col: place.col, kind });
    }

    fn new(origin: &Name, options: &'o ReadOptions) -> Self {
        let mut origin = origin.clone();
        origin.set_fqdn(true);
        Reader {
            options,
            apex: Dname::from_hickory(&origin),
            origin,
            files: Vec::new(),
            records: Vec::new(),
            places: Vec::new(),
            batches: Vec::new(),
            batch_owner: None,
            includes: 0,
            default_ttl: None,
            last_ttl: None,
            warnings: Vec::new(),
            warned_rfc1035_ttl: false,
            zone_checks: true,
        }
    }

    fn file_error(&self, path: &Path, kind: ZoneFileErrorKind) -> ZoneFileError {
        ZoneFileError { path: path.display().to_string(), line: 0, col: 0, kind }
    }

    fn error_at(&self, file: u32, line: u32, col: u32, kind: ZoneFileErrorKind) -> ZoneFileError {
        ZoneFileError { path: self.files[file as usize].clone(), line, col, kind }
    }

    /// Reads one file: a regular file, inside the confinement, within the size limit.
    fn read_file(&mut self, path: &Path, origin: &Dname, depth: usize) -> Result<(), ZoneFileError> {
        let bytes = read_checked(path, self.options).map_err(|kind| self.file_error(path, kind))?;
        let index = self.files.len() as u32;
        self.files.push(path.display().to_string());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.read_text(&bytes, index, Some(&dir), origin, depth)
    }

    fn read_text(
        &mut self,
        text: &[u8],
        file: u32,
        dir: Option<&Path>,
        origin: &Dname,
        depth: usize,
    ) -> Result<(), ZoneFileError> {
        let mut origin = origin.clone();
        let mut last_owner: Option<Dname> = None;
        let mut lexer = lexer::Lexer::new(text);
        loop {
            let entry = match lexer.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(()),
                Err((line, col, e)) => return Err(self.error_at(file, line, col, ZoneFileErrorKind::Lex(e))),
            };
            let first = entry.tokens[0];
            if !entry.blank_owner && !first.quoted && first.raw.starts_with(b"$") {
                self.directive(&entry.tokens, file, dir, &mut origin, depth)?;
                continue;
            }
            let (record, place) = self.record(&entry.tokens, entry.blank_owner, file, &origin, &mut last_owner)?;
            self.push(record, place);
        }
    }

    fn push(&mut self, record: ZoneRecord, place: Place) {
        if !record.owner_name().is_at_or_below(&self.apex) {
            // BIND master.c: out-of-zone data is skipped, the zone still loads.
            let path = self.files[place.file as usize].clone();
            let kind = WarningKind::OutOfZone(record.owner_name().to_string());
            self.warnings.push(ZoneFileWarning { path, line: place.line, col: place.col, kind });
            return;
        }
        let owner = record.owner_name();
        if self.batch_owner.as_ref() != Some(&owner) {
            let next = self.batches.last().map_or(0, |b| b + 1);
            self.batches.push(next);
            self.batch_owner = Some(owner);
        } else {
            self.batches.push(*self.batches.last().expect("a batch is open"));
        }
        self.records.push(record);
        self.places.push(place);
    }

    fn directive(
        &mut self,
        tokens: &[Token<'_>],
        file: u32,
        dir: Option<&Path>,
        origin: &mut Dname,
        depth: usize,
    ) -> Result<(), ZoneFileError> {
        let at = |t: &Token<'_>| (t.line, t.col);
        let name = tokens[0].raw;
        let args = &tokens[1..];
        let args_error = |this: &Self, directive: &'static str, expected: &'static str| {
            let (line, col) = at(&tokens[0]);
            this.error_at(file, line, col, ZoneFileErrorKind::DirectiveArgs { directive, expected })
        };
        if name.eq_ignore_ascii_case(b"$ORIGIN") {
            let [arg] = args else { return Err(args_error(self, "$ORIGIN", "one domain name")) };
            *origin = self.name(arg, origin, file)?;
        } else if name.eq_ignore_ascii_case(b"$TTL") {
            let [arg] = args else { return Err(args_error(self, "$TTL", "one TTL")) };
            let ttl = parse_ttl(arg.raw)
                .ok_or_else(|| self.error_at(file, arg.line, arg.col, ZoneFileErrorKind::BadTtl(lossy(arg.raw))))?;
            self.default_ttl = Some(self.clamp_ttl(ttl, file, arg));
        } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
            let (path_token, include_origin) = match args {
                [path] => (path, origin.clone()),
                [path, include_origin] => (path, self.name(include_origin, origin, file)?),
                _ => return Err(args_error(self, "$INCLUDE", "a file name and an optional origin")),
            };
            let (line, col) = at(path_token);
            let Some(dir) = dir else {
                return Err(self.error_at(file, line, col, ZoneFileErrorKind::IncludeInline));
            };
            self.includes += 1;
            if self.includes > self.options.max_includes {
                let kind = ZoneFileErrorKind::TooManyIncludes { limit: self.options.max_includes };
                return Err(self.error_at(file, line, col, kind));
            }
            if depth + 1 > self.options.max_include_depth {
                let kind = ZoneFileErrorKind::IncludeTooDeep { limit: self.options.max_include_depth };
                return Err(self.error_at(file, line, col, kind));
            }
            let raw = decode_escapes(path_token.raw).unwrap_or_else(|_| path_token.raw.to_vec());
            let relative = PathBuf::from(String::from_utf8_lossy(&raw).into_owned());
            if relative.is_absolute() && matches!(self.options.confinement, Confinement::Within(_)) {
                let kind = ZoneFileErrorKind::AbsolutePath(relative.display().to_string());
                return Err(self.error_at(file, line, col, kind));
            }
            let path = dir.join(relative);
            self.read_file(&path, &include_origin, depth + 1)?;
        } else if name.eq_ignore_ascii_case(b"$GENERATE") {
            generate::expand(self, args, file, origin, &tokens[0])?;
        } else {
            let (line, col) = at(&tokens[0]);
            return Err(self.error_at(file, line, col, ZoneFileErrorKind::UnknownDirective(lossy(name))));
        }
        Ok(())
    }

    fn name(&self, token: &Token<'_>, origin: &Dname, file: u32) -> Result<Dname, ZoneFileError> {
        if token.raw == b"@" {
            return Ok(origin.clone());
        }
        Dname::from_text(token.raw, origin)
            .map_err(|e| self.error_at(file, token.line, token.col, ZoneFileErrorKind::Owner(e)))
    }

    fn clamp_ttl(&mut self, ttl: u32, file: u32, token: &Token<'_>) -> u32 {
        if ttl <= MAX_TTL {
            return ttl;
        }
        let path = self.files[file as usize].clone();
        let kind = WarningKind::TtlTooLarge(ttl);
        self.warnings.push(ZoneFileWarning { path, line: token.line, col: token.col, kind });
        0
    }

    /// One record entry: `[owner] [ttl] [class] type rdata` (TTL and class in either order).
    fn record(
        &mut self,
        tokens: &[Token<'_>],
        blank_owner: bool,
        file: u32,
        origin: &Dname,
        last_owner: &mut Option<Dname>,
    ) -> Result<(ZoneRecord, Place), ZoneFileError> {
        let mut i = 0;
        let owner = if blank_owner {
            let t = &tokens[0];
            last_owner.clone().ok_or_else(|| self.error_at(file, t.line, t.col, ZoneFileErrorKind::NoOwner))?
        } else {
            i = 1;
            self.name(&tokens[0], origin, file)?
        };
        *last_owner = Some(owner.clone());
        let place = Place { file, line: tokens[0].line, col: tokens[0].col };
        let mut ttl: Option<u32> = None;
        let mut class_seen = false;
        while let Some(token) = tokens.get(i) {
            if ttl.is_none() && token.raw.first().is_some_and(u8::is_ascii_digit) {
                let value = parse_ttl(token.raw).ok_or_else(|| {
                    self.error_at(file, token.line, token.col, ZoneFileErrorKind::BadTtl(lossy(token.raw)))
                })?;
                ttl = Some(self.clamp_ttl(value, file, token));
            } else if !class_seen && let Some(is_in) = class_of(token.raw) {
                if !is_in {
                    return Err(self.error_at(file, token.line, token.col, ZoneFileErrorKind::Class(lossy(token.raw))));
                }
                class_seen = true;
            } else {
                break;
            }
            i += 1;
        }
        let Some(type_token) = tokens.get(i) else {
            let last = tokens[tokens.len() - 1];
            return Err(self.error_at(file, last.line, last.col, ZoneFileErrorKind::MissingType));
        };
        let type_error = |kind| self.error_at(file, type_token.line, type_token.col, kind);
        let rtype = std::str::from_utf8(type_token.raw)
            .ok()
            .and_then(type_from_text)
            .ok_or_else(|| type_error(ZoneFileErrorKind::UnknownType(lossy(type_token.raw))))?;
        if is_meta(rtype) {
            return Err(type_error(ZoneFileErrorKind::MetaType(TypeName(rtype))));
        }
        let rdata_tokens = &tokens[i + 1..];
        let mut rdata = Vec::with_capacity(64);
        parse_rdata(rtype, rdata_tokens, origin, &mut rdata).map_err(|e| {
            let at = rdata_tokens.get(e.index).or(rdata_tokens.last()).unwrap_or(type_token);
            self.error_at(file, at.line, at.col, ZoneFileErrorKind::Rdata { rtype: TypeName(rtype), error: e.error })
        })?;
        let ttl = match (ttl, self.default_ttl, self.last_ttl) {
            (Some(ttl), _, _) => ttl,
            (None, Some(default), _) => default,
            (None, None, Some(last)) => {
                // BIND master.c: no $TTL, so RFC 1035 §5.1: the last TTL given (warned once).
                if !self.warned_rfc1035_ttl {
                    self.warned_rfc1035_ttl = true;
                    self.warn(place, WarningKind::Rfc1035TtlSemantics);
                }
                last
            }
            (None, None, None) if rtype == SOA => {
                // BIND master.c (BIND 8 compatibility): the SOA MINIMUM becomes the default
                // TTL, as if `$TTL` had given it.
                let minimum = Soa::parse(&rdata).minimum;
                self.warn(place, WarningKind::TtlFromSoaMinimum(minimum));
                self.default_ttl = Some(minimum);
                minimum
            }
            (None, None, None) => return Err(type_error(ZoneFileErrorKind::NoTtl)),
        };
        self.last_ttl = Some(ttl);
        if self.zone_checks && rtype == SOA && owner != self.apex && owner.is_at_or_below(&self.apex) {
            let kind = ZoneFileErrorKind::Zone(ZoneError::SoaNotAtApex { name: owner.to_string() });
            return Err(self.error_at(file, place.line, place.col, kind));
        }
        let mut checked = Vec::with_capacity(rdata.len());
        read_rdata(crate::rdata::type_info(rtype), &rdata, 0, rdata.len(), false, &mut checked)
            .expect("RDATA parsed from text is well-formed for its type");
        Ok((ZoneRecord::from_checked(owner.as_wire(), rtype, ttl, &checked), place))
    }

    /// Sorts once, then settles each RRset as BIND's loader does (observed on BIND 9.18 and
    /// read in `master.c` and `rdataslab.c`):
    /// - within a batch (consecutive lines of one owner) the first TTL of an RRset wins, with
    ///   "TTL set to prior TTL"; a later batch of the same RRset replaces its TTL, silently;
    /// - the owner keeps the spelling it was first written with, per RRset;
    /// - of identical records, the earliest batch's is kept, and within a batch the last line.
    ///
    /// `ReadOptions::rrset_ttl` may choose Knot's or NSD's TTL rule instead.
    ///
    /// Then checks the zone's integrity, naming the place of the first faulty record.
    fn finish(self) -> Result<LoadedZone, ZoneFileError> {
        let rrset_ttl = self.options.rrset_ttl;
        let Reader { origin, apex, files, records, places, batches, mut warnings, .. } = self;
        let mut order: Vec<(ZoneRecord, u32)> = records.into_iter().zip(0u32..).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let place_of = |seq: u32| places[seq as usize];
        let batch_of = |seq: u32| batches[seq as usize];
        let mut kept: Vec<(ZoneRecord, u32)> = Vec::with_capacity(order.len());
        let mut start = 0;
        while start < order.len() {
            let (key, rtype) = (order[start].0.key(), order[start].0.rtype());
            let len = order[start..].iter().take_while(|(r, _)| r.rtype() == rtype && r.key() == key).count();
            let rrset = &order[start..start + len];
            // The first record of each batch sets that batch's TTL; the last batch wins.
            // Batch numbers grow with the reading order, so one pass in that order finds them.
            let mut by_seq: Vec<usize> = (0..len).collect();
            by_seq.sort_unstable_by_key(|&i| rrset[i].1);
            let mut batch_first: Option<(u32, usize)> = None;
            let mut warn = |seq: u32, kind| {
                let p = place_of(seq);
                warnings.push(ZoneFileWarning { path: files[p.file as usize].clone(), line: p.line, col: p.col, kind });
            };
            let first_read = rrset[by_seq[0]].0.ttl();
            let last_read = rrset[*by_seq.last().expect("non-empty")].0.ttl();
            for &i in &by_seq {
                let (record, seq) = &rrset[i];
                match rrset_ttl {
                    RrsetTtl::Bind => match batch_first {
                        Some((batch, first)) if batch == batch_of(*seq) => {
                            let first_ttl = rrset[first].0.ttl();
                            if record.ttl() != first_ttl {
                                warn(*seq, WarningKind::TtlSetToPrior(first_ttl));
                            }
                        }
                        _ => batch_first = Some((batch_of(*seq), i)),
                    },
                    RrsetTtl::LastRead if record.ttl() != last_read => warn(*seq, WarningKind::TtlSetToLast(last_read)),
                    RrsetTtl::EachOwn if record.ttl() != first_read => {
                        warn(*seq, WarningKind::TtlDiffers(record.ttl(), first_read))
                    }
                    RrsetTtl::LastRead | RrsetTtl::EachOwn => {}
                }
            }
            // `None`: every record keeps the TTL it was written with.
            let ttl = match rrset_ttl {
                RrsetTtl::Bind => Some(rrset[batch_first.expect("non-empty").1].0.ttl()),
                RrsetTtl::LastRead => Some(last_read),
                RrsetTtl::EachOwn => None,
            };
            let spelling = rrset[by_seq[0]].0.owner().to_vec();
            // Runs of identical records (adjacent: sorted by identity, then reading order).
            let mut i = 0;
            while i < rrset.len() {
                let run = rrset[i..].iter().take_while(|(r, _)| *r == rrset[i].0).count();
                let copies = &rrset[i..i + run];
                let earliest = copies.iter().map(|(_, s)| batch_of(*s)).min().expect("non-empty");
                let (survivor, seq) =
                    copies.iter().filter(|(_, s)| batch_of(*s) == earliest).max_by_key(|(_, s)| *s).expect("non-empty");
                let mut survivor = match ttl {
                    Some(ttl) if survivor.ttl() != ttl => survivor.with_ttl(ttl),
                    _ => survivor.clone(),
                };
                if survivor.owner() != spelling.as_slice() {
                    survivor = survivor.with_owner_case(&spelling);
                }
                kept.push((survivor, *seq));
                i += run;
            }
            start += len;
        }
        warnings.sort_by_key(|w| (w.path.clone(), w.line, w.col));
        let error_at_seq = |seq: Option<u32>, e: ZoneError| match seq.map(place_of) {
            Some(p) => ZoneFileError {
                path: files[p.file as usize].clone(),
                line: p.line,
                col: p.col,
                kind: ZoneFileErrorKind::Zone(e),
            },
            None => ZoneFileError { path: files[0].clone(), line: 0, col: 0, kind: ZoneFileErrorKind::Zone(e) },
        };
        let (records, seqs): (Vec<ZoneRecord>, Vec<u32>) = kept.into_iter().unzip();
        // The record to blame is the last read of those at fault: where BIND's load stopped.
        check_sorted(&apex, &records).map_err(|(at, e)| error_at_seq(at.into_iter().map(|i| seqs[i]).max(), e))?;
        let soa_index = records
            .iter()
            .position(|r| r.rtype() == SOA && r.owner_name() == apex)
            .ok_or_else(|| error_at_seq(None, ZoneError::NoSoa { origin: apex.to_string() }))?;
        let mut records = records;
        let soa = records.remove(soa_index);
        Ok(LoadedZone { zone: Zone::from_sorted(origin, apex, soa, records), warnings })
    }
}

/// `Some(true)` for the class IN, `Some(false)` for another class, `None` when not a class.
fn class_of(raw: &[u8]) -> Option<bool> {
    const OTHERS: &[&str] = &["CH", "CHAOS", "HS", "HESIOD", "NONE", "ANY", "CS"];
    if raw.eq_ignore_ascii_case(b"IN") || raw.eq_ignore_ascii_case(b"CLASS1") {
        return Some(true);
    }
    if OTHERS.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(raw)) {
        return Some(false);
    }
    let digits = raw.get(..5).filter(|p| p.eq_ignore_ascii_case(b"CLASS")).map(|_| &raw[5..])?;
    (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit)).then_some(false)
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}
