//! The commands that train: `run`, `eval`, `predict`, and `gen-data` for synthetic datasets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;

use trainc::data::{Loader, augment, open_splits};
use trainc::exec::{Net, detect};
use trainc::frontend::{self, Outcome};
use trainc::host::FsHost;
use trainc::ir::{ModelGraph, Task, TrainSpec};
use trainc::run::rundir::RunDir;
use trainc::run::{Live, Trainer, read_state};

use crate::SpecArgs;

/// `predict` shows detections at least this confident (Ultralytics' default `conf`).
const PREDICT_MIN_SCORE: f32 = 0.25;

/// Prints the error; `Err` carries the exit code out of the `*_inner` commands.
fn bail<T>(message: impl std::fmt::Display) -> Result<T, ExitCode> {
    Err(fail(message))
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// Checks like `trainc check`; a program with errors never reaches the executor.
fn checked(file: &Path, spec: &SpecArgs) -> Result<(Outcome, TrainSpec, ModelGraph), ExitCode> {
    checked_with(file, spec, None)
}

fn checked_with(
    file: &Path,
    spec: &SpecArgs,
    classes: Option<Vec<String>>,
) -> Result<(Outcome, TrainSpec, ModelGraph), ExitCode> {
    use std::io::IsTerminal;
    let mut options = spec.options();
    options.check.assume_classes = classes;
    let outcome = frontend::check_file(&FsHost, file, &options);
    if !outcome.diags.is_empty() {
        eprint!("{}", outcome.render(std::io::stderr().is_terminal()));
    }
    if outcome.has_errors() {
        let errors = outcome.diags.iter().filter(|d| d.is_error()).count();
        eprintln!("error: {} found {errors} error(s); not starting", file.display());
        return Err(ExitCode::FAILURE);
    }
    let Some(train) = outcome.checked.train.clone() else {
        return Err(fail(format!("{} has no `train` block", file.display())));
    };
    let Some(graph) = outcome.checked.models.get(&train.model).cloned() else {
        return Err(fail(format!("model `{}` was not inferred", train.model)));
    };
    Ok((outcome, train, graph))
}

#[allow(deprecated)]
fn device(name: &str) -> Result<Device, ExitCode> {
    match name {
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "tch")]
        "tch" | "tch:cpu" => Ok(Device::libtorch()),
        #[cfg(feature = "tch")]
        other if other.starts_with("tch:cuda:") => match other["tch:cuda:".len()..].parse::<usize>() {
            Ok(n) => Ok(Device::libtorch_cuda(n)),
            Err(_) => Err(fail(format!("`{other}`: the device index must be a number"))),
        },
        other if other.starts_with("tch") => {
            Err(fail(format!("`--device {other}` needs a build with `--features tch` (see the README)")))
        }
        other => Err(fail(format!("unknown device `{other}`: use `flex`, `tch`, `tch:cpu` or `tch:cuda:N`"))),
    }
}

fn sources(outcome: &Outcome, spec: &SpecArgs) -> String {
    let mut out = format!("// profile: {:?}; overrides: {:?}\n", spec.profile, spec.overrides);
    for module in &outcome.program.modules {
        let file = outcome.program.sources.get(module.file);
        out.push_str(&format!("\n// ── {} ──\n{}\n", file.name, file.text));
    }
    out
}

pub fn run(spec: &SpecArgs, device_name: &str, resume: Option<&Path>, runs_dir: &Path, quiet: bool) -> ExitCode {
    run_inner(spec, device_name, resume, runs_dir, quiet).unwrap_or_else(|code| code)
}

fn run_inner(
    spec: &SpecArgs,
    device_name: &str,
    resume: Option<&Path>,
    runs_dir: &Path,
    quiet: bool,
) -> Result<ExitCode, ExitCode> {
    let (outcome, train, graph) = checked(&spec.file, spec)?;
    let device = device(device_name)?;
    let (run, state) = match resume {
        Some(dir) => match read_state(dir) {
            Ok(state) => (RunDir::open(dir), Some(state)),
            Err(e) => return bail(e),
        },
        None => {
            let json = serde_json::to_string_pretty(&train).unwrap_or_default();
            match RunDir::create(runs_dir, &train.name, &json, &sources(&outcome, spec), train.seed, device_name) {
                Ok(r) => (r, None),
                Err(e) => return bail(format!("cannot create the run directory under {}: {e}", runs_dir.display())),
            }
        }
    };
    let live = Arc::new(RwLock::new(Live::from_spec(&train)));
    let read_loss_every_step = !device_name.contains("cuda");
    let trainer = Trainer { spec: train, graph, device, live, run, quiet, read_loss_every_step };
    match trainer.run(state) {
        Ok(results) => {
            println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
            println!("run directory: {}", trainer.run.path.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail(e),
    }
}

fn load(graph: &ModelGraph, checkpoint: &Path, device: &Device) -> Result<Net, ExitCode> {
    let net = Net::build(graph, device).map_err(fail)?;
    net.try_load_file(checkpoint).map_err(|e| fail(format!("cannot load {}: {e}", checkpoint.display())))
}

pub fn eval(spec: &SpecArgs, checkpoint: &Path, split: &str, device_name: &str) -> ExitCode {
    eval_inner(spec, checkpoint, split, device_name).unwrap_or_else(|code| code)
}

fn eval_inner(spec: &SpecArgs, checkpoint: &Path, split: &str, device_name: &str) -> Result<ExitCode, ExitCode> {
    let (_, train, graph) = checked(&spec.file, spec)?;
    let device = device(device_name)?;
    let net = load(&graph, checkpoint, &device)?;
    let splits = match open_splits(&train.data.dataset) {
        Ok(s) => s,
        Err(e) => return bail(e),
    };
    let Some(source) = splits.get(split).cloned() else {
        return bail(format!(
            "dataset `{}` has no split `{split}`; it has {}",
            train.data.dataset.name,
            splits.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let loader = Loader {
        source,
        steps: Arc::new(train.data.eval_augment.clone()),
        batch: train.data.batch,
        workers: train.data.workers,
        seed: train.seed,
        train: false,
        balanced: false,
        shuffle: false,
        limit_batches: train.data.limit_batches,
        p_scale: 1.0,
    };
    match Trainer::evaluate(&train, &net, &loader, &device) {
        Ok((metrics, _)) => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ split: metrics })).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail(e),
    }
}

pub fn predict(file: &Path, checkpoint: &Path, images: &[PathBuf], top: usize, device_name: &str) -> ExitCode {
    predict_inner(file, checkpoint, images, top, device_name).unwrap_or_else(|code| code)
}

fn predict_inner(
    file: &Path,
    checkpoint: &Path,
    images: &[PathBuf],
    top: usize,
    device_name: &str,
) -> Result<ExitCode, ExitCode> {
    // A checkpoint inside a run directory knows its class names (spec.json): then the dataset is
    // not needed. Otherwise the data's headers are read as in `check`.
    let recorded = checkpoint
        .parent()
        .and_then(Path::parent)
        .and_then(|run| std::fs::read_to_string(run.join("spec.json")).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|spec| serde_json::from_value::<Vec<String>>(spec["data"]["dataset"]["classes"].clone()).ok());
    let spec =
        SpecArgs { file: file.to_path_buf(), overrides: Vec::new(), profile: None, skip_data: recorded.is_some() };
    let (_, train, graph) = checked_with(file, &spec, recorded)?;
    let device = device(device_name)?;
    let net = load(&graph, checkpoint, &device)?;
    let classes = &train.data.dataset.classes;
    let (h, w) = graph
        .inputs
        .first()
        .map_or((0, 0), |(_, s)| (s.0[2].value().unwrap_or(0) as usize, s.0[3].value().unwrap_or(0) as usize));
    for path in images {
        let (img, original) = match image::open(path) {
            Ok(i) => (augment::Image::from_dynamic(&i, train.data.dataset.channels), (i.width(), i.height())),
            Err(e) => return bail(format!("`{}` is not a readable image: {e}", path.display())),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let img = augment::apply(&train.data.eval_augment, img, &mut rng, false, 1.0).resize(h, w);
        let x = Tensor::<4>::from_data(TensorData::new(img.data, [1, img.c, img.h, img.w]), &device);
        let mut out = net.forward(vec![x]);
        println!("{}", path.display());
        match train.data.dataset.task {
            Task::Detection => {
                let heads = detect::Heads::from_outputs(out).map_err(fail)?;
                // Boxes come back in the pixels of the image as given.
                let (sx, sy) = (original.0 as f32 / w as f32, original.1 as f32 / h as f32);
                let found = detect::decode(&heads, (h, w)).remove(0);
                for d in found.into_iter().filter(|d| d.score >= PREDICT_MIN_SCORE).take(top) {
                    println!(
                        "  {:<20} {:.4}  box {:.1} {:.1} {:.1} {:.1}",
                        classes.get(d.class).map_or("?", String::as_str),
                        d.score,
                        d.x0 * sx,
                        d.y0 * sy,
                        d.x1 * sx,
                        d.y1 * sy
                    );
                }
            }
            Task::Segmentation => {
                // The share of the image's pixels given to each class.
                let logits = out.remove(0).1.d4().ok_or_else(|| fail("the segmentation output is not 4-D"))?;
                let preds = trainc::exec::loss::pixels(logits).argmax(1).try_into_vec_as::<i64>().unwrap_or_default();
                let mut counts = vec![0usize; classes.len()];
                for p in &preds {
                    if let Some(c) = counts.get_mut(*p as usize) {
                        *c += 1;
                    }
                }
                for (c, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                    let share = *n as f64 / preds.len().max(1) as f64;
                    println!("  {:<20} {share:.4} of pixels", classes.get(c).map_or("?", String::as_str));
                }
            }
            Task::Classification => {
                let logits = out.remove(0).1.d2();
                let probs: Vec<f32> =
                    burn::tensor::activation::softmax(logits, 1).try_into_vec_as::<f32>().unwrap_or_default();
                let mut ranked: Vec<(usize, f32)> = probs.into_iter().enumerate().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
                for (c, p) in ranked.into_iter().take(top) {
                    println!("  {:<20} {:.4}", classes.get(c).map_or("?", String::as_str), p);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gen-data`: writes a synthetic dataset (see `trainc::data::synthetic`).
pub fn gen_data(kind: &str, out: &Path, per_class: usize, seed: u64) -> ExitCode {
    match trainc::data::synthetic::generate(kind, out, per_class, seed) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
