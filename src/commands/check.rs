//! `trainc check`: parse, resolve and check a file; report every problem, or print the summary.

use std::process::ExitCode;

use trainc::frontend::{self, Outcome};
use trainc::host::FsHost;
use trainc::sweep::{Space, validate};
use trainc::syntax::ast::Item;

use super::CommandError;
use crate::{Format, SpecArgs};

pub fn check(spec: &SpecArgs, format: Format, shapes: bool) -> Result<ExitCode, CommandError> {
    let outcome = frontend::check_file(&FsHost, &spec.file, &spec.options());
    match format {
        Format::Json => {
            let json = trainc::diag::to_json(&outcome.diags, &outcome.program.sources);
            println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default());
        }
        Format::Human => {
            use std::io::IsTerminal;
            if !outcome.diags.is_empty() {
                eprint!("{}", outcome.render(std::io::stderr().is_terminal()));
            }
            let sweep_errors = if outcome.has_errors() { 0 } else { sweep_values(spec, &outcome) };
            if sweep_errors > 0 {
                eprintln!("error: {} found {sweep_errors} invalid sweep value(s)", spec.file.display());
                return Ok(ExitCode::FAILURE);
            }
            if !outcome.has_errors() {
                print!("{}", trainc::summary::summary(&outcome, &spec.file.display().to_string(), shapes));
            } else {
                let errors = outcome.diags.iter().filter(|d| d.is_error()).count();
                eprintln!("error: {} found {errors} error(s)", spec.file.display());
            }
        }
    }
    Ok(if outcome.has_errors() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The values of the file's `sweep` block, each checked as an override, as `trainc sweep` does
/// before its first trial; prints the invalid ones and returns how many there are.
fn sweep_values(spec: &SpecArgs, outcome: &Outcome) -> usize {
    let program = &outcome.program;
    let Some(module) = program.root.map(|r| program.module(r)) else { return 0 };
    let Some(block) = module.ast.items.iter().find_map(|i| if let Item::Sweep(s) = i { Some(s) } else { None }) else {
        return 0;
    };
    let source = program.sources.get(module.file);
    // A block with bad bounds or options was reported by the checker already.
    let Ok((space, _)) = Space::from_block(block, &source.name, &source.text) else { return 0 };
    super::print_reports(validate::check_values(&FsHost, &spec.file, &spec.options(), &space))
}
