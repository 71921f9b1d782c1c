//! The pieces of presentation syntax every type's grammar is written in, both ways: tokens and
//! the cursor over them, numbers, names, addresses, TTLs, mnemonic tables, and the escapes of
//! RFC 1035 §5.1 (decoding text, quoting octets).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{RdataError, type_from_text};
use crate::name::{Dname, push_decimal3, unescape};

/// One token of a master-file entry: its raw text (escapes not yet decoded; without the
/// surrounding quotes when `quoted`), and where it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub raw: &'a [u8],
    pub quoted: bool,
    pub line: u32,
    pub col: u32,
}

/// Tokens being consumed by the fields of one RDATA.
pub(crate) struct Cursor<'t, 'a> {
    tokens: &'t [Token<'a>],
    pub next: usize,
    pub origin: &'t Dname,
}

impl<'t, 'a> Cursor<'t, 'a> {
    pub fn new(tokens: &'t [Token<'a>], origin: &'t Dname) -> Self {
        Cursor { tokens, next: 0, origin }
    }

    /// The next token, or the error naming what was missing.
    pub fn take(&mut self, what: &'static str) -> Result<Token<'a>, RdataError> {
        let token = *self.tokens.get(self.next).ok_or(RdataError::Missing(what))?;
        self.next += 1;
        Ok(token)
    }

    pub fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.next).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.next >= self.tokens.len()
    }

    /// Every remaining token (possibly none).
    pub fn rest(&mut self) -> &'t [Token<'a>] {
        let rest = &self.tokens[self.next.min(self.tokens.len())..];
        self.next = self.tokens.len();
        rest
    }

    /// Index of the token a failure should point at: the last one taken.
    pub fn blame(&self) -> usize {
        self.next.saturating_sub(1)
    }
}

/// A name field: `@` is the origin; a name without a final dot is relative to it.
pub(crate) fn parse_name(token: Token<'_>, origin: &Dname) -> Result<Dname, RdataError> {
    if token.raw == b"@" && !token.quoted {
        return Ok(origin.clone());
    }
    Ok(Dname::from_text(token.raw, origin)?)
}

pub(crate) fn parse_type(token: &Token<'_>) -> Result<u16, RdataError> {
    let text = std::str::from_utf8(token.raw)
        .map_err(|_| RdataError::UnknownType(String::from_utf8_lossy(token.raw).into()))?;
    type_from_text(text).ok_or_else(|| RdataError::UnknownType(text.to_string()))
}

/// A decimal number of at most `max` (BIND `isc_parse_uint*`: digits only).
pub(crate) fn parse_number(token: Token<'_>, what: &'static str, max: u64) -> Result<u64, RdataError> {
    if token.raw.is_empty() || !token.raw.iter().all(u8::is_ascii_digit) {
        return Err(RdataError::Bad { what, expected: "a decimal number" });
    }
    parse_decimal(token.raw, max).ok_or(RdataError::OutOfRange { what, max })
}

pub(crate) fn parse_decimal(digits: &[u8], max: u64) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |v, d| v.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    (value <= max).then_some(value)
}

pub(crate) fn parse_ipv4(token: Token<'_>) -> Result<Ipv4Addr, RdataError> {
    std::str::from_utf8(token.raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RdataError::Bad { what: "IPv4 address", expected: "a dotted quad like 192.0.2.1" })
}

pub(crate) fn parse_ipv6(token: Token<'_>) -> Result<Ipv6Addr, RdataError> {
    std::str::from_utf8(token.raw)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RdataError::Bad { what: "IPv6 address", expected: "an address like 2001:db8::1" })
}

/// Decodes a `<character-string>` token: `\DDD` and `\X` escapes (RFC 1035 §5.1).
pub(crate) fn decode_string(token: Token<'_>) -> Result<Vec<u8>, RdataError> {
    decode_escapes(token.raw)
}

pub(crate) fn decode_escapes(raw: &[u8]) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let (byte, used) = unescape(&raw[i + 1..])
                .ok_or(RdataError::Bad { what: "escape", expected: "\\DDD (at most 255) or \\X" })?;
            out.push(byte);
            i += 1 + used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

pub(crate) fn push_string(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), RdataError> {
    let len = u8::try_from(bytes.len()).map_err(|_| RdataError::StringTooLong)?;
    out.push(len);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A TTL or SOA timer (BIND `dns_ttl_fromtext`): plain seconds, or numbers each followed by a
/// unit `w`, `d`, `h`, `m`, `s` (either case), summed; at most 2^32 - 1.
pub fn parse_ttl(text: &[u8]) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    if text.iter().all(u8::is_ascii_digit) {
        return parse_decimal(text, u32::MAX.into()).map(|v| v as u32);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            let n = number.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            if n > u64::from(u32::MAX) {
                return None;
            }
            number = Some(n);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() {
        return None; // a number without its unit after units were used
    }
    u32::try_from(total).ok()
}

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers"; the names BIND's
/// `dns_secalg_fromtext` knows).
pub(crate) const SECALGS: &[(&str, u64)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("NSEC3DSA", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("NSEC3RSASHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// CERT types (RFC 4398 §2.1).
pub(crate) const CERT_TYPES: &[(&str, u64)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

pub(crate) fn mnemonic_value(table: &[(&str, u64)], raw: &[u8]) -> Option<u64> {
    table.iter().find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(raw)).map(|&(_, v)| v)
}

/// Octets as a quoted string: `"` and `\` escaped, anything outside printable ASCII `\DDD`.
pub(crate) fn write_quoted(bytes: &[u8], out: &mut String) {
    out.push('"');
    push_escaped(bytes, out);
    out.push('"');
}

/// The inside of a quoted string (RFC 1035 §5.1 escapes).
pub(crate) fn push_escaped(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                out.push('\\');
                push_decimal3(out, b);
            }
        }
    }
}
