//! The mutator: one seeded stream of edits over corpus entries.
//!
//! No coverage feedback (that needs compiler instrumentation, i.e. nightly or cargo-fuzz):
//! inputs are a corpus entry with a few stacked edits. Byte edits suit everything; text targets
//! also get edits that keep the input looking like a master file or RON (lines, numbers,
//! directives, brackets), which reach deeper than random bytes in a text grammar.

use xfrsim_engine::SeededRng;

/// Largest input handed to a target, after mutation (the corpus entries are smaller; inputs
/// grow by duplication and splicing up to this).
pub const MAX_INPUT_BYTES: usize = 128 * 1024;

/// Most edits stacked on one corpus entry for one input.
pub const MAX_EDITS_PER_INPUT: u64 = 8;

/// Values that sit on boundaries: zero, sign bits, all ones, DNS compression pointer tags.
const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xc0, 0xff, 0x3f, 0x40];
const INTERESTING_WORDS: [u16; 7] = [0x0000, 0x0001, 0x7fff, 0x8000, 0xffff, 0xc00c, 0x00ff];
const INTERESTING_DWORDS: [u32; 6] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x0001_0000];

/// Tokens that matter to a master file or to RON.
const TEXT_TOKENS: &[&str] = &[
    "(",
    ")",
    ";",
    "\"",
    "\\",
    "\\#",
    "\\000",
    "\\255",
    "\n",
    " ",
    "\t",
    "@",
    "*",
    ".",
    "..",
    "$INCLUDE ",
    "$INCLUDE fuzz.zone\n",
    "$INCLUDE included.zone sub.example.com.\n",
    "$INCLUDE /etc/hostname\n",
    "$INCLUDE ../outside.zone\n",
    "$GENERATE ",
    "$GENERATE 1-65535 host$ A 10.0.0.1\n",
    "$GENERATE 0-4294967295/1 h${0,10,x} TXT x\n",
    "${-1,999999999,n}",
    "$ORIGIN ",
    "$ORIGIN .\n",
    "$TTL ",
    "$TTL 4294967295\n",
    "TYPE65535 \\# 0",
    "CLASS255",
    "IN",
    "SOA",
    "A",
    "AAAA",
    "SVCB",
    "LOC",
    "APL",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "Some(",
    "None",
    "r#\"",
    "#\"",
    "/*",
    "*/",
    "//",
    "\"zones/example.org.zone\"",
    "\"/dev/zero\"",
    "\"..\"",
    "1w",
    "0s",
    "9999999999d",
    "18446744073709551615",
    "-1",
    "hosts: 4000000000",
    "\"192.0.2.1\"",
    "\"[::1]:53\"",
    "\"0.0.0.0/0\"",
];

/// Numbers that sit on boundaries of the fields text inputs carry (TTLs, serials, ports,
/// counts, durations).
const TEXT_NUMBERS: &[&str] = &[
    "0",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "-1",
    "1e308",
];

/// A seeded stream of mutated inputs over a corpus.
#[derive(Debug, Clone)]
pub struct Mutator {
    rng: SeededRng,
    text: bool,
}

impl Mutator {
    /// `text`: also use the line and token edits.
    pub fn new(seed: u64, text: bool) -> Self {
        Mutator { rng: SeededRng::new(seed), text }
    }

    fn pick(&mut self, len: usize) -> usize {
        self.rng.below(len as u64) as usize
    }

    /// Writes the next input into `out`: a corpus entry with 1 to [`MAX_EDITS_PER_INPUT`]
    /// edits. `corpus` must not be empty.
    pub fn next_input(&mut self, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
        out.clear();
        if corpus.is_empty() {
            return;
        }
        out.extend_from_slice(&corpus[self.pick(corpus.len())]);
        // Geometric: one edit half the time, two a quarter, ...: most inputs stay close to a
        // corpus entry (and get past the first parser), a few are far from any.
        let mut edits = 1;
        while edits < MAX_EDITS_PER_INPUT && self.rng.below(2) == 0 {
            edits += 1;
        }
        for _ in 0..edits {
            self.edit(corpus, out);
        }
        out.truncate(MAX_INPUT_BYTES);
    }

    fn edit(&mut self, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
        let kinds = if self.text { 15 } else { 9 };
        match self.rng.below(kinds) {
            0 => self.flip_bit(out),
            1 => self.set_byte(out),
            2 => self.insert_bytes(out),
            3 => self.delete_range(out),
            4 => self.interesting_value(out),
            5 => self.duplicate_range(out),
            6 => self.splice(corpus, out),
            7 => self.truncate(out),
            8 => self.add_to_byte(out),
            9 => self.duplicate_line(out),
            10 => self.remove_line(out),
            11 => self.swap_lines(out),
            12 => self.replace_number(out),
            13 => self.insert_token(out),
            _ => self.line_from_other(corpus, out),
        }
    }

    fn flip_bit(&mut self, out: &mut [u8]) {
        if !out.is_empty() {
            let at = self.pick(out.len());
            out[at] ^= 1 << self.rng.below(8);
        }
    }

    fn set_byte(&mut self, out: &mut [u8]) {
        if !out.is_empty() {
            let at = self.pick(out.len());
            out[at] = self.rng.next_u64() as u8;
        }
    }

    fn add_to_byte(&mut self, out: &mut [u8]) {
        if !out.is_empty() {
            let at = self.pick(out.len());
            let delta = 1 + self.rng.below(16) as u8;
            out[at] = if self.rng.below(2) == 0 { out[at].wrapping_add(delta) } else { out[at].wrapping_sub(delta) };
        }
    }

    fn insert_bytes(&mut self, out: &mut Vec<u8>) {
        let at = self.pick(out.len() + 1);
        let count = 1 + self.pick(8);
        let byte = self.rng.next_u64() as u8;
        // Runs of one byte as often as random bytes: runs make long labels and lengths.
        let same = self.rng.below(2) == 0;
        let bytes: Vec<u8> = (0..count).map(|_| if same { byte } else { self.rng.next_u64() as u8 }).collect();
        out.splice(at..at, bytes);
    }

    fn delete_range(&mut self, out: &mut Vec<u8>) {
        if !out.is_empty() {
            let at = self.pick(out.len());
            let count = 1 + self.pick((out.len() - at).min(64));
            out.drain(at..at + count);
        }
    }

    fn interesting_value(&mut self, out: &mut [u8]) {
        match self.rng.below(3) {
            0 if !out.is_empty() => {
                let at = self.pick(out.len());
                out[at] = INTERESTING_BYTES[self.pick(INTERESTING_BYTES.len())];
            }
            1 if out.len() >= 2 => {
                let at = self.pick(out.len() - 1);
                let value = INTERESTING_WORDS[self.pick(INTERESTING_WORDS.len())];
                out[at..at + 2].copy_from_slice(&value.to_be_bytes());
            }
            _ if out.len() >= 4 => {
                let at = self.pick(out.len() - 3);
                let value = INTERESTING_DWORDS[self.pick(INTERESTING_DWORDS.len())];
                out[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
            _ => {}
        }
    }

    fn duplicate_range(&mut self, out: &mut Vec<u8>) {
        if !out.is_empty() {
            let from = self.pick(out.len());
            let count = 1 + self.pick((out.len() - from).min(256));
            let chunk = out[from..from + count].to_vec();
            let at = self.pick(out.len() + 1);
            out.splice(at..at, chunk);
        }
    }

    /// The head of this input and the tail of another corpus entry.
    fn splice(&mut self, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
        let other = &corpus[self.pick(corpus.len())];
        let cut = self.pick(out.len() + 1);
        let from = self.pick(other.len() + 1);
        out.truncate(cut);
        out.extend_from_slice(&other[from..]);
    }

    fn truncate(&mut self, out: &mut Vec<u8>) {
        let len = self.pick(out.len() + 1);
        out.truncate(len);
    }

    /// Byte offsets where each line starts and ends (the end excludes the newline).
    fn lines(out: &[u8]) -> Vec<(usize, usize)> {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, &b) in out.iter().enumerate() {
            if b == b'\n' {
                lines.push((start, i));
                start = i + 1;
            }
        }
        if start < out.len() {
            lines.push((start, out.len()));
        }
        lines
    }

    fn duplicate_line(&mut self, out: &mut Vec<u8>) {
        let lines = Self::lines(out);
        if lines.is_empty() {
            return;
        }
        let (start, end) = lines[self.pick(lines.len())];
        let mut line = out[start..end].to_vec();
        line.push(b'\n');
        let copies = if self.rng.below(8) == 0 { 1 + self.pick(64) } else { 1 };
        let at = lines[self.pick(lines.len())].0;
        for _ in 0..copies {
            out.splice(at..at, line.iter().copied());
        }
    }

    fn remove_line(&mut self, out: &mut Vec<u8>) {
        let lines = Self::lines(out);
        if lines.is_empty() {
            return;
        }
        let (start, end) = lines[self.pick(lines.len())];
        let end = (end + 1).min(out.len());
        out.drain(start..end);
    }

    fn swap_lines(&mut self, out: &mut Vec<u8>) {
        let lines = Self::lines(out);
        if lines.len() < 2 {
            return;
        }
        let a = self.pick(lines.len());
        let b = self.pick(lines.len());
        let (first, second) = if a <= b { (lines[a], lines[b]) } else { (lines[b], lines[a]) };
        if first == second {
            return;
        }
        let mut swapped = Vec::with_capacity(out.len());
        swapped.extend_from_slice(&out[..first.0]);
        swapped.extend_from_slice(&out[second.0..second.1]);
        swapped.extend_from_slice(&out[first.1..second.0]);
        swapped.extend_from_slice(&out[first.0..first.1]);
        swapped.extend_from_slice(&out[second.1..]);
        *out = swapped;
    }

    /// Replaces one run of digits with a boundary number, or changes one digit.
    fn replace_number(&mut self, out: &mut Vec<u8>) {
        let digits: Vec<usize> = out.iter().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
        if digits.is_empty() {
            return;
        }
        let at = digits[self.pick(digits.len())];
        if self.rng.below(2) == 0 {
            out[at] = b'0' + self.rng.below(10) as u8;
            return;
        }
        let start = out[..at].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |p| p + 1);
        let end = out[at..].iter().position(|b| !b.is_ascii_digit()).map_or(out.len(), |p| at + p);
        let number = TEXT_NUMBERS[self.pick(TEXT_NUMBERS.len())];
        out.splice(start..end, number.bytes());
    }

    fn insert_token(&mut self, out: &mut Vec<u8>) {
        let token = TEXT_TOKENS[self.pick(TEXT_TOKENS.len())];
        // At a line start half the time: directives only mean something there.
        let at = if self.rng.below(2) == 0 {
            let lines = Self::lines(out);
            if lines.is_empty() { 0 } else { lines[self.pick(lines.len())].0 }
        } else {
            self.pick(out.len() + 1)
        };
        out.splice(at..at, token.bytes());
    }

    fn line_from_other(&mut self, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
        let other = &corpus[self.pick(corpus.len())];
        let lines = Self::lines(other);
        if lines.is_empty() {
            return;
        }
        let (start, end) = lines[self.pick(lines.len())];
        let mut line = other[start..end].to_vec();
        line.push(b'\n');
        let here = Self::lines(out);
        let at = if here.is_empty() { 0 } else { here[self.pick(here.len())].0 };
        out.splice(at..at, line);
    }
}
