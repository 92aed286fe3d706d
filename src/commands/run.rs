//! `trainc run`: check, create (or reopen with `--resume`) the run directory, train.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use trainc::frontend::Outcome;
use trainc::run::rundir::RunDir;
use trainc::run::{Live, Trainer, interrupt, read_state};

use super::CommandError;
use super::shared::{checked, device};
use crate::{SpecArgs, TrainArgs};

/// Every source file of the program, for `sources.train` in the run directory.
fn sources(outcome: &Outcome, spec: &SpecArgs) -> String {
    let mut out = format!("// profile: {:?}; overrides: {:?}\n", spec.profile, spec.overrides);
    for module in &outcome.program.modules {
        let file = outcome.program.sources.get(module.file);
        out.push_str(&format!("\n// ── {} ──\n{}\n", file.name, file.text));
    }
    out
}

pub fn run(spec: &SpecArgs, train_args: &TrainArgs) -> Result<ExitCode, CommandError> {
    let TrainArgs { device: device_name, resume, runs_dir, quiet } = train_args;
    let (resume, quiet) = (resume.as_deref(), *quiet);
    interrupt::install();
    let checked = checked(spec, None)?;
    let device = device(device_name)?;
    let train = checked.train;
    let (run, state) = match resume {
        Some(dir) => (RunDir::open(dir), Some(read_state(dir)?)),
        None => {
            let json = serde_json::to_string_pretty(&train).unwrap_or_default();
            let text = sources(&checked.outcome, spec);
            let run = RunDir::create(runs_dir, &train.name, &json, &text, train.seed, device_name)
                .map_err(|source| CommandError::RunDir { root: runs_dir.to_path_buf(), source })?;
            (run, None)
        }
    };
    let live = Arc::new(RwLock::new(Live::from_spec(&train)));
    let read_loss_every_step = !device_name.contains("cuda");
    let trainer = Trainer {
        spec: train,
        graph: checked.graph,
        device,
        live,
        run,
        quiet,
        read_loss_every_step,
        warm_resume: false,
    };
    let results = trainer.run(state)?;
    println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
    println!("run directory: {}", trainer.run.path.display());
    Ok(ExitCode::SUCCESS)
}
