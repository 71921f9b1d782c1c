//! RDATA on the wire: checked against its type's grammar, names decompressed where the type
//! allows it (RFC 3597 §4), copied out uncompressed.
//!
//! A record whose RDATA does not parse for its type is refused before it is stored, as BIND's
//! per-type `fromwire` refuses it (a bad compression pointer inside RP, a truncated SOA, a DS
//! whose digest length contradicts its digest type). Unknown types are opaque and kept as is.

use super::{Field, RdataError, TypeInfo, check_rules, special, svcb};
use crate::name::{MAX_NAME_LEN, NameError};

/// Compression pointers followed before a name is called a loop. A name has at most 127
/// labels, so a legitimate chain never needs more.
const MAX_POINTER_HOPS: usize = 128;

/// Reads a name at `msg[pos..]`, following compression pointers when `pointers` is set, and
/// appends it uncompressed to `out`. Returns the position after the name's bytes at `pos`.
/// Pointers must point backwards (as BIND requires), so no loop can be followed forever.
pub(crate) fn read_name(msg: &[u8], mut pos: usize, pointers: bool, out: &mut Vec<u8>) -> Result<usize, NameError> {
    let start_len = out.len();
    let mut end_after: Option<usize> = None;
    let mut hops = 0;
    let mut limit = pos; // a pointer must go below the start of the name that contains it
    loop {
        let len = *msg.get(pos).ok_or(NameError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(len)).ok_or(NameError::Truncated)?;
                out.push(len);
                out.extend_from_slice(label);
                if out.len() - start_len > MAX_NAME_LEN {
                    return Err(NameError::NameTooLong);
                }
                pos += 1 + usize::from(len);
                if len == 0 {
                    return Ok(end_after.unwrap_or(pos));
                }
            }
            0xC0 if pointers => {
                let low = *msg.get(pos + 1).ok_or(NameError::Truncated)?;
                let target = usize::from(len & 0x3F) << 8 | usize::from(low);
                hops += 1;
                if target >= limit || hops > MAX_POINTER_HOPS {
                    return Err(NameError::BadLabelType);
                }
                end_after.get_or_insert(pos + 2);
                limit = target;
                pos = target;
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

/// Reads the RDATA of type `info` (`None`: unknown, opaque) from `msg[start..end]` and appends
/// its uncompressed form to `out`. Names may be compressed only when `pointers` is set; as
/// BIND, Knot and NSD do (observed: each accepts pointers in the RDATA names of every type),
/// a compressed name is accepted in any type's RDATA, and written back uncompressed.
pub(crate) fn read_rdata(
    info: Option<&TypeInfo>,
    msg: &[u8],
    start: usize,
    end: usize,
    pointers: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let base = out.len();
    let Some(info) = info else {
        out.extend_from_slice(msg.get(start..end).ok_or(RdataError::Truncated)?);
        return Ok(());
    };
    let rdata = msg.get(..end).ok_or(RdataError::Truncated)?;
    let mut pos = start;
    let take = |pos: &mut usize, n: usize, out: &mut Vec<u8>| -> Result<(), RdataError> {
        let bytes = rdata.get(*pos..*pos + n).ok_or(RdataError::Truncated)?;
        out.extend_from_slice(bytes);
        *pos += n;
        Ok(())
    };
    for (index, &field) in info.fields.iter().enumerate() {
        match field {
            Field::Name => {
                let next = read_name(rdata, pos, pointers, out).map_err(|e| match e {
                    NameError::Truncated if pos >= end => RdataError::Truncated,
                    e => RdataError::Name(e),
                })?;
                if next > end {
                    return Err(RdataError::Truncated);
                }
                pos = next;
            }
            Field::U8 | Field::SecAlg => take(&mut pos, 1, out)?,
            Field::U16 | Field::Rtype | Field::CertType => take(&mut pos, 2, out)?,
            Field::U32 | Field::Period | Field::Time | Field::Ipv4 => take(&mut pos, 4, out)?,
            Field::Ipv6 => take(&mut pos, 16, out)?,
            Field::Ilnp64 | Field::Eui64 => take(&mut pos, 8, out)?,
            Field::Eui48 => take(&mut pos, 6, out)?,
            Field::Str => take_string(rdata, &mut pos, end, out)?,
            Field::StrOpt => {
                if pos < end {
                    take_string(rdata, &mut pos, end, out)?;
                }
            }
            Field::Strs => {
                take_string(rdata, &mut pos, end, out)?;
                while pos < end {
                    take_string(rdata, &mut pos, end, out)?;
                }
            }
            Field::Salt | Field::NextHash => {
                let len = usize::from(*rdata.get(pos).ok_or(RdataError::Truncated)?);
                if field == Field::NextHash && len == 0 {
                    return Err(RdataError::Rule("empty next hashed owner name"));
                }
                take(&mut pos, 1 + len, out)?;
            }
            Field::CaaTag => {
                let len = usize::from(*rdata.get(pos).ok_or(RdataError::Truncated)?);
                let tag = rdata.get(pos + 1..pos + 1 + len).ok_or(RdataError::Truncated)?;
                if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(RdataError::Rule("CAA tag must be 1-255 letters and digits"));
                }
                take(&mut pos, 1 + len, out)?;
            }
            Field::Hex => {
                if pos >= end {
                    return Err(RdataError::Truncated);
                }
                let n = end - pos;
                take(&mut pos, n, out)?;
            }
            Field::Text | Field::Base64 | Field::Base64OrDash | Field::Opaque => {
                let n = end.saturating_sub(pos);
                take(&mut pos, n, out)?;
            }
            Field::Bitmap => {
                let bitmap = rdata.get(pos..end).ok_or(RdataError::Truncated)?;
                check_bitmap(bitmap)?;
                let n = end - pos;
                take(&mut pos, n, out)?;
            }
            Field::Special(kind) => {
                let rest = rdata.get(pos..end).ok_or(RdataError::Truncated)?;
                // Only what comes before a special field can tell it how to read itself
                // (IPSECKEY's gateway type is inside; SVCB's target came before and is fine).
                debug_assert_eq!(index + 1, info.fields.len(), "a special field ends its grammar");
                if kind == super::Special::SvcParams {
                    svcb::check_params(rest)?;
                } else {
                    special::check(kind, rest)?;
                }
                let n = end - pos;
                take(&mut pos, n, out)?;
            }
        }
    }
    if pos != end {
        return Err(if pos > end { RdataError::Truncated } else { RdataError::TrailingOctets });
    }
    if out.len() - base > super::MAX_RDATA_LEN {
        return Err(RdataError::TooLong);
    }
    check_rules(info, &out[base..])?;
    Ok(())
}

/// Calls `f(offset, length)` for every domain name inside checked, uncompressed RDATA of
/// `info`'s type, in order.
pub(crate) fn each_name(info: &TypeInfo, rdata: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut at = 0;
    let string = |at: usize| 1 + usize::from(rdata[at]);
    for &field in info.fields {
        if at > rdata.len() {
            return;
        }
        match field {
            Field::Name => {
                let len = crate::name::wire_len(&rdata[at..]).expect("checked RDATA");
                f(at, len);
                at += len;
            }
            Field::U8 | Field::SecAlg => at += 1,
            Field::U16 | Field::Rtype | Field::CertType => at += 2,
            Field::U32 | Field::Period | Field::Time | Field::Ipv4 => at += 4,
            Field::Ipv6 => at += 16,
            Field::Ilnp64 | Field::Eui64 => at += 8,
            Field::Eui48 => at += 6,
            Field::Str | Field::Salt | Field::NextHash | Field::CaaTag => at += string(at),
            Field::StrOpt | Field::Strs => {
                while at < rdata.len() {
                    at += string(at);
                }
            }
            Field::Text | Field::Base64 | Field::Base64OrDash | Field::Hex | Field::Opaque | Field::Bitmap => {
                return;
            }
            Field::Special(kind) => {
                for (offset, len) in special::names(kind, &rdata[at..]) {
                    f(at + offset, len);
                }
                return;
            }
        }
    }
}

/// `rdata` with the case of every domain name inside it folded to lower case (and nothing
/// else: strings keep their case). For comparing with servers that lower-case names on load,
/// as Knot and NSD do.
pub fn fold_name_case(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut folded = rdata.to_vec();
    if let Some(info) = super::type_info(rtype) {
        each_name(info, rdata, |at, len| folded[at..at + len].make_ascii_lowercase());
    }
    folded
}

fn take_string(rdata: &[u8], pos: &mut usize, end: usize, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let len = usize::from(*rdata.get(*pos).filter(|_| *pos < end).ok_or(RdataError::Truncated)?);
    let bytes = rdata.get(*pos..*pos + 1 + len).filter(|_| *pos + 1 + len <= end).ok_or(RdataError::Truncated)?;
    out.extend_from_slice(bytes);
    *pos += 1 + len;
    Ok(())
}

/// RFC 4034 §4.1.2: window blocks in increasing window order, each 1–32 octets long, with no
/// trailing zero octet (BIND's `typemap_test`). An empty bitmap is allowed (RFC 5155 §3.2).
pub(crate) fn check_bitmap(bitmap: &[u8]) -> Result<(), RdataError> {
    let mut at = 0;
    let mut last_window: Option<u8> = None;
    while at < bitmap.len() {
        let window = bitmap[at];
        let len = usize::from(*bitmap.get(at + 1).ok_or(RdataError::Truncated)?);
        if last_window.is_some_and(|w| window <= w) {
            return Err(RdataError::Rule("type bitmap windows out of order"));
        }
        if !(1..=32).contains(&len) {
            return Err(RdataError::Rule("type bitmap window length not in 1..32"));
        }
        let block = bitmap.get(at + 2..at + 2 + len).ok_or(RdataError::Truncated)?;
        if block[len - 1] == 0 {
            return Err(RdataError::Rule("type bitmap window ends in a zero octet"));
        }
        last_window = Some(window);
        at += 2 + len;
    }
    Ok(())
}

/// The types present in a bitmap, ascending.
pub(crate) fn bitmap_types(bitmap: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at + 2 <= bitmap.len() {
        let (window, len) = (bitmap[at], usize::from(bitmap[at + 1]));
        let block = bitmap.get(at + 2..at + 2 + len).unwrap_or(&[]);
        blocks.push((window, block));
        at += 2 + len;
    }
    blocks.into_iter().flat_map(|(window, block)| {
        block.iter().enumerate().flat_map(move |(i, &octet)| {
            (0..8)
                .filter(move |bit| octet & (0x80 >> bit) != 0)
                .map(move |bit| u16::from(window) << 8 | (i as u16) << 3 | bit as u16)
        })
    })
}

/// Builds an RFC 4034 §4.1.2 bitmap from types (any order, duplicates allowed).
pub(crate) fn build_bitmap(types: &[u16], out: &mut Vec<u8>) {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut i = 0;
    while i < sorted.len() {
        let window = (sorted[i] >> 8) as u8;
        let mut block = [0u8; 32];
        let mut len = 0;
        while i < sorted.len() && (sorted[i] >> 8) as u8 == window {
            let low = (sorted[i] & 0xFF) as usize;
            block[low / 8] |= 0x80 >> (low % 8);
            len = len.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&block[..len]);
    }
}
