//! [`RunError`]: everything that can stop a training, `eval` or `predict` once the front end has
//! accepted the program. Each variant carries what the user needs to act (the file, the split,
//! the step) and a stable code, like the front end's errors; there is no catch-all string.

use std::path::PathBuf;

use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Data(#[from] crate::data::DataError),

    #[error(transparent)]
    #[diagnostic(code(trainc::run::compile))]
    Compile(#[from] crate::exec::CompileError),

    #[error("cannot write `{path}`: {source}")]
    #[diagnostic(code(trainc::run::write), help("check that the run directory is writable and the disk is not full"))]
    Write { path: PathBuf, source: std::io::Error },

    #[error("cannot load checkpoint `{path}`: {message}")]
    #[diagnostic(
        code(trainc::run::checkpoint),
        help("a checkpoint loads into the model it was saved from; check the file and the model")
    )]
    Checkpoint { path: PathBuf, message: String },

    #[error("cannot load weights: {0}")]
    #[diagnostic(
        code(trainc::run::weights),
        help("`trainc check` lists every key and shape the file and the model disagree on")
    )]
    Weights(#[from] crate::weights::load::LoadError),

    #[error("cannot save checkpoint `{path}`: {message}")]
    #[diagnostic(code(trainc::run::save))]
    Save { path: PathBuf, message: String },

    #[error("the loss became {value} at step {step} (epoch {epoch}, learning rate {lr:e}); training stopped")]
    #[diagnostic(
        code(trainc::run::non_finite),
        help("lower the learning rate, add `clip_grad`, or check the data for extreme values")
    )]
    NonFinite { value: f32, step: usize, epoch: usize, lr: f64 },

    #[error("dataset `{dataset}` has no `{split}` split; it has {available}")]
    #[diagnostic(code(trainc::run::no_split))]
    NoSplit { dataset: String, split: String, available: String },

    #[error("`{dir}` cannot be resumed: {reason}")]
    #[diagnostic(
        code(trainc::run::resume),
        help("`--resume` takes a run directory in which at least one epoch finished (it holds `state.json`)")
    )]
    Resume { dir: PathBuf, reason: String },

    #[error("cannot read a result of step {step} back from the device: {message}")]
    #[diagnostic(code(trainc::run::readback))]
    ReadBack { step: usize, message: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Export(#[from] crate::export::ExportError),

    #[error("cannot log to the MLflow server at `{uri}`: {message}")]
    #[diagnostic(
        code(trainc::run::tracking),
        help(
            "start the server (`mlflow server --host 127.0.0.1 --port 5000`), fix the address, or remove `logger` from the `train` block"
        )
    )]
    Tracking { uri: String, message: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Plot(#[from] crate::plot::PlotError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Dist(#[from] crate::dist::DistError),

    #[error("model `{model}`: {message}")]
    #[diagnostic(code(trainc::run::outputs))]
    Outputs { model: String, message: String },
}

impl RunError {
    /// An I/O failure while writing `path`.
    pub fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RunError {
        let path = path.into();
        move |source| RunError::Write { path, source }
    }
}
