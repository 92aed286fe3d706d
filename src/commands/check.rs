//! `trainc check`: parse, resolve and check a file; report every problem, or print the summary.

use std::process::ExitCode;

use trainc::frontend;
use trainc::host::FsHost;

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
