//! `trainc builtins`: every builtin with its signature and summary, by kind.

use std::process::ExitCode;

use trainc::check::builtins::{BUILTINS, Kind};

use super::CommandError;

pub fn builtins() -> Result<ExitCode, CommandError> {
    for kind in Kind::ALL {
        println!("{}:", kind.plural());
        for b in BUILTINS.iter().filter(|b| b.kind == kind) {
            println!("  {:<60} {}", b.signature(), b.summary);
        }
    }
    Ok(ExitCode::SUCCESS)
}
