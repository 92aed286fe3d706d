//! Stage 1: text → [`ast::File`]. Pest does the parsing (`grammar/trainc.pest`); this module
//! lowers pest's pairs into the AST and turns pest's errors into words.

pub mod ast;
mod error;
mod parser;
pub mod span;

pub use error::SyntaxError;
pub use parser::{parse_expr, parse_file, parse_setting};
