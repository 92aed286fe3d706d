//! `trainc gen-data`: synthetic datasets for the examples and tests (`trainc::data::synthetic`).

use std::path::Path;
use std::process::ExitCode;

use super::CommandError;

pub fn gen_data(kind: &str, out: &Path, per_class: usize, seed: u64) -> Result<ExitCode, CommandError> {
    let done = trainc::data::synthetic::generate(kind, out, per_class, seed)?;
    println!("{done}");
    Ok(ExitCode::SUCCESS)
}
