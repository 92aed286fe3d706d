//! trainc: a declarative language for training vision models.
//!
//! The pipeline (see `docs/pipeline.md`): [`syntax`] parses text into an AST, [`resolve`] binds
//! imports, profiles and overrides into an [`ir::Program`], [`check`] infers shapes and checks
//! model ↔ data ↔ loss agreement into an [`ir::Checked`]. With the `train` feature, `exec`
//! compiles that to burn and `run` trains it. The front end never touches burn or the disk
//! except through [`host::Host`].
#![deny(clippy::unwrap_used)]

pub mod check;
#[cfg(feature = "train")]
pub mod data;
pub mod diag;
#[cfg(feature = "train")]
pub mod exec;
pub mod formats;
pub mod frontend;
pub mod host;
pub mod ir;
pub mod resolve;
#[cfg(feature = "train")]
pub mod run;
pub mod suggest;
pub mod summary;
pub mod syntax;
