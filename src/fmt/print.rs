//! The formatter's printer: tokens → lines → text.
//!
//! The layout is canonical in everything but line breaks, which stay the user's (a long pipe
//! split over lines stays split): indentation is two spaces per open bracket (however many open
//! on one line), continuation lines of an expression (a line that starts with `|>`, `then` or an
//! operator, or follows a line ending in one) get one more level, spacing between tokens follows
//! fixed rules, runs of blank lines shrink to one, a `;` at the end of a line and a separator
//! before a closing bracket go, the `=` of consecutive `key = value` lines in a record (`train`,
//! datasets, profiles) line up, and so do trailing comments on consecutive lines of one
//! bracket and indentation.

use super::lex::{Kind, Token};

/// Words after which `(` and `[` open a group rather than a call or a type.
const SPACED_WORDS: &[&str] = &["return", "then"];
const INDENT: &str = "  ";

/// One output line before alignment.
#[derive(Default)]
struct Line {
    /// Empty lines are blank lines.
    indent: usize,
    code: String,
    comment: Option<String>,
    /// `(key width, record)`: a `key = value` line whose `=` aligns with its neighbours'.
    align: Option<(usize, usize)>,
    /// The bracket the line starts in: alignment runs stay in one.
    frame: usize,
    blank: bool,
}

/// An open bracket.
struct Frame {
    /// The indentation of the line that opened it.
    indent: usize,
    /// `use std/x.{a, b}`: no spaces inside.
    tight: bool,
    /// A model's or block's body: its `h = …` lines do not align.
    body: bool,
    id: usize,
}

#[derive(Default)]
struct Printer<'a> {
    lines: Vec<Line>,
    line: Option<Line>,
    stack: Vec<Frame>,
    frames: usize,
    /// The last code token, and whether it was a unary minus.
    prev: Option<(Token<'a>, bool)>,
    /// The last token of the current line (comments included).
    last_on_line: Option<Token<'a>>,
    /// The keyword of the current top-level item.
    item: &'a str,
    /// The current line is still `key` or `a.b.c`, so a `=` now makes it alignable.
    key_so_far: bool,
    pending_blank: bool,
}

/// Prints tokens in the canonical layout.
pub fn print(tokens: &[Token<'_>]) -> String {
    let mut p = Printer::default();
    for (i, token) in tokens.iter().enumerate() {
        if drops(token, tokens.get(i + 1)) {
            continue;
        }
        p.token(*token);
    }
    p.end_line();
    render(&p.lines)
}

/// A separator the layout leaves out: `;` ending a line, and `;`/`,` before a closing bracket.
/// Only where the next token cannot continue an expression, so the parse is the same.
fn drops(token: &Token<'_>, next: Option<&Token<'_>>) -> bool {
    let sep = token.is(";") || token.is(",");
    match next {
        None => token.is(";"),
        Some(n) if n.breaks == 0 => sep && n.kind == Kind::Close,
        Some(n) => token.is(";") && (n.kind == Kind::Close || (n.kind == Kind::Word && n.text != "then")),
    }
}

fn is_infix(token: &Token<'_>) -> bool {
    ["|>", "then", "+", "-", "*", "/", "=", "->"].iter().any(|op| token.is(op))
}

impl<'a> Printer<'a> {
    fn token(&mut self, t: Token<'a>) {
        if t.breaks > 0 && self.line.is_some() {
            self.end_line();
        }
        if t.breaks > 1 {
            self.pending_blank = true;
        }
        if self.line.is_none() {
            self.start_line(&t);
        }
        if t.kind == Kind::LineComment && self.line.as_ref().is_some_and(|l| !l.code.is_empty()) {
            if let Some(line) = self.line.as_mut() {
                line.comment = Some(t.text.to_string());
            }
            self.end_line();
            return;
        }
        self.append(t);
        if t.kind == Kind::LineComment {
            self.end_line();
        }
    }

    fn start_line(&mut self, t: &Token<'a>) {
        let indent = match self.stack.last() {
            Some(frame) if t.kind == Kind::Close => frame.indent,
            Some(frame) => frame.indent + 1,
            None => 0,
        };
        let continues = !t.is_comment()
            && (["|>", "then", "+", "*", "/", "->"].iter().any(|op| t.is(op))
                || self.last_on_line.is_some_and(|l| is_infix(&l)));
        let after_open = self.lines.last().is_some_and(|l| l.code.ends_with(['{', '(', '[']) && l.comment.is_none());
        if self.pending_blank && !self.lines.is_empty() && !after_open && t.kind != Kind::Close {
            self.lines.push(Line { blank: true, ..Line::default() });
        }
        self.pending_blank = false;
        self.key_so_far = t.kind == Kind::Word;
        self.last_on_line = None;
        let frame = self.stack.last().map_or(0, |f| f.id);
        self.line = Some(Line { indent: indent + usize::from(continues), frame, ..Line::default() });
    }

    fn end_line(&mut self) {
        if let Some(line) = self.line.take() {
            self.lines.push(line);
        }
    }

    /// Adds a token to the current line with the space the rules ask for.
    fn append(&mut self, t: Token<'a>) {
        let unary = t.is("-")
            && match self.prev {
                None => true,
                Some((p, _)) => matches!(p.kind, Kind::Open | Kind::Punct) || SPACED_WORDS.contains(&p.text),
            };
        let space = self.last_on_line.is_some() && self.space(&t);
        let top = self.stack.last().map(|f| (f.id, f.body, f.tight));
        let Some(line) = self.line.as_mut() else { return };
        if t.is("=")
            && self.key_so_far
            && let Some((id, false, false)) = top
        {
            line.align = Some((line.code.len(), id));
        }
        self.key_so_far = self.key_so_far && (t.kind == Kind::Word || t.is("."));
        // `a = 1; b = 2` on one line is not a column to line up.
        if (t.is(";") || t.is(",")) && top.is_some_and(|(id, ..)| id == line.frame) {
            line.align = None;
        }
        if space {
            line.code.push(' ');
        }
        line.code.push_str(t.text);
        let indent = line.indent;
        self.brackets(&t, indent);
        if !t.is_comment() {
            self.prev = Some((t, unary));
        }
        self.last_on_line = Some(t);
    }

    fn brackets(&mut self, t: &Token<'a>, indent: usize) {
        let starts_item = self.stack.is_empty() && self.last_on_line.is_none_or(|l| l.kind == Kind::Close);
        if starts_item
            && t.kind == Kind::Word
            && let Some(keyword) =
                ["use", "dataset", "augment", "model", "block", "train", "profile", "sweep"].iter().find(|k| t.is(k))
        {
            self.item = keyword;
        }
        match t.kind {
            Kind::Open => {
                let tight = t.is("{") && self.prev.is_some_and(|(p, _)| p.is("."));
                let body = t.is("{") && self.stack.is_empty() && matches!(self.item, "model" | "block");
                self.frames += 1;
                self.stack.push(Frame { indent, tight, body, id: self.frames });
            }
            Kind::Close => {
                self.stack.pop();
            }
            _ => {}
        }
    }

    /// Whether a space goes between the previous token on the line and `t`.
    fn space(&self, t: &Token<'a>) -> bool {
        let Some(last) = self.last_on_line else { return false };
        if last.is_comment() || t.is_comment() {
            return true;
        }
        if self.prev.is_some_and(|(_, unary)| unary) {
            return false;
        }
        let tight = self.stack.last().is_some_and(|f| f.tight);
        if last.kind == Kind::Open {
            return last.is("{") && !tight && !t.is("}");
        }
        if t.kind == Kind::Close {
            return t.is("}") && !tight;
        }
        if [",", ";", ":", "."].iter().any(|s| t.is(s)) || last.is(".") {
            return false;
        }
        let callee = (last.kind == Kind::Word && !SPACED_WORDS.contains(&last.text)) || last.kind == Kind::Close;
        !((t.is("(") && callee) || (t.is("[") && last.kind == Kind::Word && callee))
    }
}

/// Lines → text: aligns `=` in records and trailing comments, indents, joins.
fn render(lines: &[Line]) -> String {
    let keys = key_widths(lines);
    let mut codes: Vec<String> = lines
        .iter()
        .zip(&keys)
        .map(|(l, key)| {
            let mut code = INDENT.repeat(l.indent);
            match (l.align, key) {
                (Some((w, _)), Some(width)) => {
                    code.push_str(&l.code[..w]);
                    code.push_str(&" ".repeat(width - w));
                    code.push_str(&l.code[w..]);
                }
                _ => code.push_str(&l.code),
            }
            code
        })
        .collect();
    let widths: Vec<Option<(usize, (usize, usize))>> = lines
        .iter()
        .zip(&codes)
        .map(|(l, c)| {
            l.comment.as_ref().filter(|_| !l.code.is_empty()).map(|_| (c.chars().count(), (l.frame, l.indent)))
        })
        .collect();
    let columns = align_groups_of(&widths);
    let mut out = String::new();
    for ((line, code), column) in lines.iter().zip(codes.iter_mut()).zip(columns) {
        if let (Some(comment), Some(column)) = (&line.comment, column) {
            let width = code.chars().count();
            code.push_str(&" ".repeat(column + 2 - width));
            code.push_str(comment);
        }
        if !line.blank {
            out.push_str(code);
        }
        out.push('\n');
    }
    out
}

/// For each `key = value` line, the widest key of its run: the lines of one record up to a
/// blank line or a line of another bracket (a multi-line value ends a run). One-line entries
/// without `=` (`checkpoint { … }`) do not.
fn key_widths(lines: &[Line]) -> Vec<Option<usize>> {
    let mut out = vec![None; lines.len()];
    let mut start = 0;
    while start < lines.len() {
        let frame = lines[start].frame;
        let mut end = start + 1;
        while end < lines.len() && !lines[end].blank && lines[end].frame == frame {
            end += 1;
        }
        let width = lines[start..end].iter().filter_map(|l| l.align.map(|(w, _)| w)).max();
        for (o, l) in out[start..end].iter_mut().zip(&lines[start..end]) {
            *o = l.align.and(width);
        }
        start = end;
    }
    out
}

/// For each item, the widest of its run of consecutive items with the same group id.
fn align_groups_of<K: PartialEq + Copy>(items: &[Option<(usize, K)>]) -> Vec<Option<usize>> {
    let mut out = vec![None; items.len()];
    let mut start = 0;
    while start < items.len() {
        let Some((_, id)) = items[start] else {
            start += 1;
            continue;
        };
        let mut end = start;
        while end < items.len() && items[end].is_some_and(|(_, i)| i == id) {
            end += 1;
        }
        let width = items[start..end].iter().flatten().map(|(w, _)| *w).max();
        out[start..end].iter_mut().for_each(|o| *o = width);
        start = end;
    }
    out
}
