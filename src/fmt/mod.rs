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

#[cfg(test)]
mod tests {
    use super::format;

    fn fmt(text: &str) -> String {
        match format(text) {
            Ok(out) => out,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn spacing_rules() {
        assert_eq!(fmt("use std/backbones . { resnet18 ,stem }"), "use std/backbones.{resnet18, stem}\n");
        assert_eq!(
            fmt("block b(x:[B,C,H,W],k:int=-1)->(a:[B,C,H,W]){return (a:x)}"),
            "block b(x: [B, C, H, W], k: int = -1) -> (a: [B, C, H, W]) { return (a: x) }\n"
        );
        assert_eq!(fmt("train{epochs=2-1;seed=-(3*2)}"), "train { epochs = 2 - 1; seed = -(3 * 2) }\n");
        assert_eq!(fmt("train { data = d{ } }"), "train { data = d {} }\n");
        assert_eq!(
            fmt("train { schedule = warmup(steps=1)then cosine() }"),
            "train { schedule = warmup(steps = 1) then cosine() }\n"
        );
    }

    #[test]
    fn separators_that_go_and_stay() {
        assert_eq!(fmt("augment a { hflip;\n}"), "augment a { hflip\n}\n");
        assert_eq!(fmt("augment a { hflip;\n  normalize(imagenet) }"), "augment a { hflip\n  normalize(imagenet) }\n");
        // Without the `;` the next line would be `hflip`'s argument list.
        assert_eq!(fmt("augment a { hflip;\n(normalize) }"), "augment a { hflip;\n  (normalize) }\n");
        assert_eq!(fmt("train { metrics = [a, b,] }"), "train { metrics = [a, b] }\n");
    }

    #[test]
    fn layout_rules() {
        let text = "model m(x: Image[B, 1, 8, 8]) {\n\n\n  h = x\n|> relu\n       |> relu\n\n  return h\n\n}\ntrain {\n  model = m\n  epochs   = 1 // one\n  seed = 0         // zero\n}\n\n\n";
        let want = "model m(x: Image[B, 1, 8, 8]) {\n  h = x\n    |> relu\n    |> relu\n\n  return h\n}\ntrain {\n  model  = m\n  epochs = 1  // one\n  seed   = 0  // zero\n}\n";
        assert_eq!(fmt(text), want);
    }
}
