//! `trainc fmt [--check] FILE…`: rewrites files in the canonical layout (`trainc::fmt`), or with
//! `--check` lists those that are not and fails. `-` formats standard input to standard output.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use trainc::diag::{self, Diagnostic};
use trainc::syntax::span::SourceMap;

use super::CommandError;

pub fn fmt(files: &[PathBuf], check: bool) -> Result<ExitCode, CommandError> {
    let mut unformatted = Vec::new();
    let mut failed = 0;
    for file in files {
        let text = read(file)?;
        let formatted = match trainc::fmt::format(&text) {
            Ok(formatted) => formatted,
            Err(e) => {
                let mut sources = SourceMap::default();
                let id = sources.add(file.display().to_string(), text);
                eprint!("{}", diag::render_human(&[Diagnostic::new(id, e)], &sources, false));
                failed += 1;
                continue;
            }
        };
        if file.as_os_str() == "-" {
            let _ = std::io::stdout().write_all(formatted.as_bytes());
        } else if formatted != text {
            if check {
                println!("{}", file.display());
                unformatted.push(file.clone());
            } else {
                std::fs::write(file, formatted).map_err(|e| CommandError::Write { file: file.clone(), source: e })?;
            }
        }
    }
    if failed > 0 {
        return Err(CommandError::NotFormatted { files: failed });
    }
    if !unformatted.is_empty() {
        return Err(CommandError::Unformatted { files: unformatted.len() });
    }
    Ok(ExitCode::SUCCESS)
}

fn read(file: &PathBuf) -> Result<String, CommandError> {
    let result = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(file)
    };
    result.map_err(|e| CommandError::Read { file: file.clone(), source: e })
}
