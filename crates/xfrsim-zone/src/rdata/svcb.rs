//! SVCB and HTTPS service parameters (RFC 9460 §2.2, §7, Appendix A): read in any order and
//! stored in key order, as BIND, Knot and NSD do; checked on the wire (ascending keys, each
//! value well-formed for its key, every mandatory key present).

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::RdataError;
use super::encoding::{base64_decode, base64_encode};
use super::syntax::{Cursor, decode_escapes, parse_decimal, push_escaped as push_string_escaped};

const MANDATORY: u16 = 0;
const ALPN: u16 = 1;
const NO_DEFAULT_ALPN: u16 = 2;
const PORT: u16 = 3;
const IPV4HINT: u16 = 4;
const ECH: u16 = 5;
const IPV6HINT: u16 = 6;
const DOHPATH: u16 = 7;
const OHTTP: u16 = 8;
/// RFC 9460 §14.3.2: key 65535 is reserved ("invalid key").
const INVALID_KEY: u16 = 65_535;

const KEY_NAMES: &[(&str, u16)] = &[
    ("mandatory", MANDATORY),
    ("alpn", ALPN),
    ("no-default-alpn", NO_DEFAULT_ALPN),
    ("port", PORT),
    ("ipv4hint", IPV4HINT),
    ("ech", ECH),
    ("ipv6hint", IPV6HINT),
    ("dohpath", DOHPATH),
    ("ohttp", OHTTP),
];

fn bad(expected: &'static str) -> RdataError {
    RdataError::Bad { what: "SVCB parameter", expected }
}

/// A key by name (`alpn`) or number (`key1`, RFC 9460 §2.1).
fn key_from_text(text: &[u8]) -> Result<u16, RdataError> {
    if let Some(&(_, key)) = KEY_NAMES.iter().find(|(name, _)| name.as_bytes() == text) {
        return Ok(key);
    }
    let digits = text.strip_prefix(b"key").ok_or(bad("a known key or keyNNNNN"))?;
    if digits.len() > 1 && digits[0] == b'0' {
        return Err(bad("keyNNNNN without leading zeros"));
    }
    let key = parse_decimal(digits, 65_535).ok_or(bad("keyNNNNN with NNNNN at most 65535"))? as u16;
    if key == INVALID_KEY {
        return Err(RdataError::Rule("SVCB key65535 is reserved"));
    }
    Ok(key)
}

fn write_key(key: u16, out: &mut String) {
    match KEY_NAMES.iter().find(|&&(_, k)| k == key) {
        Some((name, _)) => out.push_str(name),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}

/// Splits a decoded value-list on unescaped commas, decoding `\,` and `\\` in items
/// (RFC 9460 Appendix A.1).
fn split_list(value: &[u8]) -> Result<Vec<Vec<u8>>, RdataError> {
    let mut items = vec![Vec::new()];
    let mut escaped = false;
    for &b in value {
        if escaped {
            items.last_mut().expect("never empty").push(b);
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b',' {
            items.push(Vec::new());
        } else {
            items.last_mut().expect("never empty").push(b);
        }
    }
    if escaped || items.iter().any(Vec::is_empty) {
        return Err(bad("a comma-separated list of non-empty items"));
    }
    Ok(items)
}

/// Reads the parameters after priority and target; writes them in key order.
pub(crate) fn parse_params(cursor: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    for token in cursor.rest() {
        let (key_text, value) = match token.raw.iter().position(|&c| c == b'=') {
            Some(eq) => (&token.raw[..eq], Some(&token.raw[eq + 1..])),
            None => (token.raw, None),
        };
        let key = key_from_text(key_text)?;
        // `key="value"`: the lexer keeps an embedded quoted value inside the token.
        let value = value.map(|v| match v {
            [b'"', inner @ .., b'"'] => inner,
            v => v,
        });
        let value = value.map(decode_escapes).transpose()?;
        let wire = value_to_wire(key, value.as_deref())?;
        if params.iter().any(|(k, _)| *k == key) {
            return Err(RdataError::Rule("SVCB parameter key given twice"));
        }
        params.push((key, wire));
    }
    params.sort_by_key(|(key, _)| *key);
    let start = out.len();
    for (key, value) in &params {
        let len = u16::try_from(value.len()).map_err(|_| RdataError::TooLong)?;
        out.extend_from_slice(&key.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(value);
    }
    check_params(&out[start..])
}

fn value_to_wire(key: u16, value: Option<&[u8]>) -> Result<Vec<u8>, RdataError> {
    let mut wire = Vec::new();
    match key {
        NO_DEFAULT_ALPN | OHTTP => {
            if value.is_some_and(|v| !v.is_empty()) {
                return Err(RdataError::Rule("SVCB no-default-alpn and ohttp take no value"));
            }
        }
        MANDATORY => {
            for item in split_list(value.ok_or(bad("mandatory=key,..."))?)? {
                wire.extend_from_slice(&key_from_text(&item)?.to_be_bytes());
            }
            let mut keys: Vec<u16> = wire.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            keys.sort_unstable();
            wire = keys.iter().flat_map(|k| k.to_be_bytes()).collect();
        }
        ALPN => {
            for item in split_list(value.ok_or(bad("alpn=id,..."))?)? {
                let len = u8::try_from(item.len()).map_err(|_| RdataError::StringTooLong)?;
                wire.push(len);
                wire.extend_from_slice(&item);
            }
        }
        PORT => {
            let value = value.ok_or(bad("port=number"))?;
            let port = parse_decimal(value, 65_535).ok_or(bad("port=number up to 65535"))? as u16;
            wire.extend_from_slice(&port.to_be_bytes());
        }
        IPV4HINT => {
            for item in split_list(value.ok_or(bad("ipv4hint=address,..."))?)? {
                let text = std::str::from_utf8(&item).map_err(|_| bad("IPv4 addresses"))?;
                wire.extend_from_slice(&text.parse::<Ipv4Addr>().map_err(|_| bad("IPv4 addresses"))?.octets());
            }
        }
        IPV6HINT => {
            for item in split_list(value.ok_or(bad("ipv6hint=address,..."))?)? {
                let text = std::str::from_utf8(&item).map_err(|_| bad("IPv6 addresses"))?;
                wire.extend_from_slice(&text.parse::<Ipv6Addr>().map_err(|_| bad("IPv6 addresses"))?.octets());
            }
        }
        ECH => {
            base64_decode(value.ok_or(bad("ech=base64"))?, &mut wire).ok_or(bad("ech=base64"))?;
        }
        _ => wire.extend_from_slice(value.unwrap_or_default()),
    }
    Ok(wire)
}

/// Checks wire parameters: strictly ascending keys, values well-formed for known keys, each
/// mandatory key present and not itself `mandatory` (RFC 9460 §2.2, §8).
pub(crate) fn check_params(bytes: &[u8]) -> Result<(), RdataError> {
    let mut at = 0;
    let mut last: Option<u16> = None;
    let mut keys = Vec::new();
    let mut mandatory: &[u8] = &[];
    while at < bytes.len() {
        let header = bytes.get(at..at + 4).ok_or(RdataError::Truncated)?;
        let key = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let value = bytes.get(at + 4..at + 4 + len).ok_or(RdataError::Truncated)?;
        if last.is_some_and(|l| key <= l) {
            return Err(RdataError::Rule("SVCB parameter keys not in strictly ascending order"));
        }
        if key == INVALID_KEY {
            return Err(RdataError::Rule("SVCB key65535 is reserved"));
        }
        let ok = match key {
            MANDATORY => !value.is_empty() && value.len() % 2 == 0,
            ALPN => alpn_ids(value).is_some(),
            NO_DEFAULT_ALPN | OHTTP => value.is_empty(),
            PORT => value.len() == 2,
            IPV4HINT => !value.is_empty() && value.len() % 4 == 0,
            IPV6HINT => !value.is_empty() && value.len() % 16 == 0,
            _ => true,
        };
        if !ok {
            return Err(RdataError::Rule("SVCB parameter value malformed for its key"));
        }
        if key == MANDATORY {
            mandatory = value;
        }
        keys.push(key);
        last = Some(key);
        at += 4 + len;
    }
    let mut previous: Option<u16> = None;
    for pair in mandatory.chunks_exact(2) {
        let key = u16::from_be_bytes([pair[0], pair[1]]);
        if key == MANDATORY || previous.is_some_and(|p| key <= p) || !keys.contains(&key) {
            return Err(RdataError::Rule("SVCB mandatory keys must be ascending, present, and not `mandatory`"));
        }
        previous = Some(key);
    }
    Ok(())
}

/// The alpn-ids of an `alpn` value: at least one, each non-empty.
fn alpn_ids(value: &[u8]) -> Option<Vec<&[u8]>> {
    let mut ids = Vec::new();
    let mut at = 0;
    while at < value.len() {
        let len = usize::from(value[at]);
        if len == 0 {
            return None;
        }
        ids.push(value.get(at + 1..at + 1 + len)?);
        at += 1 + len;
    }
    (!ids.is_empty()).then_some(ids)
}

/// Escapes octets for a quoted presentation value; `list` first escapes `,` and `\` for
/// value-lists (RFC 9460 Appendix A.1), then the whole is escaped as a character-string.
fn push_escaped(bytes: &[u8], list: bool, out: &mut String) {
    if !list {
        return push_string_escaped(bytes, out);
    }
    let mut listed = Vec::with_capacity(bytes.len() + 2);
    for &b in bytes {
        if matches!(b, b',' | b'\\') {
            listed.push(b'\\');
        }
        listed.push(b);
    }
    push_string_escaped(&listed, out);
}

/// Presents checked parameters, a leading space before each.
pub(crate) fn present_params(bytes: &[u8], out: &mut String) -> Option<()> {
    let mut at = 0;
    while at < bytes.len() {
        let key = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let value = &bytes[at + 4..at + 4 + len];
        out.push(' ');
        write_key(key, out);
        match key {
            NO_DEFAULT_ALPN | OHTTP => {}
            MANDATORY => {
                out.push('=');
                for (i, pair) in value.chunks_exact(2).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_key(u16::from_be_bytes([pair[0], pair[1]]), out);
                }
            }
            ALPN => {
                out.push_str("=\"");
                for (i, id) in alpn_ids(value)?.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_escaped(id, true, out);
                }
                out.push('"');
            }
            PORT => {
                let _ = write!(out, "={}", u16::from_be_bytes([value[0], value[1]]));
            }
            IPV4HINT => {
                out.push('=');
                for (i, chunk) in value.chunks_exact(4).enumerate() {
                    let _ = write!(
                        out,
                        "{}{}",
                        if i > 0 { "," } else { "" },
                        Ipv4Addr::from(<[u8; 4]>::try_from(chunk).ok()?)
                    );
                }
            }
            IPV6HINT => {
                out.push('=');
                for (i, chunk) in value.chunks_exact(16).enumerate() {
                    let _ = write!(
                        out,
                        "{}{}",
                        if i > 0 { "," } else { "" },
                        Ipv6Addr::from(<[u8; 16]>::try_from(chunk).ok()?)
                    );
                }
            }
            ECH => {
                out.push('=');
                base64_encode(value, out);
            }
            _ => {
                out.push_str("=\"");
                push_escaped(value, false, out);
                out.push('"');
            }
        }
        at += 4 + len;
    }
    Some(())
}
