//! The `trainc` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use trainc::check::memory::MemoryBudget;
use trainc::frontend::Options;

#[derive(Parser)]
#[command(name = "trainc", version, about = "A declarative language and toolchain for training vision models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `trainc export --format`.
#[cfg(feature = "train")]
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportFormat {
    Onnx,
    Safetensors,
}

/// `trainc export --names`.
#[cfg(feature = "train")]
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportNames {
    Torchvision,
    Trainc,
}

/// How a command prints its result.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Human,
    Json,
}

#[derive(clap::Args, Clone)]
struct SpecArgs {
    /// The `.train` file.
    file: PathBuf,
    /// Overrides of the `train` block, e.g. `optimizer.lr=3e-4 epochs=5`.
    overrides: Vec<String>,
    /// Apply a `profile` block first.
    #[arg(long)]
    profile: Option<String>,
    /// Do not read dataset headers and folders.
    #[arg(long)]
    skip_data: bool,
    /// The training device's memory (`16GiB`): a step estimated to need more is an error.
    /// Default: this machine's memory (pass the GPU's when training on one).
    #[arg(long, value_parser = trainc::check::memory::parse_bytes)]
    memory: Option<u64>,
    /// The training device (`check --device`, or `run`'s and `watch`'s): a `precision` it cannot
    /// run is an error.
    #[arg(skip)]
    device: Option<String>,
}

impl SpecArgs {
    fn options(&self) -> Options {
        let mut o = Options::default();
        o.resolve.profile = self.profile.clone();
        o.resolve.overrides = self.overrides.clone();
        o.check.skip_data = self.skip_data;
        o.check.device = self.device.as_deref().and_then(trainc::ir::DeviceKind::parse);
        o.check.shards = shards(self.device.as_deref());
        o.check.memory = match self.memory {
            Some(bytes) => Some(MemoryBudget { bytes, source: "`--memory`".into() }),
            None => machine_memory().map(|bytes| MemoryBudget { bytes, source: "this machine".into() }),
        };
        o
    }
}

impl SpecArgs {
    /// These arguments, checked for training on `device`.
    #[cfg(feature = "train")]
    fn on(mut self, device: &str) -> SpecArgs {
        self.device = Some(device.to_string());
        self
    }
}

/// How many devices share each batch: the `--device` list's length (`tch:cuda:all` counts as
/// one, the front end does not ask CUDA) times the ranks a launcher started.
fn shards(device: Option<&str>) -> usize {
    let devices = device.map_or(1, |d| d.split(',').count());
    #[cfg(feature = "train")]
    let ranks = trainc::dist::World::from_env().map_or(1, |w| w.size);
    #[cfg(not(feature = "train"))]
    let ranks = 1;
    devices * ranks
}

/// `MemTotal` from `/proc/meminfo` (Linux); `None` elsewhere, and then nothing is compared.
fn machine_memory() -> Option<u64> {
    #[allow(clippy::disallowed_methods)] // the binary's edge, not the front end
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How `run` and `watch` train.
#[cfg(feature = "train")]
#[derive(clap::Args)]
struct TrainArgs {
    /// `flex` (default, pure Rust), `tch` / `tch:cpu`, or `tch:cuda:N` (build with `--features tch`);
    /// several for data-parallel training in one process: `tch:cuda:0,1,2,3`, `tch:cuda:all`.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Continue a run from its directory (`runs/<name>/<timestamp>`); a watched run continues with
    /// the last version it applied when the file does not check.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Where run directories go.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// No progress bar or summaries (logs still go to the run directory; edits are still reported).
    #[arg(long)]
    quiet: bool,
}

/// `trainc sweep`.
#[cfg(feature = "train")]
#[derive(clap::Args)]
struct SweepArgs {
    /// The `.train` file (not needed with `--resume` or `--status`).
    #[arg(required_unless_present_any = ["resume", "status", "run_trial"])]
    file: Option<PathBuf>,
    /// Dimensions, Hydra-style: `optimizer.lr=1e-4,3e-4` (values), `optimizer.lr=log(1e-5,1e-2)`,
    /// `uniform(0,0.3)`, `data.batch=int(16,128)`, `choice(a,b)`; one plain value is an override
    /// every trial gets.
    settings: Vec<String>,
    #[arg(long)]
    profile: Option<String>,
    /// How many trials (random and TPE; the grid runs every point). Default 10.
    #[arg(long)]
    trials: Option<usize>,
    /// `grid` (default when every dimension is a list), `random` or `tpe` (default otherwise).
    #[arg(long, value_parser = ["grid", "random", "tpe"])]
    sampler: Option<String>,
    /// The metric to optimise, `val.accuracy`, `val.loss` (default), `test.f1`…; a loss is
    /// minimised, any other metric maximised.
    #[arg(long)]
    objective: Option<String>,
    /// Stop bad trials early from their per-epoch objective: `median` or `asha`.
    #[arg(long, value_parser = ["median", "asha", "none"])]
    prune: Option<String>,
    /// Trials at once (local: each gets cores/N threads; SLURM: the array's `%N`). Default 1.
    #[arg(long)]
    jobs: Option<usize>,
    /// The sampler's seed. Default 0.
    #[arg(long)]
    seed: Option<u64>,
    /// `local` (default) runs trials here; `slurm` writes and submits an `sbatch --array` script.
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    launcher: String,
    /// Run a sweep's failed or unfinished trials again, then finish it.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Gather a sweep's results (a SLURM sweep's tasks write them as they finish).
    #[arg(long, value_name = "DIR")]
    status: Option<PathBuf>,
    /// Where sweep directories go.
    #[arg(long, default_value = "sweeps")]
    sweeps_dir: PathBuf,
    #[arg(long, default_value = "flex")]
    device: String,
    /// Do not read dataset headers and folders when checking.
    #[arg(long)]
    skip_data: bool,
    /// One trial of a SLURM array (what `sweep.sbatch` runs): `--run-trial DIR N`.
    #[arg(long, hide = true, num_args = 2, value_names = ["DIR", "N"])]
    run_trial: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a file: syntax, names, shapes, data, losses and schedules, all at once.
    Check {
        #[command(flatten)]
        spec: SpecArgs,
        /// `human` (default) or `json` for editors.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Print every node's shape.
        #[arg(long)]
        shapes: bool,
        /// The device the file will train on (`flex`, `tch:cpu`, `tch:cuda:N`): a `precision` it
        /// cannot run is an error.
        #[arg(long)]
        device: Option<String>,
    },
    /// List the builtins with their signatures.
    Builtins,
    /// Rewrite files in the canonical layout (comments kept); `-` formats standard input.
    Fmt {
        /// The `.train` files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing; list the files that are not formatted and fail if there are any.
        #[arg(long)]
        check: bool,
    },
    /// The language server, over standard input and output (editors start it).
    Lsp,
    /// Check, then train. Refuses to start when the check finds an error.
    #[cfg(feature = "train")]
    Run {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Like `run`, and follow the file: every save (of it or of a file it imports) is re-checked
    /// and applied to the running training — at the next step, at the next epoch, or by
    /// rebuilding the model — or reported; an invalid edit never stops the run.
    #[cfg(feature = "train")]
    Watch {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Run a hyper-parameter sweep: every value checked first, then the trials (grid, random or
    /// TPE; `--jobs N` at once, or a SLURM job array), pruned from their per-epoch metrics, into
    /// `sweeps/<name>/<time>/` with `sweep.csv`, a summary sorted by the objective and plots.
    #[cfg(feature = "train")]
    Sweep(SweepArgs),
    /// Evaluate a checkpoint on a split.
    #[cfg(feature = "train")]
    Eval {
        #[command(flatten)]
        spec: SpecArgs,
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, default_value = "test")]
        split: String,
        #[arg(long, default_value = "flex")]
        device: String,
        /// `json` (default): `{split: {metric: value}}`; `human`: one metric a line.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Predict with a checkpoint: top-k classes and scores, boxes (detection; score ≥ 0.25) or
    /// the share of pixels per class (segmentation), in the original image's pixels.
    #[cfg(feature = "train")]
    Predict {
        /// The `.train` file.
        file: PathBuf,
        #[arg(long)]
        checkpoint: PathBuf,
        /// Images to predict on.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// How many classes (classification) or boxes (detection) to show per image.
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[arg(long, default_value = "flex")]
        device: String,
        /// `human` (default) or `json`: COCO results (`image_id`, `category_id`, `bbox` as x y w h,
        /// `score`) for detection, every class's score for classification, pixel shares and the
        /// mask file for segmentation.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Write segmentation masks here, as PNGs of class ids named like the images.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Cut each image into tiles of the model's input size (at the image's resolution) and
        /// merge the boxes across tiles with non-maximum suppression (detection).
        #[arg(long)]
        tile: bool,
        /// Overlap of neighbouring tiles in pixels, with `--tile`.
        #[arg(long, default_value_t = 32)]
        overlap: usize,
    },
    /// Export a checkpoint as ONNX or as safetensors (PyTorch's layout), with `labels.json`
    /// (classes, input shape, normalisation, outputs) beside it. A run that used EMA exports
    /// the EMA weights.
    #[cfg(feature = "train")]
    Export {
        #[command(flatten)]
        spec: SpecArgs,
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The model file to write (`model.onnx`); `labels.json` goes beside it.
        #[arg(long)]
        output: PathBuf,
        /// ONNX: the batch dimension is the symbol `batch` instead of 1.
        #[arg(long)]
        dynamic_batch: bool,
        /// Also write `sample.safetensors` beside the output: a fixed input (`input.<name>`) and
        /// trainc's outputs for it (`output.<name>`), to check another runtime against.
        #[arg(long)]
        sample: bool,
        /// safetensors keys: `torchvision` (default) gives a model built on one stdlib backbone
        /// torchvision's names (`layer1.0.conv1`, a `classifier` head is `fc`); `trainc` keeps
        /// the module paths of `trainc check --shapes`.
        #[arg(long, value_enum, default_value = "torchvision")]
        names: ExportNames,
        /// safetensors: rename keys by prefix after `--names`, `FROM -> TO` (repeatable), e.g.
        /// `--rename "fc -> head"`.
        #[arg(long, value_name = "RULE")]
        rename: Vec<String>,
        #[arg(long, default_value = "flex")]
        device: String,
    },
    /// List the run directories under a folder with their progress and final metrics.
    #[cfg(feature = "train")]
    Runs {
        /// The folder to search (runs and sweeps nest their run directories in it).
        #[arg(default_value = "runs")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Compare two runs: resolved specs, data manifests, versions and final metrics.
    #[cfg(feature = "train")]
    Diff {
        /// A run directory (`runs/<name>/<timestamp>`).
        a: PathBuf,
        /// The run to compare it with.
        b: PathBuf,
    },
    /// Generate a synthetic dataset for the examples and tests.
    #[cfg(feature = "train")]
    GenData {
        /// `shapes-folder` (an image folder of discs, squares and triangles), `shapes-coco`
        /// (scenes with COCO boxes) or `shapes-masks` (scenes with PNG masks).
        kind: String,
        /// Output folder.
        out: PathBuf,
        #[arg(long, default_value_t = 40)]
        per_class: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

// Commands read checkpoints and run directories; the front end they call does not.
#[allow(clippy::disallowed_methods)]
mod commands;

/// libgomp (libtorch's OpenMP runtime) keeps idle threads spinning for a while after each
/// parallel region. On the CPU trainc's own kernels (rayon: Winograd convolutions, pooling) run
/// between libtorch's ops, and the spinning threads took their cores: with `PASSIVE` the
/// Fashion-MNIST recipe trained 9 % faster on `--device tch` (BENCHMARKS.md). libgomp reads
/// `OMP_WAIT_POLICY` once, when it is loaded, before `main`; so a build with libtorch starts
/// itself again with `PASSIVE`, unless the variable is set already (by the user, or by this).
#[cfg(all(feature = "tch", unix))]
fn passive_openmp() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_WAIT_POLICY").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    // `exec` only returns on failure; then this process goes on with spinning threads.
    let err = command.args(args).env("OMP_WAIT_POLICY", "PASSIVE").exec();
    eprintln!("warning: trainc could not restart itself with OMP_WAIT_POLICY=PASSIVE: {err}");
}

fn main() -> ExitCode {
    #[cfg(all(feature = "tch", unix))]
    passive_openmp();
    #[cfg(feature = "train")]
    trainc::run::START.get_or_init(std::time::Instant::now);
    let cli = Cli::parse();
    commands::report(match cli.command {
        Command::Check { mut spec, format, shapes, device } => {
            spec.device = device;
            commands::check(&spec, format, shapes)
        }
        Command::Builtins => commands::builtins(),
        Command::Fmt { files, check } => commands::fmt(&files, check),
        Command::Lsp => commands::lsp(),
        #[cfg(feature = "train")]
        Command::Run { spec, train } => commands::run(&spec.on(&train.device), &train),
        #[cfg(feature = "train")]
        Command::Watch { spec, train } => commands::watch(&spec.on(&train.device), &train),
        #[cfg(feature = "train")]
        Command::Sweep(args) => commands::sweep(&args),
        #[cfg(feature = "train")]
        Command::Eval { spec, checkpoint, split, device, format } => {
            commands::eval(&spec, &checkpoint, &split, &device, format)
        }
        #[cfg(feature = "train")]
        Command::Predict { file, checkpoint, images, top, device, format, output, tile, overlap } => {
            commands::predict(&commands::PredictArgs {
                file,
                checkpoint,
                images,
                top,
                device,
                format,
                output,
                tile,
                overlap,
            })
        }
        #[cfg(feature = "train")]
        Command::Export { spec, checkpoint, format, output, dynamic_batch, sample, names, rename, device } => {
            let format = match format {
                ExportFormat::Onnx => trainc::ir::ExportFormat::Onnx,
                ExportFormat::Safetensors => trainc::ir::ExportFormat::Safetensors,
            };
            let args = commands::ExportArgs {
                checkpoint: &checkpoint,
                format,
                output: &output,
                dynamic_batch,
                sample,
                device: &device,
                names: match names {
                    ExportNames::Torchvision => trainc::ir::Names::Torchvision,
                    ExportNames::Trainc => trainc::ir::Names::Trainc,
                },
                rename: &rename,
            };
            commands::export(&spec, &args)
        }
        #[cfg(feature = "train")]
        Command::Runs { dir, format } => commands::runs(&dir, format),
        #[cfg(feature = "train")]
        Command::Diff { a, b } => commands::diff(&a, &b),
        #[cfg(feature = "train")]
        Command::GenData { kind, out, per_class, seed } => commands::gen_data(&kind, &out, per_class, seed),
    })
}
