//! The types between stages: [`Program`] (resolved) and [`Checked`] (type- and shape-checked,
//! ready to compile).

mod checked;
mod program;

pub use checked::*;
pub use program::*;
