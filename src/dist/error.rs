//! [`DistError`]: why a distributed run cannot start or had to stop. Each variant names the
//! environment variable, rank or collective involved and has a stable code.

use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum DistError {
    #[error("`{var}={value}` is not a {expected}")]
    #[diagnostic(
        code(trainc::dist::env),
        help("the launcher sets this variable; unset it when trainc is not started by `mpirun` or `srun`")
    )]
    BadVar { var: &'static str, value: String, expected: &'static str },

    #[error("rank {rank} is not below the world size {size} (from {launcher})")]
    #[diagnostic(code(trainc::dist::rank), help("the launcher's rank and size variables disagree"))]
    RankOutOfRange { rank: usize, size: usize, launcher: &'static str },

    #[error(
        "a torchrun-style environment (`WORLD_SIZE={size}`) trains over NCCL, which needs CUDA devices and a build with `--features nccl`"
    )]
    #[diagnostic(
        code(trainc::dist::torchrun),
        help(
            "for GPUs: `cargo build --release --features nccl` and `--device tch:cuda`. On CPUs ranks join through MPI, which connects only processes its own launcher started: `mpirun -np {size} trainc run …` or `srun -n {size} --mpi=pmix trainc run …`"
        )
    )]
    Torchrun { size: usize },

    #[error("`{var}` is not set: NCCL's ranks meet at rank 0's `MASTER_ADDR:MASTER_PORT`")]
    #[diagnostic(
        code(trainc::dist::master),
        help(
            "torchrun sets both; elsewhere export them on every rank, e.g. in a SLURM batch script `export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n1) MASTER_PORT=29500`"
        )
    )]
    NoMaster { var: &'static str },

    #[error("rank {rank}: the rendezvous at {endpoint} failed: {message}")]
    #[diagnostic(
        code(trainc::dist::rendezvous),
        help(
            "rank 0 listens on `MASTER_PORT` and the others connect to `MASTER_ADDR`: both must be the same on every rank, reachable from every machine, and the port free; `TRAINC_DIST_WAIT_TIMEOUT` (default 1800 s) sets how long ranks wait for each other"
        )
    )]
    Rendezvous { rank: usize, endpoint: String, message: String },

    #[error("rank {rank}: NCCL {what} failed: {message}")]
    #[diagnostic(
        code(trainc::dist::nccl),
        help(
            "libnccl comes with the CUDA build of pip's torch (`nvidia-nccl-cu12`); `NCCL_DEBUG=INFO` makes NCCL say why, and every rank needs a GPU of its own (`LOCAL_RANK` picks it with `--device tch:cuda`)"
        )
    )]
    Nccl { rank: usize, what: &'static str, message: String },

    #[error("srun started {size} tasks without PMIx, through which Open MPI joins them")]
    #[diagnostic(
        code(trainc::dist::srun_pmix),
        help("launch with `srun --mpi=pmix -n {size} trainc run …` (or set `MpiDefault=pmix` in slurm.conf)")
    )]
    SrunWithoutPmix { size: usize },

    #[error("{launcher} started {size} ranks, but this trainc was built without MPI")]
    #[diagnostic(
        code(trainc::dist::no_mpi),
        help(
            "build with `cargo build --release --features mpi` (needs Open MPI: `apt-get install libopenmpi-dev openmpi-bin libclang-dev`)"
        )
    )]
    NoMpi { launcher: &'static str, size: usize },

    #[error("{launcher} says {expected} ranks, but MPI joined {found}")]
    #[diagnostic(
        code(trainc::dist::size),
        help(
            "under SLURM, let srun start MPI through PMIx (`srun --mpi=pmix …`) or start the ranks with `mpirun` inside the allocation"
        )
    )]
    SizeMismatch { launcher: &'static str, expected: usize, found: usize },

    #[error("`trainc {command}` runs as one process, but {launcher} started {size}")]
    #[diagnostic(
        code(trainc::dist::single_process),
        help(
            "only `trainc run` trains data-parallel; start `trainc {command}` without a launcher (each copy would write the same files)"
        )
    )]
    SingleProcess { command: &'static str, launcher: &'static str, size: usize },

    #[error("MPI was initialised already; a process trains at most one distributed run")]
    #[diagnostic(code(trainc::dist::init))]
    AlreadyInitialised,

    #[error("rank {rank}: no answer from the other ranks within {seconds} s while {what}; another rank died or hangs")]
    #[diagnostic(
        code(trainc::dist::timeout),
        help(
            "the launcher's output says which rank failed first; `TRAINC_DIST_TIMEOUT` (training steps, default 60 s) and `TRAINC_DIST_WAIT_TIMEOUT` (rank 0's validation and checkpoints, default 1800 s) set how long ranks wait"
        )
    )]
    Timeout { rank: usize, what: String, seconds: u64 },

    #[error("rank {rank}: rank 0's state after an epoch does not read back: {message}")]
    #[diagnostic(code(trainc::dist::leader_state), help("every rank must run the same trainc build"))]
    LeaderState { rank: usize, message: String },

    #[error("the global batch {batch} does not split evenly over {size} ranks")]
    #[diagnostic(
        code(trainc::dist::batch),
        help(
            "`data.batch` is the global batch; each rank takes batch ÷ ranks samples, so make it a multiple of the number of ranks"
        )
    )]
    Batch { batch: usize, size: usize },

    #[error("the weights of {ranks} rank(s) differ from rank 0's {what} (rank {rank}: {found}, rank 0: {expected})")]
    #[diagnostic(
        code(trainc::dist::diverged),
        help("every rank must see the same files: `--resume` and `weights = load(…)` paths on a shared file system")
    )]
    Diverged { ranks: usize, what: String, rank: usize, found: String, expected: String },
}

impl DistError {
    /// The report as the command line prints it (`main` does this for errors it receives; the
    /// watchdog prints on its own, since it ends the process from another thread).
    pub fn render(&self) -> String {
        let theme = miette::GraphicalTheme::unicode_nocolor();
        let mut out = String::new();
        match miette::GraphicalReportHandler::new_themed(theme).render_report(&mut out, self) {
            Ok(()) => format!("error: {out}"),
            Err(_) => format!("error: {self}\n"),
        }
    }
}
