//! Data-parallel training over several processes (ranks), on one machine or several.
//!
//! [`World`] reads the rank from the launcher's environment (`mpirun`, `srun`, torchrun-style);
//! [`Group`] joins the ranks through NCCL (CUDA devices, `--features nccl`, meeting at
//! `MASTER_ADDR` through `rendezvous`) or MPI (`--features mpi`) and runs the collectives, each under a
//! [`watchdog::Watchdog`] so a dead rank ends the others with [`DistError::Timeout`] instead of a
//! hang; `sync` averages the gradients, checks the weights agree and logs their checksums.
//!
//! What the training loop does with it (`run::fit`): every rank reads its shard of each epoch's
//! order (`data::Loader::shard`: a seeded shuffle of the whole set, then every `size`-th sample
//! from `rank`, padded to equal counts like PyTorch's `DistributedSampler`) in batches of the
//! global batch ÷ ranks; the gradients are averaged before each optimizer step, so the weights
//! stay identical. Rank 0 alone validates, tests, writes the run directory, logs and
//! checkpoints, and sends the others its decision (stop or go on, the `plateau` factor) after
//! each epoch. Batch norm uses each rank's own batch statistics, as PyTorch's DDP does; the
//! running statistics that are evaluated and saved are rank 0's.

mod error;
mod group;
#[cfg(feature = "nccl")]
mod nccl;
pub mod rendezvous;
pub mod sync;
mod torch_store;
pub mod watchdog;
mod world;

pub use error::DistError;
pub use group::{Group, Timeouts, Wait};
pub use world::{Launcher, World};
