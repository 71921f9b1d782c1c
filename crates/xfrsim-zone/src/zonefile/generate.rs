//! BIND's `$GENERATE range lhs [ttl] [class] type rhs` (BIND 9 ARM, "BIND Primary File
//! Extension: the $GENERATE Directive"): one record per value of `start-stop[/step]`, with
//! `$` replaced by the value and `${offset[,width[,base]]}` by the value plus offset, padded
//! to width, in base `d`, `o`, `x`, `X`, or nibbles `n`/`N` (reversed, dot-separated, for
//! ip6.arpa). `\$` is a literal dollar. Knot and NSD do not read `$GENERATE`.

use std::fmt::Write;

use super::{Reader, ZoneFileError, ZoneFileErrorKind, lexer};
use crate::name::Dname;
use crate::rdata::syntax::{Token, parse_decimal};

/// Most records one `$GENERATE` may produce: a typo in a range must not fill memory.
pub const MAX_GENERATE_RECORDS: u64 = 1_000_000;

pub(super) fn expand(
    reader: &mut Reader<'_>,
    args: &[Token<'_>],
    file: u32,
    origin: &Dname,
    directive: &Token<'_>,
) -> Result<(), ZoneFileError> {
    let usage = |reader: &Reader<'_>, expected| {
        reader.error_at(
            file,
            directive.line,
            directive.col,
            ZoneFileErrorKind::DirectiveArgs { directive: "$GENERATE", expected },
        )
    };
    if args.len() < 4 {
        return Err(usage(reader, "range, owner, [TTL], [class], type and RDATA"));
    }
    let (start, stop, step) = parse_range(args[0].raw).ok_or_else(|| usage(reader, "a range start-stop[/step]"))?;
    if (stop - start) / step + 1 > MAX_GENERATE_RECORDS {
        return Err(usage(reader, "a range of at most 1000000 values"));
    }
    let mut value = start;
    while value <= stop {
        let mut line = Vec::new();
        for (i, token) in args[1..].iter().enumerate() {
            if i > 0 {
                line.push(b' ');
            }
            if token.quoted {
                line.push(b'"');
            }
            substitute(token.raw, value, &mut line).ok_or_else(|| usage(reader, "`${offset,width,base}` modifiers"))?;
            if token.quoted {
                line.push(b'"');
            }
        }
        let mut tokens = lexer::tokenize_line(&line)
            .map_err(|e| reader.error_at(file, directive.line, directive.col, ZoneFileErrorKind::Lex(e)))?;
        // Errors in a generated record point at the directive.
        for token in &mut tokens {
            token.line = directive.line;
            token.col = directive.col;
        }
        let mut last_owner = None;
        let (record, place) = reader.record(&tokens, false, file, origin, &mut last_owner)?;
        reader.push(record, place);
        value += step;
    }
    Ok(())
}

fn parse_range(raw: &[u8]) -> Option<(u64, u64, u64)> {
    let text = std::str::from_utf8(raw).ok()?;
    let (range, step) = match text.split_once('/') {
        Some((range, step)) => (range, parse_decimal(step.as_bytes(), u32::MAX.into())?),
        None => (text, 1),
    };
    let (start, stop) = range.split_once('-')?;
    let start = parse_decimal(start.as_bytes(), u32::MAX.into())?;
    let stop = parse_decimal(stop.as_bytes(), u32::MAX.into())?;
    (step > 0 && start <= stop).then_some((start, stop, step))
}

/// Writes `raw` with every `$` and `${...}` replaced for `value`.
fn substitute(raw: &[u8], value: u64, out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' if raw.get(i + 1) == Some(&b'$') => {
                // `\$`: a literal dollar, kept escaped for the name or string parser.
                out.extend_from_slice(b"\\$");
                i += 2;
            }
            b'\\' => {
                out.push(b'\\');
                out.extend(raw.get(i + 1).copied());
                i += 2;
            }
            b'$' if raw.get(i + 1) == Some(&b'{') => {
                let close = raw[i..].iter().position(|&c| c == b'}')? + i;
                let spec = std::str::from_utf8(&raw[i + 2..close]).ok()?;
                let mut parts = spec.split(',');
                let offset: i64 = parts.next()?.trim().parse().ok()?;
                let width: usize = parts.next().map_or(Some(0), |w| w.trim().parse().ok())?;
                let base = parts.next().map_or(Some('d'), |b| b.trim().chars().next())?;
                if parts.next().is_some() || width > 255 {
                    return None;
                }
                let n = u64::try_from(i64::try_from(value).ok()?.checked_add(offset)?).ok()?;
                let mut text = String::new();
                match base {
                    'd' => write!(text, "{n:0width$}").ok()?,
                    'o' => write!(text, "{n:0width$o}").ok()?,
                    'x' => write!(text, "{n:0width$x}").ok()?,
                    'X' => write!(text, "{n:0width$X}").ok()?,
                    'n' | 'N' => {
                        let digits = if base == 'n' { format!("{n:0width$x}") } else { format!("{n:0width$X}") };
                        let nibbles: Vec<String> = digits.chars().rev().map(String::from).collect();
                        text = nibbles.join(".");
                    }
                    _ => return None,
                }
                out.extend_from_slice(text.as_bytes());
                i = close + 1;
            }
            b'$' => {
                out.extend_from_slice(value.to_string().as_bytes());
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(())
}
