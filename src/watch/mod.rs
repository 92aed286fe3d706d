//! `trainc watch`: hot reload of a running training.
//!
//! A background thread ([`spawn`]) waits for a save of the program's files ([`files`]), ignores
//! saves that changed nothing, re-checks with the same options and sends the result to the
//! training thread. There [`hook::WatchHook`], a training hook, takes it at the next step: it
//! prints the diagnostics of a bad edit and keeps training on the last good spec, or diffs the
//! good one against the spec in force ([`diff`]) and applies each change when it can take
//! effect — at the next step, at the next epoch, with a new optimizer, by rebuilding the model
//! at the next epoch boundary — or reports that it needs a restart. Every decision is logged
//! ([`log`]).

pub mod diff;
pub mod files;
pub mod hook;
pub mod log;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use crate::frontend::{self, Options};
use crate::ir::{ModelGraph, TrainSpec};
use source::{SourceHost, Sources};

/// What a check of the edited program gave.
pub enum Checked {
    Good {
        spec: Box<TrainSpec>,
        graph: Box<ModelGraph>,
    },
    /// The diagnostics, rendered as `trainc check` prints them.
    Bad {
        report: String,
        errors: usize,
    },
}

/// A saved version of the program, checked.
pub struct Candidate {
    pub sources: Sources,
    pub hash: String,
    pub checked: Checked,
    /// The first file event of the save.
    pub saved_at: Instant,
    /// How long the check took, in milliseconds.
    pub check_ms: f64,
}

/// Checks `file` through `host`; `color` for a terminal.
pub fn check(host: &SourceHost, file: &Path, options: &Options, color: bool) -> Checked {
    let outcome = frontend::check_file(host, file, options);
    let errors = outcome.diags.iter().filter(|d| d.is_error()).count();
    let bad = |report: String, errors: usize| Checked::Bad { report, errors };
    if errors > 0 {
        return bad(outcome.render(color), errors);
    }
    let Some(spec) = outcome.checked.train.clone() else {
        return bad(format!("{}: the `train` block is gone\n", file.display()), 1);
    };
    match outcome.checked.models.get(&spec.model) {
        Some(graph) => Checked::Good { spec: Box::new(spec), graph: Box::new(graph.clone()) },
        None => bad(format!("{}: model `{}` was not inferred\n", file.display(), spec.model), 1),
    }
}

/// Starts watching `file` and `sources` (the files of the version in force). Each real change
/// is re-checked and sent; the thread ends when the receiver is dropped.
pub fn spawn(file: PathBuf, options: Options, sources: Sources) -> notify::Result<Receiver<Candidate>> {
    use std::io::IsTerminal;
    let mut watched = files::Watched::new()?;
    watched.set_files(sources.keys().cloned().chain([file.clone()]))?;
    let (tx, rx) = channel();
    let color = std::io::stderr().is_terminal();
    std::thread::spawn(move || {
        let mut seen = sources;
        while let Some(saved_at) = watched.next_change() {
            let now = source::read_now(seen.keys().cloned());
            if now == seen && !seen.is_empty() {
                continue;
            }
            let started = Instant::now();
            let host = SourceHost::default();
            let checked = check(&host, &file, &options, color);
            let sources = host.sources();
            let check_ms = started.elapsed().as_secs_f64() * 1e3;
            // Imports may have been added or removed.
            let _ = watched.set_files(sources.keys().cloned().chain([file.clone()]));
            seen = sources.clone();
            let hash = source::hash(&sources);
            if tx.send(Candidate { sources, hash, checked, saved_at, check_ms }).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
