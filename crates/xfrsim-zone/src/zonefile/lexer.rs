//! Master-file tokens (RFC 1035 §5.1): entries end at a line break outside parentheses;
//! `;` starts a comment; `"..."` is one token; `\X` and `\DDD` keep any character inside a
//! token. The input is octets, not UTF-8: BIND loads raw octets in names and strings.

use crate::rdata::syntax::Token;

/// A malformed layout, with its 1-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("quoted string not closed on its line")]
    OpenQuote,
    #[error("`)` without a matching `(`")]
    UnbalancedClose,
    #[error("`(` opened at line {0} is never closed")]
    OpenParenthesis(u32),
    #[error("backslash at the end of the file")]
    TrailingBackslash,
}

/// One entry: its tokens, and whether its line started with a blank (no owner given).
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub tokens: Vec<Token<'a>>,
    pub blank_owner: bool,
}

pub(crate) struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Lexer { text, pos: 0, line: 1, line_start: 0 }
    }

    fn col(&self, at: usize) -> u32 {
        u32::try_from(at - self.line_start + 1).unwrap_or(u32::MAX)
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// The next entry, `None` at the end of input, or the first layout error and its position
    /// (reading stops there: BIND reports a master file's first syntax error and loads nothing).
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, (u32, u32, LexError)> {
        let mut tokens = Vec::new();
        let mut blank_owner = false;
        let mut depth = 0u32;
        let mut opened_at = 0;
        let mut at_line_start = true;
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                if depth > 0 {
                    return Err((self.line, self.col(self.pos), LexError::OpenParenthesis(opened_at)));
                }
                return Ok((!tokens.is_empty()).then_some(Entry { tokens, blank_owner }));
            };
            match c {
                b'\n' => {
                    self.newline();
                    if depth == 0 && !tokens.is_empty() {
                        return Ok(Some(Entry { tokens, blank_owner }));
                    }
                    if depth == 0 {
                        // A blank or comment-only line: the next line decides about the owner.
                        blank_owner = false;
                    }
                    at_line_start = depth == 0;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    if at_line_start && tokens.is_empty() {
                        blank_owner = true;
                    }
                    self.pos += 1;
                }
                b';' => {
                    while self.text.get(self.pos).is_some_and(|&c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if depth == 0 {
                        opened_at = self.line;
                    }
                    depth += 1;
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        let err = (self.line, self.col(self.pos), LexError::UnbalancedClose);
                        self.skip_line();
                        return Err(err);
                    }
                    depth -= 1;
                    self.pos += 1;
                }
                b'"' => {
                    let (line, col) = (self.line, self.col(self.pos));
                    let start = self.pos + 1;
                    let end = self.quoted_end(start).map_err(|e| {
                        let err = (line, col, e);
                        self.skip_line();
                        err
                    })?;
                    tokens.push(Token { raw: &self.text[start..end], quoted: true, line, col });
                    self.pos = end + 1;
                }
                _ => {
                    let (line, col) = (self.line, self.col(self.pos));
                    let start = self.pos;
                    let end = self.word_end(start).map_err(|e| (line, col, e))?;
                    tokens.push(Token { raw: &self.text[start..end], quoted: false, line, col });
                    self.pos = end;
                }
            }
            at_line_start = false;
        }
    }

    /// Where the quoted string starting at `start` (after its opening quote) ends.
    fn quoted_end(&self, start: usize) -> Result<usize, LexError> {
        let mut at = start;
        loop {
            match self.text.get(at) {
                None | Some(b'\n') => return Err(LexError::OpenQuote),
                Some(b'"') => return Ok(at),
                Some(b'\\') => at += 2,
                Some(_) => at += 1,
            }
        }
    }

    /// Where the word starting at `start` ends. A quote inside a word (`alpn="h2,h3"`, RFC 9460
    /// key=value pairs) runs to its closing quote and stays part of the word.
    fn word_end(&self, start: usize) -> Result<usize, LexError> {
        let mut at = start;
        loop {
            match self.text.get(at) {
                None | Some(b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b';') => return Ok(at),
                Some(b'\\') => {
                    if at + 1 >= self.text.len() {
                        return Err(LexError::TrailingBackslash);
                    }
                    at += 2;
                }
                Some(b'"') => at = self.quoted_end(at + 1)? + 1,
                Some(_) => at += 1,
            }
        }
    }

    fn skip_line(&mut self) {
        while self.text.get(self.pos).is_some_and(|&c| c != b'\n') {
            self.pos += 1;
        }
    }
}

/// The tokens of one line of text (no owner handling): for RDATA given as a string.
pub(crate) fn tokenize_line(text: &[u8]) -> Result<Vec<Token<'_>>, LexError> {
    let mut lexer = Lexer::new(text);
    let mut tokens = Vec::new();
    loop {
        match lexer.next_entry() {
            Ok(Some(entry)) => tokens.extend(entry.tokens),
            Ok(None) => return Ok(tokens),
            Err((_, _, e)) => return Err(e),
        }
    }
}
