//! Sweeps: a search space over `train` settings, checked before any trial runs, and the
//! decisions of a hyper-parameter search — which values the next trial gets and whether a running
//! trial is stopped early.
//!
//! - `space.rs`: the search space ([`Space`]) from command-line arguments (`optimizer.lr=1e-4,1e-3`,
//!   `log(1e-5,1e-2)`, `int(16,128)`, `choice(a,b)`) and from a file's `sweep { … }` block, with
//!   the sweep's options (`trials`, `sampler`, `objective`, `prune`, `jobs`, `seed`).
//! - `validate.rs`: every value of every dimension checked like an override, through `Host`.
//! - `sampler.rs`: grid, random and TPE (`tpe.rs`, a tree-structured Parzen estimator).
//! - `prune.rs`: median and ASHA pruning from per-epoch metrics.
//! - `table.rs`: the trial records, `sweep.csv`, the summary table and the best command line.
//! - `plot.rs`: SVG plots of a sweep (objective per trial, against each parameter, parallel
//!   coordinates).
//!
//! Nothing here touches the file system or starts a process: `trainc sweep` (src/commands/sweep)
//! does, and this module stays front end (it builds without burn).

mod error;
pub mod plot;
pub mod prune;
pub mod rng;
pub mod sampler;
pub mod space;
pub mod table;
pub mod tpe;
pub mod validate;

pub use error::SweepError;
pub use prune::Pruner;
pub use sampler::Sampler;
pub use space::{Dim, Domain, Options, Space, Value};
pub use table::{Status, Trial};

/// Whether larger values of the objective are better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Min,
    Max,
}

impl Mode {
    /// The mode of a metric: a loss is minimised, every other metric maximised.
    pub fn of(objective: &str) -> Mode {
        if objective.ends_with("loss") { Mode::Min } else { Mode::Max }
    }

    /// `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Mode::Min => a < b,
            Mode::Max => a > b,
        }
    }

    /// The value as a loss (smaller is better), for samplers and pruners that minimise.
    pub fn as_loss(self, v: f64) -> f64 {
        match self {
            Mode::Min => v,
            Mode::Max => -v,
        }
    }
}
