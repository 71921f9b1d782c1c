//! RDATA of every record type BIND 9, Knot or NSD load: one grammar per type, used three ways —
//! presentation text to wire ([`text`]), wire checked and decompressed ([`wire`]), and wire back
//! to presentation text ([`present`]).
//!
//! A type's grammar is a list of [`Field`]s, as NSD's `rrtype_descriptors` and Knot's
//! `knot_rdata_descriptors` describe them; the few types whose layout depends on their own
//! content (LOC, APL, SVCB, IPSECKEY, HIP, ...) have one special field each. Types not in the
//! table are opaque: they load and transfer in RFC 3597 generic form (`TYPEnnn \# len hex`)
//! and their bytes are kept as they are.

pub(crate) mod encoding;
mod loc;
pub(crate) mod present;
mod special;
mod svcb;
pub(crate) mod syntax;
pub(crate) mod text;

pub use syntax::parse_ttl;
pub use text::rdata_from_text;
pub use wire::fold_name_case;

/// Presentation text of checked, uncompressed RDATA of type `rtype`: the type's own syntax,
/// or RFC 3597 generic form where it has none.
pub fn rdata_to_text(rtype: u16, rdata: &[u8]) -> String {
    let mut out = String::new();
    present::write_rdata(rtype, rdata, &mut out);
    out
}
pub(crate) mod wire;

use std::fmt;

use crate::name::NameError;

/// One piece of a type's RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// A domain name; compression on the wire follows the type's flags.
    Name,
    U8,
    U16,
    U32,
    /// A 32-bit count of seconds written as a TTL may be (`1h30m`): SOA timers.
    Period,
    Ipv4,
    Ipv6,
    /// One `<character-string>`: a length octet and up to 255 octets.
    Str,
    /// An optional last `<character-string>` (ISDN subaddress).
    StrOpt,
    /// One or more `<character-string>`s to the end (TXT, SPF).
    Strs,
    /// The rest of the RDATA, written as one string with no length octet (CAA value, URI target).
    Text,
    /// A CAA tag: a length octet and 1–255 letters and digits.
    CaaTag,
    /// The rest of the RDATA in base64; may be empty.
    Base64,
    /// The rest of the RDATA in base64, or `-` for none (DOA).
    Base64OrDash,
    /// The rest of the RDATA in hex; at least one octet.
    Hex,
    /// A length octet and a hex string, `-` for empty (NSEC3 salt, RFC 5155 §3.3).
    Salt,
    /// A length octet and a base32hex string (NSEC3 next hashed owner, RFC 5155 §3.3).
    NextHash,
    /// NSEC/NSEC3/CSYNC type bitmap, window blocks to the end (RFC 4034 §4.1.2).
    Bitmap,
    /// RRSIG inception/expiration: `YYYYMMDDHHmmSS` or seconds (RFC 4034 §3.2).
    Time,
    /// A type mnemonic as 16 bits (RRSIG type covered).
    Rtype,
    /// A DNSSEC algorithm, mnemonic or number (RFC 4034 Appendix A.1).
    SecAlg,
    /// A CERT type, mnemonic or number (RFC 4398 §2.1).
    CertType,
    /// 64 bits as four groups of hex (RFC 6742 NID/L64 locators).
    Ilnp64,
    Eui48,
    Eui64,
    /// Content-dependent layouts, each taking the rest of the RDATA.
    Special(Special),
    /// Any octets, no presentation form but RFC 3597 generic (NULL).
    Opaque,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    Loc,
    Apl,
    Wks,
    Nsap,
    Atma,
    A6,
    Amtrelay,
    /// IPSECKEY after the precedence: gateway type, algorithm, gateway, key.
    Ipseckey,
    Hip,
    /// NXT's type bitmap (RFC 2535 §5.2).
    NxtBitmap,
    /// SVCB/HTTPS parameters after priority and target (RFC 9460 §2.2).
    SvcParams,
}

/// Names in the RDATA may be compressed on output: the RFC 1035 types, the only ones every
/// server decompresses (RFC 3597 §4). BIND's per-type `towire` sets `DNS_COMPRESS_GLOBAL14`
/// for exactly these.
const COMPRESS: u8 = 1;
/// Names are lower-cased in the canonical form (RFC 4034 §6.2, NSEC removed by RFC 6840 §5.1).
const LOWER: u8 = 4;
/// Only in `\#` generic form in a master file.
const GENERIC_ONLY: u8 = 8;

/// What a record type is: its code, mnemonic, RDATA grammar and wire rules.
#[derive(Debug)]
pub(crate) struct TypeInfo {
    pub code: u16,
    pub mnemonic: &'static str,
    pub fields: &'static [Field],
    flags: u8,
}

impl TypeInfo {
    pub fn compresses(&self) -> bool {
        self.flags & COMPRESS != 0
    }
    pub fn lowercases(&self) -> bool {
        self.flags & LOWER != 0
    }
    pub fn generic_only(&self) -> bool {
        self.flags & GENERIC_ONLY != 0
    }
}

use Field::*;

const DS_LIKE: &[Field] = &[U16, SecAlg, U8, Hex];
const KEY_LIKE: &[Field] = &[U16, U8, SecAlg, Base64];
const SIG_LIKE: &[Field] = &[Rtype, SecAlg, U8, U32, Time, Time, U16, Name, Base64];
const ONE_NAME: &[Field] = &[Name];
const STRINGS: &[Field] = &[Strs];

const fn t(code: u16, mnemonic: &'static str, flags: u8, fields: &'static [Field]) -> TypeInfo {
    TypeInfo { code, mnemonic, fields, flags }
}

const RFC1035: u8 = COMPRESS | LOWER;

/// Every type with a grammar, by code. Sources: RFC 1035 §3.3 (1–16), RFC 1183 (17–21),
/// RFC 1706 (22, 23), RFC 2535 (24, 25, 30), RFC 2163 (26), RFC 1712 (27), RFC 3596 (28),
/// RFC 1876 (29), draft-ietf-nimrod-dns (31, 32), RFC 2782 (33), ATM Forum af-dans-0152
/// (34), RFC 3403 (35), RFC 2230 (36), RFC 4398 (37), RFC 2874 (38), RFC 6672 (39),
/// draft-eastlake-kitchen-sink (40), RFC 3123 (42), RFC 4034 (43, 46–48), RFC 4255 (44),
/// RFC 4025 (45), RFC 4701 (49), RFC 5155 (50, 51), RFC 6698 (52), RFC 8162 (53),
/// RFC 8005 (55), IANA registrations (56–58, 258, 259, 32768), RFC 7344 (59, 60), RFC 7929
/// (61), RFC 7477 (62), RFC 8976 (63), RFC 9460 (64, 65), RFC 7208 (99), RFC 6742 (104–107),
/// RFC 7043 (108, 109), RFC 7553 (256), RFC 8659 (257), RFC 8777 (260), RFC 9606 (261),
/// IANA (262), RFC 4431 (32769). The set is BIND 9.18's `lib/dns/rdata` tree, which is a
/// superset of what Knot 3.2 (`libzscanner`) and NSD 4.6 (`rrtype_descriptors`) load.
static TYPES: &[TypeInfo] = &[
    t(1, "A", 0, &[Ipv4]),
    t(2, "NS", RFC1035, ONE_NAME),
    t(3, "MD", RFC1035, ONE_NAME),
    t(4, "MF", RFC1035, ONE_NAME),
    t(5, "CNAME", RFC1035, ONE_NAME),
    t(6, "SOA", RFC1035, &[Name, Name, U32, Period, Period, Period, Period]),
    t(7, "MB", RFC1035, ONE_NAME),
    t(8, "MG", RFC1035, ONE_NAME),
    t(9, "MR", RFC1035, ONE_NAME),
    t(10, "NULL", GENERIC_ONLY, &[Opaque]),
    t(11, "WKS", 0, &[Ipv4, Special(Special::Wks)]),
    t(12, "PTR", RFC1035, ONE_NAME),
    t(13, "HINFO", 0, &[Str, Str]),
    t(14, "MINFO", RFC1035, &[Name, Name]),
    t(15, "MX", RFC1035, &[U16, Name]),
    t(16, "TXT", 0, STRINGS),
    t(17, "RP", LOWER, &[Name, Name]),
    t(18, "AFSDB", LOWER, &[U16, Name]),
    t(19, "X25", 0, &[Str]),
    t(20, "ISDN", 0, &[Str, StrOpt]),
    t(21, "RT", LOWER, &[U16, Name]),
    t(22, "NSAP", 0, &[Special(Special::Nsap)]),
    t(23, "NSAP-PTR", 0, ONE_NAME),
    t(24, "SIG", LOWER, SIG_LIKE),
    t(25, "KEY", 0, KEY_LIKE),
    t(26, "PX", LOWER, &[U16, Name, Name]),
    t(27, "GPOS", 0, &[Str, Str, Str]),
    t(28, "AAAA", 0, &[Ipv6]),
    t(29, "LOC", 0, &[Special(Special::Loc)]),
    t(30, "NXT", LOWER, &[Name, Special(Special::NxtBitmap)]),
    t(31, "EID", 0, &[Hex]),
    t(32, "NIMLOC", 0, &[Hex]),
    t(33, "SRV", LOWER, &[U16, U16, U16, Name]),
    t(34, "ATMA", 0, &[Special(Special::Atma)]),
    t(35, "NAPTR", LOWER, &[U16, U16, Str, Str, Str, Name]),
    t(36, "KX", LOWER, &[U16, Name]),
    t(37, "CERT", 0, &[CertType, U16, SecAlg, Base64]),
    t(38, "A6", LOWER, &[Special(Special::A6)]),
    t(39, "DNAME", LOWER, ONE_NAME),
    t(40, "SINK", 0, &[U8, U8, U8, Base64]),
    t(42, "APL", 0, &[Special(Special::Apl)]),
    t(43, "DS", 0, DS_LIKE),
    t(44, "SSHFP", 0, &[U8, U8, Hex]),
    t(45, "IPSECKEY", 0, &[U8, Special(Special::Ipseckey)]),
    t(46, "RRSIG", LOWER, SIG_LIKE),
    t(47, "NSEC", 0, &[Name, Bitmap]),
    t(48, "DNSKEY", 0, KEY_LIKE),
    t(49, "DHCID", 0, &[Base64]),
    t(50, "NSEC3", 0, &[U8, U8, U16, Salt, NextHash, Bitmap]),
    t(51, "NSEC3PARAM", 0, &[U8, U8, U16, Salt]),
    t(52, "TLSA", 0, &[U8, U8, U8, Hex]),
    t(53, "SMIMEA", 0, &[U8, U8, U8, Hex]),
    t(55, "HIP", 0, &[Special(Special::Hip)]),
    t(56, "NINFO", 0, STRINGS),
    t(57, "RKEY", 0, KEY_LIKE),
    t(58, "TALINK", 0, &[Name, Name]),
    t(59, "CDS", 0, DS_LIKE),
    t(60, "CDNSKEY", 0, KEY_LIKE),
    t(61, "OPENPGPKEY", 0, &[Base64]),
    t(62, "CSYNC", 0, &[U32, U16, Bitmap]),
    t(63, "ZONEMD", 0, &[U32, U8, U8, Hex]),
    t(64, "SVCB", 0, &[U16, Name, Special(Special::SvcParams)]),
    t(65, "HTTPS", 0, &[U16, Name, Special(Special::SvcParams)]),
    t(99, "SPF", 0, STRINGS),
    t(104, "NID", 0, &[U16, Ilnp64]),
    t(105, "L32", 0, &[U16, Ipv4]),
    t(106, "L64", 0, &[U16, Ilnp64]),
    t(107, "LP", 0, &[U16, Name]),
    t(108, "EUI48", 0, &[Eui48]),
    t(109, "EUI64", 0, &[Eui64]),
    t(256, "URI", 0, &[U16, U16, Text]),
    t(257, "CAA", 0, &[U8, CaaTag, Text]),
    t(258, "AVC", 0, STRINGS),
    t(259, "DOA", 0, &[U32, U32, U8, Str, Base64OrDash]),
    t(260, "AMTRELAY", 0, &[Special(Special::Amtrelay)]),
    t(261, "RESINFO", 0, STRINGS),
    t(262, "WALLET", 0, STRINGS),
    t(32768, "TA", 0, DS_LIKE),
    t(32769, "DLV", 0, DS_LIKE),
];

/// Types that never appear in zone data: OPT (RFC 6891), TKEY, TSIG, and the query-only
/// types (RFC 1035 §3.2.3, RFC 1995, RFC 5936). BIND refuses them in master files, and an
/// UPDATE may not add them (RFC 2136 §3.4.1.2).
const META: &[(u16, &str)] = &[
    (41, "OPT"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
];

/// The grammar of `code`, if it has one.
pub(crate) fn type_info(code: u16) -> Option<&'static TypeInfo> {
    TYPES.binary_search_by_key(&code, |t| t.code).ok().map(|i| &TYPES[i])
}

pub fn is_meta(code: u16) -> bool {
    META.iter().any(|&(c, _)| c == code)
}

/// A type's code from its mnemonic (either case) or `TYPEnnn` (RFC 3597 §5).
pub fn type_from_text(text: &str) -> Option<u16> {
    if let Some(info) = TYPES.iter().find(|t| t.mnemonic.eq_ignore_ascii_case(text)) {
        return Some(info.code);
    }
    if let Some(&(code, _)) = META.iter().find(|(_, m)| m.eq_ignore_ascii_case(text)) {
        return Some(code);
    }
    let digits = text.get(..4).filter(|p| p.eq_ignore_ascii_case("TYPE")).map(|_| &text[4..])?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// A type's mnemonic, or `TYPEnnn` for a type without one.
pub fn type_to_text(code: u16) -> TypeName {
    TypeName(code)
}

/// Displays a type code as its mnemonic or `TYPEnnn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeName(pub u16);

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match type_info(self.0).map(|t| t.mnemonic).or_else(|| META.iter().find(|m| m.0 == self.0).map(|m| m.1)) {
            Some(mnemonic) => f.write_str(mnemonic),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// Why RDATA (text or wire) does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("extra text after the RDATA")]
    ExtraText,
    #[error("bad {what}: expected {expected}")]
    Bad { what: &'static str, expected: &'static str },
    #[error("number out of range for {what} (at most {max})")]
    OutOfRange { what: &'static str, max: u64 },
    #[error("bad name: {0}")]
    Name(#[from] NameError),
    #[error("character string longer than 255 octets")]
    StringTooLong,
    #[error("unknown type `{0}`")]
    UnknownType(String),
    #[error("type {0} has no presentation form here; write it as `\\# <length> <hex>` (RFC 3597)")]
    GenericOnly(TypeName),
    #[error("`\\#` says {declared} octets but the hex gives {actual}")]
    GenericLength { declared: usize, actual: usize },
    #[error("RDATA longer than 65535 octets")]
    TooLong,
    #[error("RDATA ends inside a field")]
    Truncated,
    #[error("octets left over after the last field")]
    TrailingOctets,
    #[error("{0}")]
    Rule(&'static str),
}

/// Maximum RDATA length (RFC 1035 §3.2.1: RDLENGTH is 16 bits).
pub const MAX_RDATA_LEN: usize = 65_535;

/// The digest length a DS-like record's digest type requires, when the type is known
/// (RFC 4034 §5.1.4 SHA-1, RFC 4509 SHA-256, RFC 5933 GOST, RFC 6605 SHA-384). BIND's
/// `ds_common.c` refuses a known digest type with any other length.
pub(crate) fn ds_digest_len(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 | 3 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

/// Checks that apply across fields, after the grammar has matched: `rdata` is uncompressed.
pub(crate) fn check_rules(info: &TypeInfo, rdata: &[u8]) -> Result<(), RdataError> {
    match info.mnemonic {
        "DS" | "CDS" | "TA" | "DLV" => {
            let digest_type = rdata[3];
            // RFC 8078 §4: CDS `0 0 0 00` asks for deletion; digest type 0 carries one octet.
            if info.code == 59 && digest_type == 0 {
                return Ok(());
            }
            if let Some(len) = ds_digest_len(digest_type)
                && rdata.len() - 4 != len
            {
                return Err(RdataError::Rule("digest length does not match the digest type"));
            }
        }
        "ZONEMD" => {
            // RFC 8976 §2.2.4: digests are at least 12 octets; SHA-384 is 48, SHA-512 is 64.
            let digest = rdata.len() - 6;
            let exact = match rdata[5] {
                1 => Some(48),
                2 => Some(64),
                _ => None,
            };
            if digest < 12 || exact.is_some_and(|n| n != digest) {
                return Err(RdataError::Rule("digest length does not match the hash algorithm"));
            }
        }
        _ => {}
    }
    Ok(())
}
