//! RDATA from presentation text (RFC 1035 §5.1 and each type's RFC), as BIND's per-type
//! `fromtext` reads it, including RFC 3597 generic RDATA (`\# <length> <hex>`) for any type.

use super::encoding::{base32hex_decode, base64_decode, hex_decode};
use super::syntax::{
    CERT_TYPES, Cursor, SECALGS, Token, decode_string, mnemonic_value, parse_decimal, parse_ipv4, parse_ipv6,
    parse_name, parse_number, parse_ttl, parse_type, push_string,
};
use super::wire::{build_bitmap, read_rdata};
use super::{Field, RdataError, TypeInfo, check_rules, special, svcb, type_info};
use crate::name::Dname;

/// A failure at token `index` of the RDATA (`index == tokens.len()`: after the last one).
#[derive(Debug)]
pub(crate) struct TextError {
    pub index: usize,
    pub error: RdataError,
}

/// Parses the RDATA tokens of a record of type `code` onto `out` (uncompressed wire form).
pub(crate) fn parse_rdata(code: u16, tokens: &[Token<'_>], origin: &Dname, out: &mut Vec<u8>) -> Result<(), TextError> {
    let info = type_info(code);
    if tokens.first().is_some_and(|t| !t.quoted && t.raw == b"\\#") {
        return parse_generic(info, tokens, out);
    }
    let Some(info) = info else {
        return Err(TextError { index: 0, error: RdataError::GenericOnly(super::TypeName(code)) });
    };
    if info.generic_only() {
        return Err(TextError { index: 0, error: RdataError::GenericOnly(super::TypeName(code)) });
    }
    let base = out.len();
    let mut cursor = Cursor::new(tokens, origin);
    for &field in info.fields {
        let before = cursor.next;
        parse_field(field, info, &mut cursor, out).map_err(|error| {
            let index = if matches!(error, RdataError::Missing(_)) { cursor.next } else { cursor.blame().max(before) };
            TextError { index, error }
        })?;
    }
    if !cursor.is_empty() {
        return Err(TextError { index: cursor.next, error: RdataError::ExtraText });
    }
    if out.len() - base > super::MAX_RDATA_LEN {
        return Err(TextError { index: 0, error: RdataError::TooLong });
    }
    check_rules(info, &out[base..]).map_err(|error| TextError { index: tokens.len().saturating_sub(1), error })
}

/// RFC 3597 §5: `\# <length> <hex>...`; for a known type the octets must then parse as that
/// type (BIND refuses `A \# 3 010203`).
fn parse_generic(info: Option<&TypeInfo>, tokens: &[Token<'_>], out: &mut Vec<u8>) -> Result<(), TextError> {
    let err = |index, error| TextError { index, error };
    let length_token = tokens.get(1).ok_or_else(|| err(1, RdataError::Missing("RDATA length after `\\#`")))?;
    let declared = parse_decimal(length_token.raw, 65_535)
        .ok_or_else(|| err(1, RdataError::OutOfRange { what: "RDATA length", max: 65_535 }))?
        as usize;
    let mut bytes = Vec::with_capacity(declared);
    for (i, token) in tokens.iter().enumerate().skip(2) {
        hex_decode(token.raw, &mut bytes)
            .ok_or_else(|| err(i, RdataError::Bad { what: "generic RDATA", expected: "hex digits in pairs" }))?;
    }
    if bytes.len() != declared {
        return Err(err(tokens.len() - 1, RdataError::GenericLength { declared, actual: bytes.len() }));
    }
    read_rdata(info, &bytes, 0, bytes.len(), false, out).map_err(|error| err(tokens.len() - 1, error))?;
    Ok(())
}

fn parse_field(
    field: Field,
    info: &TypeInfo,
    cursor: &mut Cursor<'_, '_>,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    match field {
        Field::Name => {
            let token = cursor.take("domain name")?;
            let name = parse_name(token, cursor.origin)?;
            out.extend_from_slice(name.as_wire());
        }
        Field::U8 => out.push(parse_number(cursor.take("number")?, "8-bit number", u8::MAX.into())? as u8),
        Field::U16 => out.extend_from_slice(
            &(parse_number(cursor.take("number")?, "16-bit number", u16::MAX.into())? as u16).to_be_bytes(),
        ),
        Field::U32 => out.extend_from_slice(
            &(parse_number(cursor.take("number")?, "32-bit number", u32::MAX.into())? as u32).to_be_bytes(),
        ),
        Field::Period => {
            let token = cursor.take("time value")?;
            let secs = parse_ttl(token.raw)
                .ok_or(RdataError::Bad { what: "time value", expected: "seconds or 1w2d3h4m5s" })?;
            out.extend_from_slice(&secs.to_be_bytes());
        }
        Field::Ipv4 => out.extend_from_slice(&parse_ipv4(cursor.take("IPv4 address")?)?.octets()),
        Field::Ipv6 => out.extend_from_slice(&parse_ipv6(cursor.take("IPv6 address")?)?.octets()),
        Field::Str => push_string(out, &decode_string(cursor.take("character string")?)?)?,
        Field::StrOpt => {
            if let Some(token) = cursor.peek() {
                cursor.take("character string")?;
                push_string(out, &decode_string(token)?)?;
            }
        }
        Field::Strs => {
            let first = cursor.take("character string")?;
            push_string(out, &decode_string(first)?)?;
            while let Some(token) = cursor.peek() {
                cursor.take("character string")?;
                push_string(out, &decode_string(token)?)?;
            }
        }
        Field::Text => out.extend_from_slice(&decode_string(cursor.take("text")?)?),
        Field::CaaTag => {
            let token = cursor.take("CAA tag")?;
            let tag = decode_string(token)?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(RdataError::Bad { what: "CAA tag", expected: "1-255 letters and digits" });
            }
            push_string(out, &tag)?;
        }
        Field::Base64 | Field::Base64OrDash => {
            let tokens = cursor.rest();
            if field == Field::Base64OrDash && matches!(tokens, [t] if t.raw == b"-") {
                return Ok(());
            }
            // BIND reads at least one base64 token (`IPSECKEY 10 0 0 .` without a key is
            // refused: "unexpected end of input"); empty data needs RFC 3597 generic form.
            if tokens.is_empty() {
                return Err(RdataError::Missing("base64 data"));
            }
            let joined: Vec<u8> = tokens.iter().flat_map(|t| t.raw.iter().copied()).collect();
            base64_decode(&joined, out)
                .ok_or(RdataError::Bad { what: "base64 data", expected: "base64 in 4-character groups" })?;
        }
        Field::Hex => {
            let tokens = cursor.rest();
            if tokens.is_empty() {
                return Err(RdataError::Missing("hex data"));
            }
            let joined: Vec<u8> = tokens.iter().flat_map(|t| t.raw.iter().copied()).collect();
            hex_decode(&joined, out).ok_or(RdataError::Bad { what: "hex data", expected: "hex digits in pairs" })?;
        }
        Field::Salt => {
            let token = cursor.take("salt")?;
            let mut salt = Vec::new();
            if token.raw != b"-" {
                hex_decode(token.raw, &mut salt).ok_or(RdataError::Bad { what: "salt", expected: "hex or `-`" })?;
            }
            push_string(out, &salt)?;
        }
        Field::NextHash => {
            let token = cursor.take("next hashed owner name")?;
            let mut hash = Vec::new();
            base32hex_decode(token.raw, &mut hash)
                .filter(|()| !hash.is_empty())
                .ok_or(RdataError::Bad { what: "next hashed owner name", expected: "base32hex" })?;
            push_string(out, &hash)?;
        }
        Field::Bitmap => {
            let mut types = Vec::new();
            for token in cursor.rest() {
                types.push(parse_type(token)?);
            }
            build_bitmap(&types, out);
        }
        Field::Time => {
            let token = cursor.take("signature time")?;
            out.extend_from_slice(&parse_time(token.raw)?.to_be_bytes());
        }
        Field::Rtype => out.extend_from_slice(&parse_type(&cursor.take("type")?)?.to_be_bytes()),
        Field::SecAlg => {
            let token = cursor.take("algorithm")?;
            let value = match mnemonic_value(SECALGS, token.raw) {
                Some(v) => v,
                None => parse_number(token, "algorithm", u8::MAX.into())?,
            };
            out.push(value as u8);
        }
        Field::CertType => {
            let token = cursor.take("certificate type")?;
            let value = match mnemonic_value(CERT_TYPES, token.raw) {
                Some(v) => v,
                None => parse_number(token, "certificate type", u16::MAX.into())?,
            };
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        Field::Ilnp64 => {
            let token = cursor.take("locator")?;
            let groups: Vec<&[u8]> = token.raw.split(|&b| b == b':').collect();
            let bad = RdataError::Bad { what: "64-bit locator", expected: "four groups of 1-4 hex digits" };
            if groups.len() != 4 {
                return Err(bad);
            }
            for group in groups {
                if group.is_empty() || group.len() > 4 {
                    return Err(bad);
                }
                let text = std::str::from_utf8(group).map_err(|_| bad.clone())?;
                let value = u16::from_str_radix(text, 16).map_err(|_| bad.clone())?;
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        Field::Eui48 => parse_eui(cursor.take("EUI-48 address")?, 6, out)?,
        Field::Eui64 => parse_eui(cursor.take("EUI-64 address")?, 8, out)?,
        Field::Special(super::Special::SvcParams) => svcb::parse_params(cursor, out)?,
        Field::Special(kind) => special::parse(kind, cursor, out)?,
        Field::Opaque => return Err(RdataError::GenericOnly(super::TypeName(info.code))),
    }
    Ok(())
}

/// `xx-xx-...` with exactly two hex digits per group (RFC 7043 §3.2, §4.2).
fn parse_eui(token: Token<'_>, octets: usize, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let bad = RdataError::Bad { what: "EUI address", expected: "hex pairs joined by `-`" };
    let groups: Vec<&[u8]> = token.raw.split(|&b| b == b'-').collect();
    if groups.len() != octets || groups.iter().any(|g| g.len() != 2) {
        return Err(bad);
    }
    for group in groups {
        hex_decode(group, out).ok_or_else(|| bad.clone())?;
    }
    Ok(())
}

/// RRSIG times (RFC 4034 §3.2): `YYYYMMDDHHmmSS` in UTC, or a decimal count of seconds.
/// The 14-digit form is read modulo 2^32 (serial arithmetic, RFC 4034 §3.1.5).
pub(crate) fn parse_time(text: &[u8]) -> Result<u32, RdataError> {
    let bad = RdataError::Bad { what: "signature time", expected: "YYYYMMDDHHmmSS or seconds" };
    if text.len() != 14 {
        return parse_decimal(text, u32::MAX.into()).map(|v| v as u32).ok_or(bad);
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let field =
        |range: std::ops::Range<usize>| -> i64 { text[range].iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')) };
    let (year, month, day) = (field(0..4), field(4..6), field(6..8));
    let (hour, minute, second) = (field(8..10), field(10..12), field(12..14));
    if year < 1970 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad);
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad);
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    Ok(secs.rem_euclid(1 << 32) as u32)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a complete RDATA from one line of presentation text (tests and tools): tokens are
/// separated by blanks, `"..."` quoted.
pub fn rdata_from_text(rtype: u16, text: &str, origin: &Dname) -> Result<Vec<u8>, RdataError> {
    let tokens = crate::zonefile::lexer::tokenize_line(text.as_bytes()).map_err(|_| RdataError::Bad {
        what: "RDATA text",
        expected: "tokens separated by blanks, strings in double quotes",
    })?;
    let mut out = Vec::new();
    parse_rdata(rtype, &tokens, origin, &mut out).map_err(|e| e.error)?;
    Ok(out)
}
