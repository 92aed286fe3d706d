//! Syntax errors: the parser stops at the first one in a file (pest does not recover), but the
//! resolver keeps checking every other file, so the user still sees all files' problems at once.

use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum SyntaxError {
    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(trainc::syntax::unexpected), help("{help}"))]
    Unexpected {
        expected: String,
        found: String,
        help: String,
        #[label("expected {expected} here")]
        at: SourceSpan,
    },

    #[error("integer `{text}` does not fit in 64 bits")]
    #[diagnostic(code(trainc::syntax::number_too_large), help("write it as a float, e.g. `1e12`"))]
    NumberTooLarge {
        text: String,
        #[label("too large")]
        at: SourceSpan,
    },

    #[error("unknown escape `{escape}` in string")]
    #[diagnostic(code(trainc::syntax::bad_escape), help("the escapes are `\\\\`, `\\\"`, `\\n` and `\\t`"))]
    BadEscape {
        escape: String,
        #[label("not an escape")]
        at: SourceSpan,
    },

    #[error("only a name can be called")]
    #[diagnostic(
        code(trainc::syntax::not_callable),
        help("call a layer, block or builtin by name, e.g. `conv2d(x, 32, k = 3)`")
    )]
    NotCallable {
        #[label("this is not a name")]
        at: SourceSpan,
    },

    #[error("the right side of `|>` must be a name or a call")]
    #[diagnostic(code(trainc::syntax::bad_pipe), help("pipe into a layer: `x |> conv2d(32, k = 3) |> relu`"))]
    BadPipe {
        #[label("cannot pipe into this")]
        at: SourceSpan,
    },

    #[error("{what} nests more than {limit} deep")]
    #[diagnostic(
        code(trainc::syntax::too_deep),
        help(
            "no hand-written file comes close; split the expression into named steps (`h = …`) or fix the generator that wrote it"
        )
    )]
    TooDeep {
        what: &'static str,
        limit: usize,
        #[label("level {limit} is reached here")]
        at: SourceSpan,
    },

    #[error("options in braces must follow a name")]
    #[diagnostic(code(trainc::syntax::bad_record), help("write `data = fashion {{ batch = 64 }}`"))]
    BadRecord {
        #[label("braces after this")]
        at: SourceSpan,
    },
}
