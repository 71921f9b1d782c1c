//! Types whose RDATA layout depends on its own content, each read from text, checked on the
//! wire and presented back: LOC (RFC 1876, in `loc.rs`), APL (RFC 3123), WKS (RFC 1035 §3.4.2), NSAP
//! (RFC 1706), ATMA (ATM Forum af-dans-0152), A6 (RFC 2874), AMTRELAY (RFC 8777), IPSECKEY
//! (RFC 4025), HIP (RFC 8005) and NXT's bitmap (RFC 2535 §5.2).

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::Special;
use super::encoding::{base64_decode, base64_encode, hex_decode, hex_encode};
use super::syntax::{Cursor, parse_ipv4, parse_ipv6, parse_name, parse_number, parse_type};
use super::{RdataError, TypeName};
use crate::name::{wire_len, write_name_text};

pub(crate) fn parse(kind: Special, cursor: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    match kind {
        Special::Loc => super::loc::loc_parse(cursor, out),
        Special::Apl => apl_parse(cursor, out),
        Special::Wks => wks_parse(cursor, out),
        Special::Nsap => {
            let token = cursor.take("NSAP address")?;
            let digits = token
                .raw
                .strip_prefix(b"0x")
                .or_else(|| token.raw.strip_prefix(b"0X"))
                .ok_or(RdataError::Bad { what: "NSAP address", expected: "0x followed by hex" })?;
            let hex: Vec<u8> = digits.iter().copied().filter(|&c| c != b'.').collect();
            let start = out.len();
            hex_decode(&hex, out)
                .filter(|()| out.len() > start)
                .ok_or(RdataError::Bad { what: "NSAP address", expected: "0x followed by hex digits in pairs" })
        }
        Special::Atma => {
            let token = cursor.take("ATM address")?;
            if let Some(digits) = token.raw.strip_prefix(b"+") {
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(RdataError::Bad { what: "E.164 ATM address", expected: "+ and digits" });
                }
                out.push(1);
                out.extend_from_slice(digits);
                Ok(())
            } else {
                out.push(0);
                let hex: Vec<u8> = token.raw.iter().copied().filter(|&c| c != b'.').collect();
                hex_decode(&hex, out)
                    .ok_or(RdataError::Bad { what: "AESA ATM address", expected: "hex digits in pairs" })
            }
        }
        Special::A6 => {
            let prefix_len = parse_number(cursor.take("prefix length")?, "A6 prefix length", 128)? as u8;
            let address = parse_ipv6(cursor.take("address suffix")?)?.octets();
            let skip = usize::from(prefix_len / 8);
            let mut suffix = address[skip..].to_vec();
            if let Some(first) = suffix.first_mut() {
                *first &= 0xFF >> (prefix_len % 8);
            }
            out.push(prefix_len);
            out.extend_from_slice(&suffix);
            if prefix_len > 0 {
                out.extend_from_slice(parse_name(cursor.take("prefix name")?, cursor.origin)?.as_wire());
            }
            Ok(())
        }
        Special::Amtrelay => {
            let precedence = parse_number(cursor.take("precedence")?, "precedence", 255)? as u8;
            let discovery = parse_number(cursor.take("discovery optional bit")?, "discovery optional bit", 1)? as u8;
            let relay_type = parse_number(cursor.take("relay type")?, "relay type", 127)? as u8;
            out.extend_from_slice(&[precedence, discovery << 7 | relay_type]);
            parse_gateway(relay_type, cursor, out, "relay")
        }
        Special::Ipseckey => {
            let gateway_type = parse_number(cursor.take("gateway type")?, "gateway type", 255)? as u8;
            let algorithm = parse_number(cursor.take("algorithm")?, "algorithm", 255)? as u8;
            out.extend_from_slice(&[gateway_type, algorithm]);
            parse_gateway(gateway_type, cursor, out, "gateway")?;
            // As BIND: the key is required in presentation form (empty only as `\#`).
            let tokens = cursor.rest();
            if tokens.is_empty() {
                return Err(RdataError::Missing("public key"));
            }
            let joined: Vec<u8> = tokens.iter().flat_map(|t| t.raw.iter().copied()).collect();
            base64_decode(&joined, out).ok_or(RdataError::Bad { what: "public key", expected: "base64" })
        }
        Special::Hip => {
            let algorithm = parse_number(cursor.take("public key algorithm")?, "public key algorithm", 255)? as u8;
            let mut hit = Vec::new();
            hex_decode(cursor.take("HIT")?.raw, &mut hit)
                .filter(|()| !hit.is_empty() && hit.len() <= 255)
                .ok_or(RdataError::Bad { what: "HIT", expected: "1-255 octets of hex" })?;
            let mut key = Vec::new();
            base64_decode(cursor.take("public key")?.raw, &mut key)
                .filter(|()| !key.is_empty() && key.len() <= usize::from(u16::MAX))
                .ok_or(RdataError::Bad { what: "public key", expected: "base64" })?;
            out.push(hit.len() as u8);
            out.push(algorithm);
            out.extend_from_slice(&(key.len() as u16).to_be_bytes());
            out.extend_from_slice(&hit);
            out.extend_from_slice(&key);
            while let Some(token) = cursor.peek() {
                cursor.take("rendezvous server")?;
                out.extend_from_slice(parse_name(token, cursor.origin)?.as_wire());
            }
            Ok(())
        }
        Special::NxtBitmap => {
            let mut bitmap = [0u8; 16];
            let mut len = 0;
            for token in cursor.rest() {
                let code = parse_type(token)?;
                if code == 0 || code > 127 {
                    return Err(RdataError::OutOfRange { what: "NXT type", max: 127 });
                }
                let code = usize::from(code);
                bitmap[code / 8] |= 0x80 >> (code % 8);
                len = len.max(code / 8 + 1);
            }
            out.extend_from_slice(&bitmap[..len]);
            Ok(())
        }
        Special::SvcParams => unreachable!("SVCB parameters have their own module"),
    }
}

/// A gateway or relay by its type (RFC 4025 §2.5, RFC 8777 §4.2.3): 0 none (`.`), 1 IPv4,
/// 2 IPv6, 3 a domain name, uncompressed.
fn parse_gateway(
    kind: u8,
    cursor: &mut Cursor<'_, '_>,
    out: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), RdataError> {
    let token = cursor.take(what)?;
    match kind {
        0 if token.raw == b"." => Ok(()),
        0 => Err(RdataError::Bad { what, expected: "`.` for type 0" }),
        1 => {
            out.extend_from_slice(&parse_ipv4(token)?.octets());
            Ok(())
        }
        2 => {
            out.extend_from_slice(&parse_ipv6(token)?.octets());
            Ok(())
        }
        3 => {
            out.extend_from_slice(parse_name(token, cursor.origin)?.as_wire());
            Ok(())
        }
        _ => Err(RdataError::OutOfRange { what: "gateway type", max: 3 }),
    }
}

/// Checks a special field's octets. Returns where a name to lower-case in canonical form
/// lies inside them (A6's prefix name).
pub(crate) fn check(kind: Special, bytes: &[u8]) -> Result<Option<(usize, usize)>, RdataError> {
    let truncated = RdataError::Truncated;
    match kind {
        Special::Loc => {
            if bytes.first() != Some(&0) {
                return Err(RdataError::Rule("LOC version other than 0"));
            }
            if bytes.len() != 16 {
                return Err(if bytes.len() < 16 { truncated } else { RdataError::TrailingOctets });
            }
            if bytes[1..4].iter().any(|&b| b >> 4 > 9 || b & 15 > 9) {
                return Err(RdataError::Rule("LOC size or precision mantissa/exponent above 9"));
            }
            let lat = u32::from_be_bytes(bytes[4..8].try_into().expect("4 octets"));
            let lon = u32::from_be_bytes(bytes[8..12].try_into().expect("4 octets"));
            if lat.abs_diff(1 << 31) > 90 * 3_600_000 || lon.abs_diff(1 << 31) > 180 * 3_600_000 {
                return Err(RdataError::Rule("LOC latitude or longitude out of range"));
            }
            Ok(None)
        }
        Special::Apl => {
            let mut at = 0;
            while at < bytes.len() {
                let item = bytes.get(at..at + 4).ok_or(truncated.clone())?;
                let family = u16::from_be_bytes([item[0], item[1]]);
                let (prefix, afd_len) = (item[2], usize::from(item[3] & 0x7F));
                let (max_prefix, max_len) = match family {
                    1 => (32, 4),
                    2 => (128, 16),
                    _ => return Err(RdataError::Rule("APL address family other than 1 (IPv4) or 2 (IPv6)")),
                };
                if prefix > max_prefix || afd_len > max_len {
                    return Err(RdataError::Rule("APL prefix or address too long for its family"));
                }
                let part = bytes.get(at + 4..at + 4 + afd_len).ok_or(truncated.clone())?;
                // RFC 3123 §4: trailing zero octets of the address are not sent.
                if part.last() == Some(&0) {
                    return Err(RdataError::Rule("APL address with a trailing zero octet"));
                }
                at += 4 + afd_len;
            }
            Ok(None)
        }
        Special::Wks => {
            if bytes.is_empty() {
                return Err(truncated);
            }
            if bytes.len() > 1 + 8192 {
                return Err(RdataError::TrailingOctets);
            }
            Ok(None)
        }
        Special::Nsap => {
            if bytes.is_empty() {
                Err(truncated)
            } else {
                Ok(None)
            }
        }
        Special::Atma => match bytes.split_first() {
            None => Err(truncated),
            Some((0, _)) => Ok(None),
            Some((1, digits)) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => Ok(None),
            Some(_) => Err(RdataError::Rule("ATMA address neither AESA (0) nor E.164 digits (1)")),
        },
        Special::A6 => {
            let (&prefix_len, rest) = bytes.split_first().ok_or(truncated.clone())?;
            if prefix_len > 128 {
                return Err(RdataError::OutOfRange { what: "A6 prefix length", max: 128 });
            }
            let suffix_len = 16 - usize::from(prefix_len / 8);
            let suffix_len = if prefix_len == 128 { 0 } else { suffix_len };
            let suffix = rest.get(..suffix_len).ok_or(truncated.clone())?;
            if suffix.first().is_some_and(|&b| b & !(0xFF >> (prefix_len % 8)) != 0) {
                return Err(RdataError::Rule("A6 address suffix has bits inside the prefix"));
            }
            let name = &rest[suffix_len..];
            if prefix_len == 0 {
                return if name.is_empty() { Ok(None) } else { Err(RdataError::TrailingOctets) };
            }
            let len = wire_len(name)?;
            if len != name.len() {
                return Err(RdataError::TrailingOctets);
            }
            Ok(Some((1 + suffix_len, len)))
        }
        Special::Amtrelay => {
            let header = bytes.get(..2).ok_or(truncated.clone())?;
            check_gateway(header[1] & 0x7F, &bytes[2..], false).map(|()| None)
        }
        Special::Ipseckey => {
            let header = bytes.get(..2).ok_or(truncated.clone())?;
            check_gateway(header[0], &bytes[2..], true).map(|()| None)
        }
        Special::Hip => {
            let header = bytes.get(..4).ok_or(truncated.clone())?;
            let hit_len = usize::from(header[0]);
            let key_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            if hit_len == 0 || key_len == 0 {
                return Err(RdataError::Rule("HIP with an empty HIT or public key"));
            }
            let mut at = 4 + hit_len + key_len;
            if at > bytes.len() {
                return Err(truncated);
            }
            while at < bytes.len() {
                at += wire_len(&bytes[at..])?;
            }
            Ok(None)
        }
        Special::NxtBitmap => {
            if bytes.len() > 16 {
                return Err(RdataError::Rule("NXT bitmap longer than 16 octets"));
            }
            if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                return Err(RdataError::Rule("NXT bitmap with type 0 set"));
            }
            Ok(None)
        }
        Special::SvcParams => unreachable!("SVCB parameters have their own module"),
    }
}

/// The names inside a checked special field: (offset, length) pairs.
pub(crate) fn names(kind: Special, bytes: &[u8]) -> Vec<(usize, usize)> {
    let name_at = |at: usize| wire_len(bytes.get(at..).unwrap_or(&[])).ok().map(|len| (at, len));
    match kind {
        Special::A6 => check(kind, bytes).ok().flatten().into_iter().collect(),
        Special::Amtrelay if bytes.get(1).is_some_and(|t| t & 0x7F == 3) => name_at(2).into_iter().collect(),
        Special::Ipseckey if bytes.first() == Some(&3) => name_at(2).into_iter().collect(),
        Special::Hip => {
            let (Some(&hit), Some(key)) = (bytes.first(), bytes.get(2..4)) else { return Vec::new() };
            let mut at = 4 + usize::from(hit) + usize::from(u16::from_be_bytes([key[0], key[1]]));
            let mut names = Vec::new();
            while let Some((start, len)) = name_at(at).filter(|_| at < bytes.len()) {
                names.push((start, len));
                at += len;
            }
            names
        }
        _ => Vec::new(),
    }
}

/// `rest` is the gateway followed (for IPSECKEY) by the key, which may be anything.
fn check_gateway(kind: u8, rest: &[u8], key_follows: bool) -> Result<(), RdataError> {
    let used = match kind {
        0 => 0,
        1 => 4,
        2 => 16,
        3 => wire_len(rest)?,
        _ => return Err(RdataError::OutOfRange { what: "gateway type", max: 3 }),
    };
    if used > rest.len() {
        return Err(RdataError::Truncated);
    }
    if !key_follows && used != rest.len() {
        return Err(RdataError::TrailingOctets);
    }
    Ok(())
}

/// Presents a special field; `None` when it cannot be presented natively (the caller then
/// writes the whole RDATA in generic form).
pub(crate) fn present(kind: Special, bytes: &[u8], out: &mut String) -> Option<()> {
    match kind {
        Special::Loc => super::loc::loc_present(bytes, out),
        Special::Apl => {
            let mut at = 0;
            let mut first = true;
            while at < bytes.len() {
                let family = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
                let (prefix, negate, len) =
                    (bytes[at + 2], bytes[at + 3] & 0x80 != 0, usize::from(bytes[at + 3] & 0x7F));
                let part = &bytes[at + 4..at + 4 + len];
                if !first {
                    out.push(' ');
                }
                first = false;
                if negate {
                    out.push('!');
                }
                match family {
                    1 => {
                        let mut octets = [0u8; 4];
                        octets[..len].copy_from_slice(part);
                        write!(out, "1:{}/{prefix}", Ipv4Addr::from(octets)).ok()?;
                    }
                    _ => {
                        let mut octets = [0u8; 16];
                        octets[..len].copy_from_slice(part);
                        write!(out, "2:{}/{prefix}", Ipv6Addr::from(octets)).ok()?;
                    }
                }
                at += 4 + len;
            }
            Some(())
        }
        Special::Wks => {
            write!(out, "{}", bytes[0]).ok()?;
            for (i, &octet) in bytes[1..].iter().enumerate() {
                for bit in 0..8 {
                    if octet & (0x80 >> bit) != 0 {
                        write!(out, " {}", i * 8 + bit).ok()?;
                    }
                }
            }
            Some(())
        }
        Special::Nsap => {
            out.push_str("0x");
            hex_encode(bytes, out);
            Some(())
        }
        Special::Atma => {
            match bytes[0] {
                0 => hex_encode(&bytes[1..], out),
                _ => {
                    out.push('+');
                    out.push_str(std::str::from_utf8(&bytes[1..]).ok()?);
                }
            }
            Some(())
        }
        Special::A6 => {
            let prefix_len = bytes[0];
            let suffix_len = if prefix_len == 128 { 0 } else { 16 - usize::from(prefix_len / 8) };
            let mut octets = [0u8; 16];
            octets[16 - suffix_len..].copy_from_slice(&bytes[1..1 + suffix_len]);
            write!(out, "{prefix_len} {}", Ipv6Addr::from(octets)).ok()?;
            if prefix_len > 0 {
                out.push(' ');
                write_name_text(&bytes[1 + suffix_len..], out);
            }
            Some(())
        }
        Special::Amtrelay => {
            write!(out, "{} {} {} ", bytes[0], bytes[1] >> 7, bytes[1] & 0x7F).ok()?;
            present_gateway(bytes[1] & 0x7F, &bytes[2..], out)?;
            Some(())
        }
        Special::Ipseckey => {
            write!(out, "{} {} ", bytes[0], bytes[1]).ok()?;
            let used = present_gateway(bytes[0], &bytes[2..], out)?;
            let key = &bytes[2 + used..];
            if key.is_empty() {
                return None; // no presentation form without a key: generic
            }
            out.push(' ');
            base64_encode(key, out);
            Some(())
        }
        Special::Hip => {
            let hit_len = usize::from(bytes[0]);
            let key_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
            write!(out, "{} ", bytes[1]).ok()?;
            hex_encode(&bytes[4..4 + hit_len], out);
            out.push(' ');
            base64_encode(&bytes[4 + hit_len..4 + hit_len + key_len], out);
            let mut at = 4 + hit_len + key_len;
            while at < bytes.len() {
                let len = wire_len(&bytes[at..]).ok()?;
                out.push(' ');
                write_name_text(&bytes[at..at + len], out);
                at += len;
            }
            Some(())
        }
        Special::NxtBitmap => {
            let mut first = true;
            for (i, &octet) in bytes.iter().enumerate() {
                for bit in 0..8 {
                    if octet & (0x80 >> bit) != 0 {
                        if !first {
                            out.push(' ');
                        }
                        first = false;
                        write!(out, "{}", TypeName((i * 8 + bit) as u16)).ok()?;
                    }
                }
            }
            Some(())
        }
        Special::SvcParams => unreachable!("SVCB parameters have their own module"),
    }
}

/// Presents a gateway; returns the octets it used.
fn present_gateway(kind: u8, rest: &[u8], out: &mut String) -> Option<usize> {
    match kind {
        0 => {
            out.push('.');
            Some(0)
        }
        1 => {
            write!(out, "{}", Ipv4Addr::from(<[u8; 4]>::try_from(rest.get(..4)?).ok()?)).ok()?;
            Some(4)
        }
        2 => {
            write!(out, "{}", Ipv6Addr::from(<[u8; 16]>::try_from(rest.get(..16)?).ok()?)).ok()?;
            Some(16)
        }
        _ => {
            let len = wire_len(rest).ok()?;
            write_name_text(&rest[..len], out);
            Some(len)
        }
    }
}

// ----- APL (RFC 3123 §4) -----------------------------------------------------------------------

fn apl_parse(cursor: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let bad = RdataError::Bad { what: "APL item", expected: "[!]1:ipv4/prefix or [!]2:ipv6/prefix" };
    for token in cursor.rest() {
        let (negate, item) = match token.raw.strip_prefix(b"!") {
            Some(rest) => (true, rest),
            None => (false, token.raw),
        };
        let text = std::str::from_utf8(item).map_err(|_| bad.clone())?;
        let (family, rest) = text.split_once(':').ok_or(bad.clone())?;
        let (address, prefix) = rest.rsplit_once('/').ok_or(bad.clone())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad.clone())?;
        let (family, mut octets, max_prefix) = match family {
            "1" => (1u16, address.parse::<Ipv4Addr>().map_err(|_| bad.clone())?.octets().to_vec(), 32),
            "2" => (2u16, address.parse::<Ipv6Addr>().map_err(|_| bad.clone())?.octets().to_vec(), 128),
            _ => return Err(bad),
        };
        if prefix > max_prefix {
            return Err(RdataError::OutOfRange { what: "APL prefix", max: u64::from(max_prefix) });
        }
        while octets.last() == Some(&0) {
            octets.pop();
        }
        out.extend_from_slice(&family.to_be_bytes());
        out.push(prefix);
        out.push(u8::from(negate) << 7 | octets.len() as u8);
        out.extend_from_slice(&octets);
    }
    Ok(())
}

// ----- WKS (RFC 1035 §3.4.2) -------------------------------------------------------------------

/// Protocols and services by name. BIND asks the system's `/etc/protocols` and
/// `/etc/services`; a fixed table keeps loading independent of the machine.
const PROTOCOLS: &[(&str, u8)] = &[("icmp", 1), ("tcp", 6), ("udp", 17)];
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("domain", 53),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
];

fn wks_parse(cursor: &mut Cursor<'_, '_>, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let token = cursor.take("protocol")?;
    let protocol = match PROTOCOLS.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(token.raw)) {
        Some(&(_, p)) => p,
        None => parse_number(token, "protocol", 255)? as u8,
    };
    out.push(protocol);
    let mut bitmap = vec![0u8; 0];
    for token in cursor.rest() {
        let port = match SERVICES.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(token.raw)) {
            Some(&(_, p)) => p,
            None => parse_number(*token, "service port", 65_535)? as u16,
        };
        let index = usize::from(port / 8);
        if bitmap.len() <= index {
            bitmap.resize(index + 1, 0);
        }
        bitmap[index] |= 0x80 >> (port % 8);
    }
    out.extend_from_slice(&bitmap);
    Ok(())
}
