//! The formatter's lexer: the source as a flat list of tokens, comments included, each with the
//! number of line breaks before it. The formatter only runs on files that parse, so the lexer
//! can be forgiving: anything it does not recognise becomes a one-character token and is printed
//! back unchanged.

/// What a token is, as far as spacing and indentation care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A name, a keyword, a number or a `std/…` path.
    Word,
    Str,
    /// `( [ {`
    Open,
    /// `) ] }`
    Close,
    /// Any other punctuation: `, ; : = . -> |> + - * /`.
    Punct,
    LineComment,
    BlockComment,
}

#[derive(Clone, Copy, Debug)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Line breaks between the previous token and this one.
    pub breaks: usize,
}

impl Token<'_> {
    pub fn is(&self, text: &str) -> bool {
        self.text == text && !matches!(self.kind, Kind::Str | Kind::LineComment | Kind::BlockComment)
    }

    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `text` into tokens.
pub fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut breaks = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\n' {
            breaks += 1;
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end) = token_at(text, i);
        // Line comments keep their text but not the spaces at their end.
        let slice = if kind == Kind::LineComment { text[i..end].trim_end() } else { &text[i..end] };
        tokens.push(Token { kind, text: slice, breaks });
        breaks = 0;
        i = end;
    }
    tokens
}

/// The kind and end of the token starting at byte `i`.
fn token_at(text: &str, i: usize) -> (Kind, usize) {
    let bytes = text.as_bytes();
    let rest = &text[i..];
    let b = bytes[i];
    if rest.starts_with("//") {
        return (Kind::LineComment, i + rest.find('\n').unwrap_or(rest.len()));
    }
    if let Some(body) = rest.strip_prefix("/*") {
        return (Kind::BlockComment, i + body.find("*/").map_or(rest.len(), |e| e + 4));
    }
    if b == b'"' {
        let mut j = i + 1;
        while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        return (Kind::Str, (j + 1).min(bytes.len()));
    }
    if b.is_ascii_digit() {
        return (Kind::Word, number_end(bytes, i));
    }
    if is_ident_start(b) {
        let mut j = i;
        while j < bytes.len() && is_ident_char(bytes[j]) {
            j += 1;
        }
        // `std/backbones` is one word: no spaces around its slash.
        if &text[i..j] == "std" {
            while j + 1 < bytes.len() && bytes[j] == b'/' && is_ident_start(bytes[j + 1]) {
                j += 1;
                while j < bytes.len() && is_ident_char(bytes[j]) {
                    j += 1;
                }
            }
        }
        return (Kind::Word, j);
    }
    if rest.starts_with("->") || rest.starts_with("|>") {
        return (Kind::Punct, i + 2);
    }
    let kind = match b {
        b'(' | b'[' | b'{' => Kind::Open,
        b')' | b']' | b'}' => Kind::Close,
        _ => Kind::Punct,
    };
    (kind, i + rest.chars().next().map_or(1, char::len_utf8))
}

/// The end of a number: digits with `_`, an optional fraction and an optional exponent.
fn number_end(bytes: &[u8], start: usize) -> usize {
    let digits = |mut j: usize| {
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut j = digits(start);
    if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
        j = digits(j + 1);
    }
    if j < bytes.len() && (bytes[j] == b'e' || bytes[j] == b'E') {
        let mut k = j + 1;
        if k < bytes.len() && (bytes[k] == b'+' || bytes[k] == b'-') {
            k += 1;
        }
        if k < bytes.len() && bytes[k].is_ascii_digit() {
            j = digits(k);
        }
    }
    j
}
