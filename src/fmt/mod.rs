//! `trainc fmt`: one canonical layout for `.train` files (see [`print`] for the rules).
//!
//! The formatter works on tokens, not on the syntax tree: the tree drops comments and desugars
//! pipes, while the token list keeps both, so every comment survives by construction and the
//! tokens come out in the same order (only optional separators go). It refuses files that do
//! not parse, so what it prints parses to the same tree.

mod lex;
mod print;

use crate::syntax::span::FileId;
use crate::syntax::{SyntaxError, parse_file};

/// The canonical layout of `text`, or the syntax error that stops it.
pub fn format(text: &str) -> Result<String, SyntaxError> {
    parse_file(text, FileId(0))?;
    Ok(print::print(&lex::lex(text)))
}

/// The code tokens of a text, without comments and optional separators (every `;`, and a `,`
/// before a closing bracket): what formatting must keep, in order.
pub fn code_tokens(text: &str) -> Vec<String> {
    let code: Vec<lex::Token<'_>> = lex::lex(text).into_iter().filter(|t| !t.is_comment()).collect();
    code.iter()
        .enumerate()
        .filter(|(i, t)| !(t.is(";") || (t.is(",") && code.get(i + 1).is_none_or(|n| n.kind == lex::Kind::Close))))
        .map(|(_, t)| t.text.to_string())
        .collect()
}

/// The comments of a text, in order.
pub fn comments(text: &str) -> Vec<String> {
    lex::lex(text).iter().filter(|t| t.is_comment()).map(|t| t.text.to_string()).collect()
}
