//! RDATA back to presentation text, in the form [`super::text`] reads: every type in its own
//! syntax, or RFC 3597 generic form (`\# <length> <hex>`) for unknown types and for RDATA
//! that has no native form (NULL).

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::encoding::{base32hex_encode, base64_encode, hex_encode};
use super::syntax::{CERT_TYPES, SECALGS, write_quoted};
use super::wire::bitmap_types;
use super::{Field, Special, TypeName, special, svcb, type_info};
use crate::name::{wire_len, write_name_text};

/// Appends the presentation form of checked, uncompressed RDATA of type `code` to `out`.
pub(crate) fn write_rdata(code: u16, rdata: &[u8], out: &mut String) {
    let start = out.len();
    let native = type_info(code).filter(|info| !info.generic_only()).and_then(|info| {
        let mut at = 0;
        for (i, &field) in info.fields.iter().enumerate() {
            let before = out.len();
            if i > 0 {
                out.push(' ');
            }
            at = write_field(field, rdata, at, out)?;
            // A field that wrote nothing (an absent optional string, an empty bitmap or key)
            // leaves no separator behind.
            if out.len() == before + 1 && i > 0 {
                out.truncate(before);
            }
        }
        (at == rdata.len()).then_some(())
    });
    if native.is_none() {
        out.truncate(start);
        write_generic(rdata, out);
    }
}

/// RFC 3597 §5 generic form.
pub(crate) fn write_generic(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        hex_encode(rdata, out);
    }
}

/// Writes one field starting at `at`; returns the position after it.
fn write_field(field: Field, rdata: &[u8], at: usize, out: &mut String) -> Option<usize> {
    let rest = rdata.get(at..)?;
    let word = |n: usize| rest.get(..n);
    Some(match field {
        Field::Name => {
            let len = wire_len(rest).ok()?;
            write_name_text(&rest[..len], out);
            at + len
        }
        Field::U8 => {
            let _ = write!(out, "{}", word(1)?[0]);
            at + 1
        }
        Field::U16 => {
            let _ = write!(out, "{}", u16::from_be_bytes(word(2)?.try_into().ok()?));
            at + 2
        }
        Field::U32 | Field::Period => {
            let _ = write!(out, "{}", u32::from_be_bytes(word(4)?.try_into().ok()?));
            at + 4
        }
        Field::Ipv4 => {
            let _ = write!(out, "{}", Ipv4Addr::from(<[u8; 4]>::try_from(word(4)?).ok()?));
            at + 4
        }
        Field::Ipv6 => {
            let _ = write!(out, "{}", Ipv6Addr::from(<[u8; 16]>::try_from(word(16)?).ok()?));
            at + 16
        }
        Field::Str => at + write_string(rest, out)?,
        Field::StrOpt => {
            if rest.is_empty() {
                at
            } else {
                at + write_string(rest, out)?
            }
        }
        Field::Strs => {
            let mut used = write_string(rest, out)?;
            while used < rest.len() {
                out.push(' ');
                used += write_string(&rest[used..], out)?;
            }
            at + used
        }
        Field::Text => {
            write_quoted(rest, out);
            rdata.len()
        }
        Field::CaaTag => {
            let len = usize::from(*rest.first()?);
            out.push_str(std::str::from_utf8(rest.get(1..1 + len)?).ok()?);
            at + 1 + len
        }
        Field::Base64 => {
            if rest.is_empty() {
                return None; // text needs at least one base64 token: generic form
            }
            base64_encode(rest, out);
            rdata.len()
        }
        Field::Base64OrDash => {
            if rest.is_empty() {
                out.push('-');
            } else {
                base64_encode(rest, out);
            }
            rdata.len()
        }
        Field::Hex => {
            hex_encode(rest, out);
            rdata.len()
        }
        Field::Salt => {
            let len = usize::from(*rest.first()?);
            if len == 0 {
                out.push('-');
            } else {
                hex_encode(rest.get(1..1 + len)?, out);
            }
            at + 1 + len
        }
        Field::NextHash => {
            let len = usize::from(*rest.first()?);
            base32hex_encode(rest.get(1..1 + len)?, out);
            at + 1 + len
        }
        Field::Bitmap => {
            for (i, code) in bitmap_types(rest).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{}", TypeName(code));
            }
            rdata.len()
        }
        Field::Time => {
            write_time(u32::from_be_bytes(word(4)?.try_into().ok()?), out);
            at + 4
        }
        Field::Rtype => {
            let _ = write!(out, "{}", TypeName(u16::from_be_bytes(word(2)?.try_into().ok()?)));
            at + 2
        }
        Field::SecAlg => {
            let value = u64::from(word(1)?[0]);
            match SECALGS.iter().find(|&&(_, v)| v == value) {
                Some((name, _)) => out.push_str(name),
                None => {
                    let _ = write!(out, "{value}");
                }
            }
            at + 1
        }
        Field::CertType => {
            let value = u64::from(u16::from_be_bytes(word(2)?.try_into().ok()?));
            match CERT_TYPES.iter().find(|&&(_, v)| v == value) {
                Some((name, _)) => out.push_str(name),
                None => {
                    let _ = write!(out, "{value}");
                }
            }
            at + 2
        }
        Field::Ilnp64 => {
            let groups = word(8)?;
            for (i, pair) in groups.chunks_exact(2).enumerate() {
                let _ = write!(out, "{}{:04x}", if i > 0 { ":" } else { "" }, u16::from_be_bytes([pair[0], pair[1]]));
            }
            at + 8
        }
        Field::Eui48 | Field::Eui64 => {
            let n = if field == Field::Eui48 { 6 } else { 8 };
            for (i, b) in word(n)?.iter().enumerate() {
                let _ = write!(out, "{}{b:02x}", if i > 0 { "-" } else { "" });
            }
            at + n
        }
        Field::Special(Special::SvcParams) => {
            // Parameters bring their own leading spaces; drop the separator written for them.
            if out.ends_with(' ') {
                out.pop();
            }
            svcb::present_params(rest, out)?;
            rdata.len()
        }
        Field::Special(kind) => {
            special::present(kind, rest, out)?;
            rdata.len()
        }
        Field::Opaque => return None,
    })
}

/// A `<character-string>` in quotes; returns the octets used.
fn write_string(rest: &[u8], out: &mut String) -> Option<usize> {
    let len = usize::from(*rest.first()?);
    write_quoted(rest.get(1..1 + len)?, out);
    Some(1 + len)
}

/// `YYYYMMDDHHmmSS` for a 32-bit signature time (RFC 4034 §3.2), taken in 1970–2106.
fn write_time(secs: u32, out: &mut String) {
    let secs = i64::from(secs);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(out, "{year:04}{month:02}{day:02}{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
