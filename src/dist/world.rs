//! [`World`]: which rank this process is, read from the environment its launcher set.
//!
//! Recognised, in this order (the first that applies wins, so `mpirun` inside a SLURM
//! allocation is `mpirun`):
//! - `mpirun` (Open MPI): `OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`, `OMPI_COMM_WORLD_LOCAL_RANK`;
//! - SLURM's `srun`: `SLURM_PROCID`, `SLURM_STEP_NUM_TASKS` (set for a job step only, unlike
//!   `SLURM_NTASKS`, which a batch script sees too while it runs as one process), `SLURM_LOCALID`;
//! - torchrun-style: `RANK`, `WORLD_SIZE`, `LOCAL_RANK` (with `MASTER_ADDR`, `MASTER_PORT`).
//!
//! Without any of them the process is a world of one.

use super::DistError;

/// The launcher a [`World`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// No launcher: one process.
    Single,
    Mpirun,
    Srun,
    /// `RANK`/`WORLD_SIZE`, as torchrun and other rendezvous launchers set them.
    Torchrun,
}

impl Launcher {
    pub fn name(self) -> &'static str {
        match self {
            Launcher::Single => "a single process",
            Launcher::Mpirun => "mpirun",
            Launcher::Srun => "srun",
            Launcher::Torchrun => "a torchrun-style launcher",
        }
    }
}

/// This process's place among the ranks of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    pub rank: usize,
    pub size: usize,
    /// The rank among the processes on this machine (which device to take, on GPUs).
    pub local_rank: usize,
    pub launcher: Launcher,
}

/// The variables of one launcher: rank, size, local rank.
struct Vars {
    launcher: Launcher,
    rank: &'static str,
    size: &'static str,
    local_rank: &'static str,
}

const LAUNCHERS: [Vars; 3] = [
    Vars {
        launcher: Launcher::Mpirun,
        rank: "OMPI_COMM_WORLD_RANK",
        size: "OMPI_COMM_WORLD_SIZE",
        local_rank: "OMPI_COMM_WORLD_LOCAL_RANK",
    },
    Vars { launcher: Launcher::Srun, rank: "SLURM_PROCID", size: "SLURM_STEP_NUM_TASKS", local_rank: "SLURM_LOCALID" },
    Vars { launcher: Launcher::Torchrun, rank: "RANK", size: "WORLD_SIZE", local_rank: "LOCAL_RANK" },
];

impl World {
    /// A world of one process.
    pub fn single() -> World {
        World { rank: 0, size: 1, local_rank: 0, launcher: Launcher::Single }
    }

    /// The world of this process, from its environment.
    pub fn from_env() -> Result<World, DistError> {
        World::discover(|name| std::env::var(name).ok())
    }

    /// The world described by the variables `var` returns (the environment, or a test's map).
    pub fn discover(var: impl Fn(&str) -> Option<String>) -> Result<World, DistError> {
        let Some(vars) = LAUNCHERS.iter().find(|v| var(v.size).is_some()) else { return Ok(World::single()) };
        let number = |name: &'static str, default: Option<usize>| -> Result<usize, DistError> {
            match (var(name), default) {
                (None, Some(d)) => Ok(d),
                (value, _) => {
                    let value = value.unwrap_or_default();
                    value.trim().parse().map_err(|_| DistError::BadVar { var: name, value, expected: "number" })
                }
            }
        };
        let size = number(vars.size, None)?;
        let rank = number(vars.rank, None)?;
        let local_rank = number(vars.local_rank, Some(0))?;
        if size == 0 || rank >= size {
            return Err(DistError::RankOutOfRange { rank, size, launcher: vars.launcher.name() });
        }
        Ok(World { rank, size, local_rank, launcher: vars.launcher })
    }

    /// Refuses `command` (`watch`, `sweep`) when a launcher started several ranks: only `run`
    /// trains data-parallel, and each copy of a watcher or a sweep would write the same files.
    pub fn require_single(command: &'static str) -> Result<(), DistError> {
        let world = World::from_env()?;
        if world.size > 1 {
            return Err(DistError::SingleProcess { command, launcher: world.launcher.name(), size: world.size });
        }
        Ok(())
    }

    /// Whether this rank writes the run directory, logs and checkpoints (rank 0).
    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(vars: &[(&str, &str)]) -> Result<World, DistError> {
        World::discover(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn each_launcher_is_recognised() {
        let mpirun =
            [("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1")];
        assert_eq!(world(&mpirun).ok(), Some(World { rank: 1, size: 4, local_rank: 1, launcher: Launcher::Mpirun }));
        let srun =
            [("SLURM_PROCID", "3"), ("SLURM_STEP_NUM_TASKS", "8"), ("SLURM_LOCALID", "1"), ("SLURM_NTASKS", "8")];
        assert_eq!(world(&srun).ok(), Some(World { rank: 3, size: 8, local_rank: 1, launcher: Launcher::Srun }));
        let torch = [("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "n1"), ("MASTER_PORT", "29500")];
        assert_eq!(world(&torch).ok(), Some(World { rank: 0, size: 2, local_rank: 0, launcher: Launcher::Torchrun }));
        assert_eq!(world(&[]).ok(), Some(World::single()));
    }

    #[test]
    fn mpirun_inside_a_slurm_batch_script_is_mpirun() {
        // A batch script sees SLURM_PROCID and SLURM_NTASKS, but no step size: not srun.
        let batch = [("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")];
        assert_eq!(world(&batch).ok(), Some(World::single()));
        let nested = [
            ("SLURM_PROCID", "0"),
            ("SLURM_STEP_NUM_TASKS", "1"),
            ("OMPI_COMM_WORLD_RANK", "2"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
        ];
        assert_eq!(world(&nested).map(|w| (w.launcher, w.rank)).ok(), Some((Launcher::Mpirun, 2)));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let bad = world(&[("RANK", "one"), ("WORLD_SIZE", "2")]);
        assert!(matches!(bad, Err(DistError::BadVar { var: "RANK", .. })), "{bad:?}");
        let missing = world(&[("WORLD_SIZE", "2")]);
        assert!(matches!(missing, Err(DistError::BadVar { var: "RANK", .. })), "{missing:?}");
        let out = world(&[("RANK", "2"), ("WORLD_SIZE", "2")]);
        assert!(matches!(out, Err(DistError::RankOutOfRange { rank: 2, size: 2, .. })), "{out:?}");
    }
}
