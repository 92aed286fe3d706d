//! [`Group`]: the ranks of a run and the collectives between them. A world of one needs no
//! library and every collective is a no-op; more ranks go through MPI (`--features mpi`, the
//! `mpi` crate over Open MPI), each call under the [`Watchdog`].

use std::time::Duration;

use super::watchdog::Watchdog;
use super::{DistError, Launcher, World};

/// How long a collective may wait for the other ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A training step: every rank does the same work before it (`TRAINC_DIST_TIMEOUT`, 60 s).
    Step,
    /// The other ranks wait for rank 0's own work: creating the run directory and hashing the
    /// data manifest, validation, checkpoints, the test split (`TRAINC_DIST_WAIT_TIMEOUT`, 1800 s).
    Leader,
}

/// The timeouts of [`Wait`], from the environment.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub step: Duration,
    pub leader: Duration,
}

impl Timeouts {
    pub fn from_env() -> Result<Timeouts, DistError> {
        let seconds = |var: &'static str, default: u64| match std::env::var(var) {
            Err(_) => Ok(Duration::from_secs(default)),
            Ok(value) => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
                .ok_or(DistError::BadVar { var, value, expected: "positive number of seconds" }),
        };
        Ok(Timeouts { step: seconds("TRAINC_DIST_TIMEOUT", 60)?, leader: seconds("TRAINC_DIST_WAIT_TIMEOUT", 1800)? })
    }
}

/// The ranks of a run and their collectives.
pub struct Group {
    pub world: World,
    timeouts: Timeouts,
    /// Present when there is more than one rank.
    watchdog: Option<Watchdog>,
    /// MPI, finalised by [`Group::finish`] only: after an error a rank exits without
    /// finalising, which tells the launcher to end the others (finalising would wait for them).
    #[cfg(feature = "mpi")]
    universe: std::sync::Mutex<Option<mpi::environment::Universe>>,
}

impl Group {
    /// One process: collectives do nothing.
    pub fn single() -> Group {
        Group::local(World::single())
    }

    fn local(world: World) -> Group {
        Group {
            world,
            timeouts: Timeouts { step: Duration::MAX, leader: Duration::MAX },
            watchdog: None,
            #[cfg(feature = "mpi")]
            universe: std::sync::Mutex::new(None),
        }
    }

    /// Joins the ranks `world` describes: initialises MPI when there are several, and checks
    /// that MPI sees the world the launcher announced.
    pub fn join(world: World) -> Result<Group, DistError> {
        if world.size == 1 {
            return Ok(Group::local(world));
        }
        if world.launcher == Launcher::Torchrun {
            return Err(DistError::Torchrun { size: world.size });
        }
        // Without PMIx, Open MPI under srun aborts in its initialisation with a long message.
        if world.launcher == Launcher::Srun && std::env::var_os("PMIX_RANK").is_none() {
            return Err(DistError::SrunWithoutPmix { size: world.size });
        }
        let timeouts = Timeouts::from_env()?;
        join_mpi(world, timeouts)
    }

    /// More than one rank.
    pub fn is_distributed(&self) -> bool {
        self.world.size > 1
    }

    /// Rank 0 itself never waits for its own work: for it every collective is a step's.
    fn timeout(&self, wait: Wait) -> Duration {
        match wait {
            Wait::Leader if !self.world.is_leader() => self.timeouts.leader,
            _ => self.timeouts.step,
        }
    }

    /// Sums `values` element-wise over all ranks, in place.
    pub fn sum(&self, values: &mut [f32], what: &str, wait: Wait) {
        let Some(watchdog) = &self.watchdog else { return };
        let _armed = watchdog.guard(what, self.timeout(wait));
        self.mpi_sum(values);
    }

    /// Ends the collectives after a successful run (MPI's finalisation, which waits for every rank).
    pub fn finish(&self) {
        #[cfg(feature = "mpi")]
        drop(self.universe.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
    }

    /// Replaces `values` by rank 0's on every rank.
    pub fn broadcast(&self, values: &mut Vec<u8>, what: &str, wait: Wait) {
        let Some(watchdog) = &self.watchdog else { return };
        let _armed = watchdog.guard(what, self.timeout(wait));
        self.mpi_broadcast(values);
    }
}

#[cfg(not(feature = "mpi"))]
fn join_mpi(world: World, _timeouts: Timeouts) -> Result<Group, DistError> {
    Err(DistError::NoMpi { launcher: world.launcher.name(), size: world.size })
}

#[cfg(not(feature = "mpi"))]
impl Group {
    // Unreachable: without MPI a group has one rank and no watchdog.
    fn mpi_sum(&self, _values: &mut [f32]) {}
    fn mpi_broadcast(&self, _values: &mut Vec<u8>) {}
}

#[cfg(feature = "mpi")]
fn join_mpi(world: World, timeouts: Timeouts) -> Result<Group, DistError> {
    use mpi::topology::Communicator;
    // Only the training thread calls MPI; the loader's threads never do.
    let (universe, _) =
        mpi::initialize_with_threading(mpi::Threading::Funneled).ok_or(DistError::AlreadyInitialised)?;
    let comm = universe.world();
    let (rank, size) = (comm.rank() as usize, comm.size() as usize);
    if size != world.size || rank != world.rank {
        return Err(DistError::SizeMismatch { launcher: world.launcher.name(), expected: world.size, found: size });
    }
    let watchdog = Some(Watchdog::start(world.rank));
    Ok(Group { world, timeouts, watchdog, universe: std::sync::Mutex::new(Some(universe)) })
}

#[cfg(feature = "mpi")]
impl Drop for Group {
    /// Without [`Group::finish`] (an error), MPI is left unfinalised: see `universe`.
    fn drop(&mut self) {
        if let Some(universe) = self.universe.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            std::mem::forget(universe);
        }
    }
}

#[cfg(feature = "mpi")]
impl Group {
    fn mpi_sum(&self, values: &mut [f32]) {
        use mpi::collective::{CommunicatorCollectives, SystemOperation};
        let send = values.to_vec();
        mpi::topology::SimpleCommunicator::world().all_reduce_into(&send[..], values, SystemOperation::sum());
    }

    fn mpi_broadcast(&self, values: &mut Vec<u8>) {
        use mpi::collective::Root;
        use mpi::topology::Communicator;
        let world = mpi::topology::SimpleCommunicator::world();
        let root = world.process_at_rank(0);
        let mut len = [values.len() as u64];
        root.broadcast_into(&mut len[..]);
        values.resize(len[0] as usize, 0);
        root.broadcast_into(&mut values[..]);
    }
}
