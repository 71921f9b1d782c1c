//! The three binary-to-text encodings of master files: hex (RFC 4648 §8, either case),
//! base64 (§4, padding required, as BIND's `isc_base64_decodestring`) and base32hex without
//! padding (§7, NSEC3 hashed owner names, RFC 5155 §3.3, either case).

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex digits (an even number of them) onto `out`.
pub(crate) fn hex_decode(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    for pair in text.chunks_exact(2) {
        out.push(hex_value(pair[0])? << 4 | hex_value(pair[1])?);
    }
    Some(())
}

pub(crate) fn hex_encode(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

fn base64_value(c: u8) -> Option<u32> {
    BASE64.iter().position(|&d| d == c).map(|v| v as u32)
}

/// Decodes base64 in whole 4-character quanta, `=` padding only at the end, onto `out`.
pub(crate) fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let quanta = text.len() / 4;
    for (index, quantum) in text.chunks_exact(4).enumerate() {
        let padding = quantum.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != quanta) {
            return None;
        }
        let mut bits = 0u32;
        for &c in &quantum[..4 - padding] {
            bits = bits << 6 | base64_value(c)?;
        }
        bits <<= 6 * padding as u32;
        let bytes = bits.to_be_bytes();
        let produced = 3 - padding;
        // Bits beyond what the padding leaves must be zero (canonical encoding, RFC 4648 §3.5).
        if bytes[1 + produced..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[1..1 + produced]);
    }
    Some(())
}

pub(crate) fn base64_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let mut buf = [0u8; 3];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from(buf[0]) << 16 | u32::from(buf[1]) << 8 | u32::from(buf[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((bits >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes unpadded base32hex (either case) onto `out`; trailing bits must be zero.
pub(crate) fn base32hex_decode(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    // Lengths 1, 3 and 6 (mod 8) cannot come from whole octets.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut bits = 0u64;
    let mut count = 0u32;
    for &c in text {
        let value = BASE32HEX.iter().position(|&d| d == c.to_ascii_uppercase())? as u64;
        bits = bits << 5 | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    (bits == 0).then_some(())
}

pub(crate) fn base32hex_encode(bytes: &[u8], out: &mut String) {
    let mut bits = 0u64;
    let mut count = 0u32;
    for &b in bytes {
        bits = bits << 8 | u64::from(b);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.push(char::from(BASE32HEX[((bits >> count) & 31) as usize]));
        }
        bits &= (1 << count) - 1;
    }
    if count > 0 {
        out.push(char::from(BASE32HEX[((bits << (5 - count)) & 31) as usize]));
    }
}
