//! `trainc run`: check, create (or reopen with `--resume`) the run directory, train.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use trainc::run::{Live, Trainer, interrupt};

use super::CommandError;
use super::shared::{checked, device, run_dir, sources_text};
use crate::{SpecArgs, TrainArgs};

pub fn run(spec: &SpecArgs, train_args: &TrainArgs) -> Result<ExitCode, CommandError> {
    let TrainArgs { device: device_name, resume, runs_dir, quiet } = train_args;
    let (resume, quiet) = (resume.as_deref(), *quiet);
    interrupt::install();
    let checked = checked(spec, None)?;
    let device = device(device_name)?;
    let train = checked.train;
    let program = &checked.outcome.program;
    let files = program.modules.iter().map(|m| program.sources.get(m.file)).map(|f| (f.name.clone(), &f.text[..]));
    let (run, state) = run_dir(&train, &sources_text(spec, files), resume, runs_dir, device_name)?;
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
