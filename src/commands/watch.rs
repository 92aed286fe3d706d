//! `trainc watch`: `trainc run`, plus hot reload: saves of the file (and of every file it
//! imports) are re-checked and applied to the running training (see `trainc::watch`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use serde_json::json;

use trainc::ir::{ModelGraph, TrainSpec};
use trainc::run::hooks::Hooks;
use trainc::run::parallel::Replicas;
use trainc::run::rundir::RunDir;
use trainc::run::{Live, RunError, State, Trainer, interrupt};
use trainc::watch::hook::{Applied, WatchHook};
use trainc::watch::log::{EditLog, last_applied};
use trainc::watch::source::{self, SourceHost, Sources};
use trainc::watch::{self as hot, Checked};

use super::CommandError;
use super::shared::{devices, run_dir, sources_text};
use crate::{SpecArgs, TrainArgs};

/// The version a run starts with.
struct First {
    spec: TrainSpec,
    graph: ModelGraph,
    sources: Sources,
}

/// Checks the file. When resuming and the file has errors, the run continues with the last
/// version it applied (its sources are kept in the run directory).
fn first_version(args: &SpecArgs, resume: Option<&Path>) -> Result<First, CommandError> {
    use std::io::IsTerminal;
    let (options, color) = (args.options(), std::io::stderr().is_terminal());
    let mut host = SourceHost::default();
    let mut checked = hot::check(&host, &args.file, &options, color);
    if let (Checked::Bad { report, errors }, Some((n, saved))) = (&checked, resume.and_then(last_applied)) {
        eprint!("{report}");
        eprintln!(
            "{} has {errors} error(s); resuming with the last applied version (specs/{n}.json)",
            args.file.display()
        );
        host = SourceHost::with_saved(saved);
        checked = hot::check(&host, &args.file, &options, color);
    }
    match checked {
        Checked::Good { spec, graph } => Ok(First { spec: *spec, graph: *graph, sources: host.sources() }),
        Checked::Bad { report, errors } => {
            eprint!("{report}");
            Err(CommandError::Rejected { file: args.file.clone(), errors })
        }
    }
}

/// Records the starting version as `specs/<n>.json` (0, or the next number when resuming).
fn record_start(run: &RunDir, first: &First, state: Option<&State>) -> Result<usize, CommandError> {
    let log = EditLog::new(&run.path);
    let n = match state {
        Some(_) => last_applied(&run.path).map_or(0, |(n, _)| n + 1),
        None => 0,
    };
    let write = |e: std::io::Error| CommandError::Run(RunError::write(run.path.join("specs"))(e));
    log.save_spec(n, &first.spec, &first.sources).map_err(write)?;
    let entry = json!({
        "step": state.map_or(0, |s| s.step),
        "epoch": state.map_or(0, |s| s.epochs_done),
        "time": trainc::watch::log::now(),
        "status": if state.is_some() { "resumed" } else { "started" },
        "hash": source::hash(&first.sources),
        "changes": [],
        "spec": format!("specs/{n}.json"),
    });
    log.append(&entry).map_err(write)?;
    Ok(n)
}

pub fn watch(args: &SpecArgs, train_args: &TrainArgs) -> Result<ExitCode, CommandError> {
    trainc::dist::World::require_single("watch")?;
    let TrainArgs { device: device_name, resume, runs_dir, quiet } = train_args;
    let (resume, quiet) = (resume.as_deref(), *quiet);
    trainc::run::allocator::keep_freed_memory();
    interrupt::install();
    let first = first_version(args, resume)?;
    let mut devices = devices(device_name)?;
    let device = devices.remove(0);
    let files = first.sources.iter().map(|(path, text)| (path.display().to_string(), text.as_str()));
    let (run, state) = run_dir(&first.spec, &sources_text(args, files), resume, runs_dir, device_name)?;
    let n = record_start(&run, &first, state.as_ref())?;
    let rx = hot::spawn(args.file.clone(), args.options(), first.sources.clone())
        .map_err(|e| CommandError::Watch { file: args.file.clone(), message: e.to_string() })?;
    let live = Arc::new(RwLock::new(Live::from_spec(&first.spec)));
    let hash = source::hash(&first.sources);
    let applied = Applied { n, spec: first.spec.clone(), graph: first.graph.clone(), hash };
    let mut hooks = Hooks::default();
    hooks.push(WatchHook::new(rx, live.clone(), applied, args.file.clone(), run.path.clone()));
    eprintln!("watching {} and its imports: save to apply an edit; Ctrl-C stops cleanly", args.file.display());
    let read_loss_every_step = !device_name.contains("cuda");
    let trainer = Trainer {
        spec: first.spec,
        graph: first.graph,
        device,
        replicas: Replicas { devices },
        live,
        run,
        quiet,
        read_loss_every_step,
        group: Arc::new(trainc::dist::Group::single()),
        warm_resume: true,
    };
    let results = trainer.run_with(state, hooks)?;
    println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
    println!("run directory: {}", trainer.run.path.display());
    Ok(ExitCode::SUCCESS)
}
