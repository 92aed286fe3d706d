//! [`Group`]: the ranks of a run and the collectives between them. A world of one needs no
//! library and every collective is a no-op. More ranks go through NCCL when they train on CUDA
//! devices and trainc was built with `--features nccl` (the ranks meet at `MASTER_ADDR`, see
//! `rendezvous`), through MPI otherwise (`--features mpi`, the `mpi` crate over Open MPI); each
//! call runs under the [`Watchdog`].

use std::time::Duration;

use burn::tensor::{Tensor, TensorData};

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
    /// NCCL, when the ranks train on CUDA devices (then MPI is not initialised).
    #[cfg(feature = "nccl")]
    nccl: Option<super::nccl::Nccl>,
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
            #[cfg(feature = "nccl")]
            nccl: None,
        }
    }

    /// Joins the ranks `world` describes, when there are several: through NCCL when they train
    /// on CUDA device `cuda` (this rank's first) and trainc has NCCL, through MPI otherwise,
    /// checking that MPI sees the world the launcher announced.
    pub fn join(world: World, cuda: Option<usize>) -> Result<Group, DistError> {
        if world.size == 1 {
            return Ok(Group::local(world));
        }
        let timeouts = Timeouts::from_env()?;
        #[cfg(feature = "nccl")]
        if let Some(device) = cuda {
            return join_nccl(world, device, timeouts);
        }
        let _ = cuda;
        if world.launcher == Launcher::Torchrun {
            return Err(DistError::Torchrun { size: world.size });
        }
        // Without PMIx, Open MPI under srun aborts in its initialisation with a long message.
        if world.launcher == Launcher::Srun && std::env::var_os("PMIX_RANK").is_none() {
            return Err(DistError::SrunWithoutPmix { size: world.size });
        }
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
        #[cfg(feature = "nccl")]
        if let Some(nccl) = &self.nccl {
            let on_device = tch::Tensor::from_slice(values).to_device(nccl.device());
            or_exit(nccl.sum(&on_device).and_then(|()| nccl.to_host(&on_device, values)));
            return;
        }
        self.mpi_sum(values);
    }

    /// A 1-d tensor summed element-wise over all ranks. Through NCCL a CUDA tensor stays on its
    /// device (summed in place: the caller must own it alone); through MPI it travels through
    /// host memory.
    pub fn sum_tensor(&self, values: Tensor<1>, what: &str, wait: Wait) -> Tensor<1> {
        if self.watchdog.is_none() {
            return values;
        }
        #[cfg(feature = "nccl")]
        if let (Some(nccl), Some(view)) = (&self.nccl, crate::exec::tch_ops::torch_view(&values)) {
            let _armed = self.watchdog.as_ref().map(|w| w.guard(what, self.timeout(wait)));
            or_exit(nccl.sum(&view));
            return values;
        }
        let device = values.device();
        let data = values.into_data().convert::<f32>();
        let mut host = data.try_into_vec::<f32>().unwrap_or_default();
        self.sum(&mut host, what, wait);
        let len = host.len();
        Tensor::from_data(TensorData::new(host, [len]), &device)
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
        #[cfg(feature = "nccl")]
        if let Some(nccl) = &self.nccl {
            or_exit(nccl_broadcast(nccl, values));
            return;
        }
        self.mpi_broadcast(values);
    }
}

/// A collective that failed leaves the ranks out of step: like MPI's default error handler,
/// end this rank with the reason (the launcher ends the others, or their watchdogs do).
#[cfg(feature = "nccl")]
fn or_exit(result: Result<(), DistError>) {
    if let Err(error) = result {
        eprint!("{}", error.render());
        std::process::exit(1);
    }
}

/// Rank 0's bytes on every rank: their length first, then the bytes.
#[cfg(feature = "nccl")]
fn nccl_broadcast(nccl: &super::nccl::Nccl, values: &mut Vec<u8>) -> Result<(), DistError> {
    let mut len = (values.len() as u64).to_le_bytes();
    let on_device = tch::Tensor::from_slice(&len).to_device(nccl.device());
    nccl.broadcast(&on_device)?;
    nccl.to_host(&on_device, &mut len)?;
    values.resize(u64::from_le_bytes(len) as usize, 0);
    let bytes = tch::Tensor::from_slice(values).to_device(nccl.device());
    nccl.broadcast(&bytes)?;
    nccl.to_host(&bytes, values)
}

/// Joins the CUDA ranks through NCCL: rank 0 makes the communicator's id and sends it over the
/// rendezvous; creating the communicator waits for every rank, under the watchdog.
#[cfg(feature = "nccl")]
fn join_nccl(world: World, device: usize, timeouts: Timeouts) -> Result<Group, DistError> {
    use super::nccl::Nccl;
    use super::rendezvous::{Master, share_id};
    let master = Master::from_env()?;
    // Rank 0 passes on why it has no id (no libnccl, no driver), then reports its own error.
    let made = world.is_leader().then(|| Nccl::unique_id(world.rank));
    let shared = match &made {
        Some(Err(error)) => Err(error.to_string()),
        Some(Ok(id)) => Ok(id.clone()),
        None => Ok(Vec::new()),
    };
    let received = share_id(&master, &world, &shared, timeouts.leader);
    if let Some(Err(error)) = made {
        return Err(error);
    }
    let id = received?;
    let watchdog = Watchdog::start(world.rank);
    let nccl = {
        let _armed = watchdog.guard("creating the NCCL communicator", timeouts.step);
        Nccl::join(&world, device, &id)?
    };
    let mut group = Group::local(world);
    group.timeouts = timeouts;
    group.watchdog = Some(watchdog);
    group.nccl = Some(nccl);
    Ok(group)
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
    let mut group = Group::local(world);
    group.timeouts = timeouts;
    group.watchdog = Some(Watchdog::start(group.world.rank));
    group.universe = std::sync::Mutex::new(Some(universe));
    Ok(group)
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
