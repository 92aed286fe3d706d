//! `trainc lsp`: the language server. Editors talk to it over stdin/stdout (JSON-RPC); tests
//! talk to it in process through `lsp_server::Connection::memory`.
//!
//! One thread, one loop ([`server`]): every message waiting is taken at once, so a burst of
//! `didChange` while typing costs one re-check. Documents are checked with the front end
//! through an [`overlay::Overlay`] host that serves unsaved buffers, each open document as a
//! root; its diagnostics are published after each change of it or of any open document (so a
//! file that imports the edited one is re-checked too). Features read the last check's
//! [`analysis::Analysis`]: the syntax tree's names and what they refer to, the checker's
//! per-binding shapes and the model graphs' nodes, and the builtin table.
//!
//! Features, one file each: [`diagnostics`], [`hover`], [`inlay`] hints (each binding's shape),
//! [`completion`], [`navigation`] (definition and references), [`symbols`], [`signature`] help;
//! formatting is `trainc fmt` ([`crate::fmt`]). The stdlib is served as read-only files (see
//! [`uri`]).

pub mod analysis;
mod completion;
mod diagnostics;
mod hover;
mod inlay;
mod navigation;
pub mod overlay;
pub mod position;
mod server;
mod signature;
mod symbols;
pub mod uri;

pub use server::{Config, serve};
