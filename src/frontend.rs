//! The front end in one call: resolve, then check. What `trainc check`, `run`, `watch` and the
//! tests use.

use std::path::Path;

use crate::check;
use crate::diag::{self, Diagnostic};
use crate::host::Host;
use crate::ir::{Checked, Program};
use crate::resolve;

/// Everything the front end learned about one program.
pub struct Outcome {
    pub program: Program,
    pub checked: Checked,
    /// Errors and warnings, deduplicated and in source order.
    pub diags: Vec<Diagnostic>,
}

impl Outcome {
    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }

    pub fn render(&self, color: bool) -> String {
        diag::render_human(&self.diags, &self.program.sources, color)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub resolve: resolve::Options,
    pub check: check::Options,
}

pub fn check_file(host: &dyn Host, path: &Path, options: &Options) -> Outcome {
    let (program, mut diags) = resolve::resolve(host, path, &options.resolve);
    finish(host, program, &mut diags, options)
}

pub fn check_text(host: &dyn Host, name: &str, text: &str, options: &Options) -> Outcome {
    let (program, mut diags) = resolve::resolve_text(host, name, text, &options.resolve);
    finish(host, program, &mut diags, options)
}

fn finish(host: &dyn Host, program: Program, diags: &mut Vec<Diagnostic>, options: &Options) -> Outcome {
    let (checked, more) = check::check(&program, host, &options.check);
    diags.extend(more);
    let diags = diag::normalize(std::mem::take(diags));
    Outcome { program, checked, diags }
}
