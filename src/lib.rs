//! trainc: a declarative language for training vision models.
//!
//! The pipeline (see `docs/pipeline.md`): [`syntax`] parses text into an AST, [`resolve`] binds
//! imports, profiles and overrides into an [`ir::Program`], [`check`] infers shapes and checks
//! model ↔ data ↔ loss agreement into an [`ir::Checked`]. With the `train` feature, `exec`
//! compiles that to burn and `run` trains it. The front end never touches burn or the disk
//! except through [`host::Host`].
#![deny(clippy::unwrap_used)]
// No direct file-system access in the front end (see clippy.toml); the back end allows it by module.
#![deny(clippy::disallowed_methods)]

pub mod check;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod data;
pub mod diag;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod dist;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod exec;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod export;
pub mod fmt;
pub mod formats;
pub mod frontend;
#[allow(clippy::disallowed_methods)]
pub mod host;
pub mod ir;
// The language server owns the editor's file cache (the stdlib copies it serves).
#[allow(clippy::disallowed_methods)]
pub mod lsp;
#[cfg(feature = "train")]
pub mod plot;
pub mod resolve;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod run;
// Tests' temporary directories (here so unit and integration tests share one).
#[doc(hidden)]
#[allow(clippy::disallowed_methods, clippy::expect_used)]
pub mod scratch;
pub mod suggest;
pub mod summary;
pub mod sweep;
pub mod syntax;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod task;
#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod watch;
pub mod weights;
