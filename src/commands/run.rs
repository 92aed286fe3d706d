//! `trainc run`: check, create (or reopen with `--resume`) the run directory, train.
//!
//! Under `mpirun`, `srun` or torchrun each rank runs this (see `trainc::dist`): rank 0 creates the run
//! directory and sends its path to the others, which never write to it; every rank resumes from
//! the same `--resume` directory.

use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use trainc::dist::{Group, Wait, World};
use trainc::run::parallel::Replicas;
use trainc::run::rundir::RunDir;
use trainc::run::{Live, Trainer, interrupt, read_state};

use super::CommandError;
use super::shared::{checked, devices, first_cuda, run_dir, sources_text};
use crate::{SpecArgs, TrainArgs};

pub fn run(spec: &SpecArgs, train_args: &TrainArgs) -> Result<ExitCode, CommandError> {
    let TrainArgs { device: device_name, resume, runs_dir, quiet } = train_args;
    trainc::run::allocator::keep_freed_memory();
    let group = Arc::new(Group::join(World::from_env()?, first_cuda(device_name))?);
    let leader = group.world.is_leader();
    let (resume, quiet) = (resume.as_deref(), *quiet || !leader);
    interrupt::install();
    let checked = checked(spec, None)?;
    let mut devices = devices(device_name)?;
    let device = devices.remove(0);
    let train = checked.train;
    let program = &checked.outcome.program;
    let files = program.modules.iter().map(|m| program.sources.get(m.file)).map(|f| (f.name.clone(), &f.text[..]));
    let (run, state) = match leader {
        true => run_dir(&train, &sources_text(spec, files), resume, runs_dir, device_name)?,
        false => (RunDir { path: Default::default() }, resume.map(read_state).transpose()?),
    };
    let run = share_run_dir(&group, run);
    if leader && group.is_distributed() && !quiet {
        eprintln!("data-parallel: {} ranks started by {}", group.world.size, group.world.launcher.name());
    }
    let live = Arc::new(RwLock::new(Live::from_spec(&train)));
    let read_loss_every_step = !device_name.contains("cuda");
    let trainer = Trainer {
        spec: train,
        graph: checked.graph,
        device,
        replicas: Replicas { devices },
        live,
        run,
        quiet,
        read_loss_every_step,
        warm_resume: false,
        group,
    };
    let results = trainer.run(state)?;
    trainer.group.finish();
    if leader {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
        println!("run directory: {}", trainer.run.path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Rank 0's run directory on every rank (the others only name it, in messages).
fn share_run_dir(group: &Group, run: RunDir) -> RunDir {
    let mut path = run.path.to_string_lossy().into_owned().into_bytes();
    group.broadcast(&mut path, "waiting for rank 0 to create the run directory", Wait::Leader);
    RunDir { path: String::from_utf8_lossy(&path).into_owned().into() }
}
