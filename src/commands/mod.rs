//! One file per command. Each returns `Result<ExitCode, CommandError>`; `main` renders an error
//! as a coded report like the front end's.

mod builtins;
mod check;
#[cfg(feature = "train")]
mod diff;
#[cfg(feature = "train")]
mod eval;
#[cfg(feature = "train")]
mod export;
mod fmt;
#[cfg(feature = "train")]
mod gen_data;
mod lsp;
#[cfg(feature = "train")]
mod predict;
#[cfg(feature = "train")]
mod run;
#[cfg(feature = "train")]
mod runs;
#[cfg(feature = "train")]
mod shared;
#[cfg(feature = "train")]
mod sweep;
#[cfg(feature = "train")]
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use miette::Diagnostic;

pub use builtins::builtins;
pub use check::check;
#[cfg(feature = "train")]
pub use diff::diff;
#[cfg(feature = "train")]
pub use eval::eval;
#[cfg(feature = "train")]
pub use export::{ExportArgs, export};
pub use fmt::fmt;
#[cfg(feature = "train")]
pub use gen_data::gen_data;
pub use lsp::lsp;
#[cfg(feature = "train")]
pub use predict::{PredictArgs, predict};
#[cfg(feature = "train")]
pub use run::run;
#[cfg(feature = "train")]
pub use runs::runs;
#[cfg(feature = "train")]
pub use sweep::sweep;
#[cfg(feature = "train")]
pub use watch::watch;

// Without the `train` feature only `check` and `builtins` exist, and they never fail this way.
#[cfg_attr(not(feature = "train"), allow(dead_code))]
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum CommandError {
    /// The diagnostics were printed already.
    #[error("{file} found {errors} error(s); not starting")]
    #[diagnostic(code(trainc::cli::rejected), help("fix the errors above; `trainc check FILE` reports them alone"))]
    Rejected { file: PathBuf, errors: usize },

    #[error("{file} has no `train` block")]
    #[diagnostic(
        code(trainc::cli::no_train),
        help("add `train {{ model = …; data = …; loss = …; optimizer = …; epochs = … }}`")
    )]
    NoTrain { file: PathBuf },

    #[error("unknown device `{name}`")]
    #[diagnostic(
        code(trainc::cli::device),
        help(
            "use `flex`, `tch`, `tch:cpu` or `tch:cuda:N`; several for data-parallel training: `tch:cuda:0,1` or `tch:cuda:all`"
        )
    )]
    UnknownDevice { name: String },

    #[error("`--device {name}`: this command runs on one device")]
    #[diagnostic(
        code(trainc::cli::one_device),
        help(
            "a list of devices is for `run` and `watch` (data-parallel training); name one, e.g. `--device tch:cuda:0`"
        )
    )]
    OneDevice { name: String },

    #[cfg(feature = "tch")]
    #[error("`--device {name}`: libtorch sees no CUDA device")]
    #[diagnostic(
        code(trainc::cli::no_cuda),
        help("check `nvidia-smi` and that torch's libraries were built with CUDA")
    )]
    NoCuda { name: String },

    #[error("`--device {name}` needs a build with `--features tch`")]
    #[diagnostic(code(trainc::cli::needs_tch), help("see the README: `cargo build --release --features tch`"))]
    NeedsTch { name: String },

    #[cfg(feature = "tch")]
    #[error("`{name}`: the device index must be a number")]
    #[diagnostic(code(trainc::cli::device_index), help("e.g. `--device tch:cuda:0`"))]
    DeviceIndex { name: String },

    #[error("cannot create the run directory under {root}: {source}")]
    #[diagnostic(code(trainc::cli::run_dir), help("check that `--runs-dir` is writable"))]
    RunDir { root: PathBuf, source: std::io::Error },

    #[error("cannot write the data manifest of `{dir}`: {source}")]
    #[diagnostic(
        code(trainc::cli::manifest),
        help("every file under the dataset's paths is hashed at run start; check that they are readable")
    )]
    Manifest { dir: PathBuf, source: std::io::Error },

    #[error("`{dir}` is not a folder")]
    #[diagnostic(
        code(trainc::cli::no_runs),
        help("`trainc runs` lists the run directories under a folder (default `runs`)")
    )]
    NoRuns { dir: PathBuf },

    #[error("`{dir}` is not a run directory (it has no `run.json`)")]
    #[diagnostic(
        code(trainc::cli::not_a_run),
        help("name a run directory such as `runs/<name>/<timestamp>`; `trainc runs` lists them")
    )]
    NotARun { dir: PathBuf },

    #[error("cannot watch `{file}`: {message}")]
    #[diagnostic(code(trainc::cli::watch), help("check that the file's folder exists and is readable"))]
    Watch { file: PathBuf, message: String },

    #[error("`--rename {rule}` is not a rule `FROM -> TO`")]
    #[diagnostic(code(trainc::cli::rename), help("e.g. `--rename \"classifier0.linear0 -> fc\"`"))]
    Rename { rule: String },

    #[error("`{path}` is not a readable image: {message}")]
    #[diagnostic(code(trainc::cli::image))]
    Image { path: PathBuf, message: String },

    #[error("cannot write `{path}`: {message}")]
    #[diagnostic(code(trainc::cli::output), help("check that `--output` names a writable folder"))]
    Output { path: PathBuf, message: String },

    #[error("`--tile` merges boxes across tiles, but this model's task is {task}")]
    #[diagnostic(code(trainc::cli::tile_task), help("tile detection models; resize or letterbox other images whole"))]
    TileTask { task: String },

    #[error("cannot read {file}: {source}")]
    #[diagnostic(code(trainc::cli::read), help("check the path"))]
    Read { file: PathBuf, source: std::io::Error },

    #[error("cannot write {file}: {source}")]
    #[diagnostic(code(trainc::cli::write), help("check that the file is writable"))]
    Write { file: PathBuf, source: std::io::Error },

    #[error("{files} file(s) are not in the canonical layout")]
    #[diagnostic(code(trainc::cli::unformatted), help("run `trainc fmt` on the files listed above"))]
    Unformatted { files: usize },

    #[error("{files} file(s) could not be formatted")]
    #[diagnostic(
        code(trainc::cli::not_formatted),
        help("fix the syntax errors above; `trainc fmt` only formats files that parse")
    )]
    NotFormatted { files: usize },

    #[error("the language server stopped: {message}")]
    #[diagnostic(
        code(trainc::cli::lsp),
        help("run the server from an editor, which talks to it over stdin and stdout")
    )]
    Lsp { message: String },

    /// The sweep's errors were printed already.
    #[error("{file}: the sweep has {errors} invalid value(s) or setting(s); no trial ran")]
    #[diagnostic(code(trainc::cli::sweep_refused), help("fix or remove the values above, then start the sweep again"))]
    SweepRefused { file: PathBuf, errors: usize },

    #[error("{file}: nothing to sweep")]
    #[diagnostic(
        code(trainc::cli::sweep_empty),
        help("give a dimension (`optimizer.lr=1e-4,1e-3`, `data.batch=int(16,128)`) or write a `sweep {{ … }}` block")
    )]
    NothingToSweep { file: PathBuf },

    #[error("the objective `{objective}` is not a metric this program reports")]
    #[diagnostic(code(trainc::cli::sweep_objective), help("one of: {known}"))]
    Objective { objective: String, known: String },

    #[error("sweep directory {path}: {message}")]
    #[diagnostic(
        code(trainc::cli::sweep_dir),
        help("check that the folder is a sweep (it has `sweep.json`) and is writable")
    )]
    SweepDir { path: PathBuf, message: String },

    #[error("{failed} trial(s) failed")]
    #[diagnostic(
        code(trainc::cli::trials_failed),
        help("each trial's output is in `trials/<n>/log.txt`; `trainc sweep --resume {dir}` runs them again")
    )]
    TrialsFailed { failed: usize, dir: String },

    #[error("slurm: {message}")]
    #[diagnostic(
        code(trainc::cli::slurm),
        help("`sbatch` and `squeue` must be on the PATH, on a node that can submit jobs")
    )]
    Slurm { message: String },

    #[cfg(feature = "train")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Generate(#[from] trainc::data::synthetic::GenError),

    #[cfg(feature = "train")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] trainc::run::RunError),

    #[cfg(feature = "train")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] trainc::data::DataError),

    #[cfg(feature = "train")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Export(#[from] trainc::export::ExportError),

    #[cfg(feature = "train")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dist(#[from] trainc::dist::DistError),
}

/// Prints errors that carry their own source (a sweep's) as reports; returns how many.
pub fn print_reports<E: miette::Diagnostic + Send + Sync + 'static>(errors: Vec<E>) -> usize {
    use std::io::IsTerminal;
    let theme = if std::io::stderr().is_terminal() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let n = errors.len();
    for e in errors {
        let mut out = String::new();
        match miette::GraphicalReportHandler::new_themed(theme.clone()).render_report(&mut out, &e) {
            Ok(()) => eprint!("{out}"),
            Err(_) => eprintln!("{e}"),
        }
    }
    n
}

/// Prints a command's error as a report (code, message, help) and gives the exit code.
pub fn report(result: Result<ExitCode, CommandError>) -> ExitCode {
    use std::io::IsTerminal;
    let Err(e) = result else { return result.unwrap_or(ExitCode::SUCCESS) };
    let theme = if std::io::stderr().is_terminal() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    match miette::GraphicalReportHandler::new_themed(theme).render_report(&mut out, &e) {
        Ok(()) => eprint!("error: {out}"),
        Err(_) => eprintln!("error: {e}"),
    }
    ExitCode::FAILURE
}
