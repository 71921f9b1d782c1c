//! LOC (RFC 1876): degrees, minutes and seconds with a hemisphere, altitude and sizes in
//! metres with centimetre precision, sizes stored as mantissa and power of ten (Appendix A).

use std::fmt::Write;

use super::RdataError;
use super::syntax::{Cursor, Token, parse_number};

/// A decimal with up to `places` fraction digits, scaled by 10^places (`12.5` with 2 → 1250).
fn parse_fixed(raw: &[u8], places: u32, what: &'static str) -> Result<i64, RdataError> {
    let bad = RdataError::Bad { what, expected: "a decimal number" };
    let (negative, raw) = match raw.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = match raw.iter().position(|&c| c == b'.') {
        Some(dot) => (&raw[..dot], &raw[dot + 1..]),
        None => (raw, &[][..]),
    };
    if whole.is_empty() || whole.len() > 12 || fraction.len() > places as usize {
        return Err(bad);
    }
    if !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let mut value = whole.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    for i in 0..places as usize {
        value = value * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    Ok(if negative { -value } else { value })
}

/// A size or precision in centimetres as mantissa/exponent (RFC 1876 Appendix A
/// `precsize_aton`: the mantissa is truncated, at most 9).
fn precision_byte(cm: i64) -> u8 {
    let mut exponent = 0;
    while exponent < 9 && cm >= 10i64.pow(exponent + 1) {
        exponent += 1;
    }
    let mantissa = (cm / 10i64.pow(exponent)).min(9);
    (mantissa as u8) << 4 | exponent as u8
}

fn meters_token(token: Token<'_>, what: &'static str) -> Result<i64, RdataError> {
    let raw = token.raw.strip_suffix(b"m").or_else(|| token.raw.strip_suffix(b"M")).unwrap_or(token.raw);
    parse_fixed(raw, 2, what)
}

/// `d [m [s]] N|S` → thousandths of an arc-second from the equator or meridian.
fn loc_angle(cursor: &mut Cursor<'_, '_>, max_degrees: i64, positive: u8, negative: u8) -> Result<i64, RdataError> {
    let what = if positive == b'N' { "latitude" } else { "longitude" };
    let degrees = parse_number(cursor.take(what)?, what, max_degrees as u64)? as i64;
    let mut value = degrees * 3_600_000;
    let mut parts = 0;
    loop {
        let token = cursor.take(what)?;
        if let [hemisphere] = token.raw {
            let hemisphere = hemisphere.to_ascii_uppercase();
            if hemisphere == positive || hemisphere == negative {
                if value > max_degrees * 3_600_000 {
                    return Err(RdataError::OutOfRange { what, max: max_degrees as u64 });
                }
                return Ok(if hemisphere == negative { -value } else { value });
            }
        }
        parts += 1;
        match parts {
            1 => value += parse_number(token, "minutes", 59)? as i64 * 60_000,
            2 => {
                let millis = parse_fixed(token.raw, 3, "seconds")?;
                if !(0..60_000).contains(&millis) {
                    return Err(RdataError::OutOfRange { what: "seconds", max: 59 });
                }
                value += millis;
            }
            _ => return Err(RdataError::Bad { what, expected: "degrees [minutes [seconds]] and a hemisphere" }),
        }
    }
}

pub(super) fn loc_parse(cursor: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let latitude = loc_angle(cursor, 90, b'N', b'S')?;
    let longitude = loc_angle(cursor, 180, b'E', b'W')?;
    let altitude = meters_token(cursor.take("altitude")?, "altitude")?;
    if !(-10_000_000..=4_284_967_295).contains(&altitude) {
        return Err(RdataError::Rule("LOC altitude outside -100000.00m..42849672.95m"));
    }
    // Defaults (RFC 1876 §3): size 1 m, horizontal precision 10,000 m, vertical 10 m.
    let mut precisions = [100i64, 1_000_000, 1_000];
    for precision in &mut precisions {
        match cursor.peek() {
            Some(token) => {
                cursor.take("precision")?;
                let cm = meters_token(token, "size or precision")?;
                if !(0..=9_000_000_000).contains(&cm) {
                    return Err(RdataError::Rule("LOC size or precision outside 0..90000000.00m"));
                }
                *precision = cm;
            }
            None => break,
        }
    }
    out.push(0);
    out.extend(precisions.iter().map(|&cm| precision_byte(cm)));
    out.extend_from_slice(&(((1i64 << 31) + latitude) as u32).to_be_bytes());
    out.extend_from_slice(&(((1i64 << 31) + longitude) as u32).to_be_bytes());
    out.extend_from_slice(&((altitude + 10_000_000) as u32).to_be_bytes());
    Ok(())
}

pub(super) fn loc_present(bytes: &[u8], out: &mut String) -> Option<()> {
    let word = |at: usize| i64::from(u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 octets")));
    let angle = |value: i64, positive: char, negative: char, out: &mut String| {
        let offset = value - (1i64 << 31);
        let hemisphere = if offset < 0 { negative } else { positive };
        let offset = offset.abs();
        let (degrees, rest) = (offset / 3_600_000, offset % 3_600_000);
        let (minutes, millis) = (rest / 60_000, rest % 60_000);
        write!(out, "{degrees} {minutes} {}.{:03} {hemisphere}", millis / 1000, millis % 1000).ok()
    };
    angle(word(4), 'N', 'S', out)?;
    out.push(' ');
    angle(word(8), 'E', 'W', out)?;
    let altitude = word(12) - 10_000_000;
    let sign = if altitude < 0 { "-" } else { "" };
    write!(out, " {sign}{}.{:02}m", altitude.abs() / 100, altitude.abs() % 100).ok()?;
    for &precision in &bytes[1..4] {
        let cm = i64::from(precision >> 4) * 10i64.pow(u32::from(precision & 15));
        write!(out, " {}.{:02}m", cm / 100, cm % 100).ok()?;
    }
    Some(())
}
