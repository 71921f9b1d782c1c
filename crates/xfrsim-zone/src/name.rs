//! Domain names as they travel: uncompressed wire form (RFC 1035 §3.1), case as written.
//!
//! Real servers keep the case of every owner and RDATA name byte for byte (BIND, Knot and NSD
//! all transfer `MixedCase.Example.` as written) and compare names case-insensitively. So the
//! bytes stored are the bytes received or written, and every comparison, order and digest goes
//! through the canonical form of RFC 4034 §6.1/§6.2 (ASCII letters lower-cased, nothing else).

use std::cmp::Ordering;
use std::fmt;

use hickory_proto::rr::Name;

/// Longest name on the wire, length octets and root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Why bytes or text are not a domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("label longer than 63 octets")]
    LabelTooLong,
    #[error("name longer than 255 octets")]
    NameTooLong,
    #[error("empty label")]
    EmptyLabel,
    #[error("name ends before its root label")]
    Truncated,
    #[error("bad escape in name (`\\DDD` takes three digits, at most 255)")]
    BadEscape,
    #[error("compression pointer or reserved label type where none is allowed")]
    BadLabelType,
}

/// An absolute domain name in uncompressed wire form, original case. Equality and order are
/// canonical (case-insensitive, RFC 4034 §6.1); [`Dname::same_bytes`] compares exactly.
#[derive(Clone)]
pub struct Dname(Box<[u8]>);

impl Dname {
    /// The root name `.`.
    pub fn root() -> Dname {
        Dname(Box::new([0]))
    }

    /// Checks wire bytes: labels of 1..=63 octets, no compression, a final root label, the
    /// whole at most 255 octets and nothing after it.
    pub fn from_wire(bytes: &[u8]) -> Result<Dname, NameError> {
        let len = wire_len(bytes)?;
        if len != bytes.len() {
            return Err(NameError::Truncated);
        }
        Ok(Dname(bytes.into()))
    }

    /// Wire bytes already known to be a valid name (from [`wire_len`] or our own encoder).
    pub(crate) fn from_wire_unchecked(bytes: &[u8]) -> Dname {
        debug_assert_eq!(wire_len(bytes), Ok(bytes.len()));
        Dname(bytes.into())
    }

    pub fn from_hickory(name: &Name) -> Dname {
        let mut wire = Vec::with_capacity(usize::from(name.len() as u8) + 2);
        for label in name.iter() {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        }
        wire.push(0);
        Dname::from_wire(&wire).expect("hickory names obey the RFC 1035 length limits")
    }

    pub fn to_hickory(&self) -> Name {
        let mut name = Name::from_labels(self.labels()).expect("a checked wire name is a valid hickory name");
        name.set_fqdn(true);
        name
    }

    /// Parses presentation text (`www.Example.com.`, escapes allowed, `.` for the root).
    /// A name without a final dot is relative to `origin`.
    pub fn from_text(text: &[u8], origin: &Dname) -> Result<Dname, NameError> {
        let mut wire = Vec::with_capacity(text.len() + 2);
        if text == b"." {
            return Ok(Dname::root());
        }
        let absolute = parse_labels(text, &mut wire)?;
        if absolute {
            wire.push(0);
        } else {
            wire.extend_from_slice(origin.as_wire());
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(Dname(wire.into_boxed_slice()))
    }

    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// Labels from the leftmost, without the root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.0 }
    }

    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// True when `self` is `other` or below it (case-insensitive).
    pub fn is_at_or_below(&self, other: &Dname) -> bool {
        is_at_or_below(&self.0, &other.0)
    }

    /// Exact byte equality, case included.
    pub fn same_bytes(&self, other: &Dname) -> bool {
        self.0 == other.0
    }

    /// The canonical form: ASCII letters lower-cased (RFC 4034 §6.2).
    pub fn to_lowercase(&self) -> Dname {
        Dname(self.0.iter().map(u8::to_ascii_lowercase).collect())
    }
}

/// A name's canonical sort key: RFC 4034 §6.1 order as plain byte order, equal for names that
/// differ only in case. For map keys, where comparing two keys is one `memcmp` instead of a walk
/// over both names' labels at every step of a search.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameKey(Box<[u8]>);

impl Dname {
    /// The name's canonical sort key.
    pub fn key(&self) -> NameKey {
        NameKey(sort_key(&self.0).into_boxed_slice())
    }
}

impl PartialEq for Dname {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Dname {}

impl PartialOrd for Dname {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dname {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_canonical(&self.0, &other.0)
    }
}

impl fmt::Debug for Dname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dname({self})")
    }
}

impl fmt::Display for Dname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        write_name_text(&self.0, &mut text);
        f.write_str(&text)
    }
}

/// Iterator over a wire name's labels (the root label excluded).
#[derive(Clone)]
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.wire.split_first()?;
        if len == 0 {
            return None;
        }
        let (label, rest) = rest.split_at(usize::from(len));
        self.wire = rest;
        Some(label)
    }
}

/// Length of the uncompressed wire name at the start of `bytes`, checked.
pub fn wire_len(bytes: &[u8]) -> Result<usize, NameError> {
    let mut at = 0;
    loop {
        let len = *bytes.get(at).ok_or(NameError::Truncated)?;
        if len & 0xC0 != 0 {
            return Err(NameError::BadLabelType);
        }
        at += 1 + usize::from(len);
        if at > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        if len == 0 {
            return Ok(at);
        }
        if at > bytes.len() {
            return Err(NameError::Truncated);
        }
    }
}

/// Parses the labels of a presentation name into `wire` (length-prefixed, no root label).
/// Returns whether the text was absolute (ended in an unescaped dot).
fn parse_labels(text: &[u8], wire: &mut Vec<u8>) -> Result<bool, NameError> {
    let mut label_start = wire.len();
    wire.push(0);
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match c {
            b'.' => {
                let label_len = wire.len() - label_start - 1;
                if label_len == 0 {
                    return Err(NameError::EmptyLabel);
                }
                wire[label_start] = label_len as u8;
                if i + 1 == text.len() {
                    // The final dot: the name is absolute and no label follows.
                    return Ok(true);
                }
                label_start = wire.len();
                wire.push(0);
                i += 1;
            }
            b'\\' => {
                let (byte, used) = unescape(&text[i + 1..]).ok_or(NameError::BadEscape)?;
                wire.push(byte);
                i += 1 + used;
            }
            _ => {
                wire.push(c);
                i += 1;
            }
        }
        if wire.len() - label_start - 1 > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
    }
    let label_len = wire.len() - label_start - 1;
    if label_len == 0 {
        return Err(NameError::EmptyLabel);
    }
    wire[label_start] = label_len as u8;
    Ok(false)
}

/// One escape after a backslash (RFC 1035 §5.1): `DDD` (exactly three decimal digits, at most
/// 255) or any single character taken literally. Returns the byte and the input used.
pub(crate) fn unescape(after_backslash: &[u8]) -> Option<(u8, usize)> {
    let first = *after_backslash.first()?;
    if first.is_ascii_digit() {
        let digits = after_backslash.get(..3)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = digits.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        return u8::try_from(value).ok().map(|b| (b, 3));
    }
    Some((first, 1))
}

/// Appends the presentation form of wire name `wire` (assumed valid) to `out`, escaping as
/// BIND's `dns_name_totext` does: special characters as `\X`, non-printable octets as `\DDD`.
pub fn write_name_text(wire: &[u8], out: &mut String) {
    let mut labels = Labels { wire }.peekable();
    if labels.peek().is_none() {
        out.push('.');
        return;
    }
    for label in labels {
        for &b in label {
            match b {
                b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x21..=0x7E => out.push(char::from(b)),
                _ => {
                    out.push('\\');
                    push_decimal3(out, b);
                }
            }
        }
        out.push('.');
    }
}

pub(crate) fn push_decimal3(out: &mut String, b: u8) {
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + (b / 10) % 10));
    out.push(char::from(b'0' + b % 10));
}

/// True when wire name `child` equals `parent` or lies below it (case-insensitive).
pub fn is_at_or_below(child: &[u8], parent: &[u8]) -> bool {
    // Walk `child` label by label until the remaining suffix is as long as `parent`; names
    // are compared on label boundaries only, so `xexample.com` is not below `example.com`.
    let mut at = 0;
    while child.len() - at > parent.len() {
        at += 1 + usize::from(child[at]);
    }
    child.len() - at == parent.len() && child[at..].eq_ignore_ascii_case(parent)
}

/// RFC 4034 §6.1 canonical order on uncompressed wire names: labels compared from the
/// rightmost, case-insensitively, as octet strings (a missing octet sorts first); a name that
/// runs out of labels first sorts first.
pub fn compare_canonical(a: &[u8], b: &[u8]) -> Ordering {
    // Without allocating (names are map keys, compared on every lookup): the label starts of
    // each name, then labels compared from the right, as lower-cased octet strings.
    let (mut starts_a, mut starts_b) = ([0u8; 128], [0u8; 128]);
    let (count_a, count_b) = (label_starts(a, &mut starts_a), label_starts(b, &mut starts_b));
    for (&at_a, &at_b) in starts_a[..count_a].iter().rev().zip(starts_b[..count_b].iter().rev()) {
        let (la, lb) = (label_at(a, at_a), label_at(b, at_b));
        let order = la.iter().map(u8::to_ascii_lowercase).cmp(lb.iter().map(u8::to_ascii_lowercase));
        if order != Ordering::Equal {
            return order;
        }
    }
    count_a.cmp(&count_b)
}

/// The label whose length octet is at `at`.
fn label_at(wire: &[u8], at: u8) -> &[u8] {
    let at = usize::from(at);
    &wire[at + 1..at + 1 + usize::from(wire[at])]
}

/// The offsets of a wire name's labels (root excluded), at most 127 for a valid name; the
/// number written.
fn label_starts(wire: &[u8], starts: &mut [u8; 128]) -> usize {
    let (mut n, mut at) = (0, 0);
    while at < wire.len() && wire[at] != 0 && n < starts.len() {
        starts[n] = at as u8;
        n += 1;
        at += 1 + usize::from(wire[at]);
    }
    n
}

/// A byte string whose plain lexicographic order is the canonical name order of RFC 4034
/// §6.1: labels from the rightmost, ASCII lower-cased, each followed by a 0x00 separator.
/// Octets 0x00 and 0x01 inside a label are escaped as 0x01 0x01 and 0x01 0x02, so a label
/// that is a prefix of another still sorts first and the separator never collides with data.
pub fn sort_key(wire: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(wire.len() + 2);
    push_sort_key(wire, &mut key);
    key
}

/// The length of [`sort_key`]`(wire)`: each label's octets (0x00 and 0x01 doubled) and a
/// separator, so the wire length less the root label, plus one per escaped octet.
pub(crate) fn sort_key_len(wire: &[u8]) -> usize {
    let mut len = wire.len() - 1;
    let mut at = 0;
    while at < wire.len() && wire[at] != 0 {
        let label = &wire[at + 1..at + 1 + usize::from(wire[at])];
        len += label.iter().filter(|&&b| b <= 1).count();
        at += 1 + label.len();
    }
    len
}

pub(crate) fn push_sort_key(wire: &[u8], key: &mut Vec<u8>) {
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut at = 0;
    while at < wire.len() && wire[at] != 0 {
        starts[n] = at as u8;
        n += 1;
        at += 1 + usize::from(wire[at]);
    }
    for &start in starts[..n].iter().rev() {
        let start = usize::from(start);
        let label = &wire[start + 1..start + 1 + usize::from(wire[start])];
        for &b in label {
            match b {
                0 => key.extend_from_slice(&[1, 1]),
                1 => key.extend_from_slice(&[1, 2]),
                b => key.push(b.to_ascii_lowercase()),
            }
        }
        key.push(0);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{compare_canonical, sort_key};

    /// Wire names of up to four labels over an alphabet that exercises case folding and the
    /// octets the sort key escapes (0x00, 0x01).
    fn wire_name() -> impl Strategy<Value = Vec<u8>> {
        let octet = prop::sample::select(vec![0u8, 1, 2, b'a', b'A', b'b', b'B', b'z', 0xff]);
        prop::collection::vec(prop::collection::vec(octet, 1..4), 0..4).prop_map(|labels| {
            let mut wire = Vec::new();
            for label in labels {
                wire.push(label.len() as u8);
                wire.extend(label);
            }
            wire.push(0);
            wire
        })
    }

    proptest! {
        /// The comparison that allocates nothing orders names exactly as the sort key does.
        #[test]
        fn compare_canonical_agrees_with_sort_key(a in wire_name(), b in wire_name()) {
            prop_assert_eq!(compare_canonical(&a, &b), sort_key(&a).cmp(&sort_key(&b)));
        }
    }
}
