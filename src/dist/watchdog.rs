//! A watchdog around blocking collectives. MPI calls cannot be cancelled, and a rank that died
//! leaves the others waiting in one forever when nothing else ends them (`srun` keeps the
//! surviving tasks running unless told `--kill-on-bad-exit`; a rank stopped by the OS, or a
//! broken link between machines, is not noticed by `mpirun` either). So each collective arms a
//! deadline; a thread that waits for it prints [`DistError::Timeout`] and ends the process, and
//! the launcher then ends the other ranks.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::DistError;

/// The exit code of a rank the watchdog ended.
pub const EXIT_TIMEOUT: i32 = 3;

#[derive(Default)]
struct Armed {
    /// The collective in progress: its deadline, what it is, its timeout.
    current: Option<(Instant, String, Duration)>,
}

/// The deadline shared with the watchdog thread.
#[derive(Default)]
struct Shared {
    armed: Mutex<Armed>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends the process when a collective takes longer than its timeout.
pub struct Watchdog {
    shared: Arc<Shared>,
}

/// While alive, the watchdog's deadline is armed; dropping it disarms.
pub struct Guard<'a> {
    watchdog: &'a Watchdog,
}

impl Watchdog {
    /// Starts the watchdog thread of rank `rank`.
    pub fn start(rank: usize) -> Watchdog {
        let shared = Arc::new(Shared::default());
        let watched = shared.clone();
        std::thread::Builder::new()
            .name("trainc-dist-watchdog".into())
            .spawn(move || watch(&watched, rank))
            .map_or_else(|e| eprintln!("warning: no watchdog thread ({e}); a dead rank may hang this one"), |_| ());
        Watchdog { shared }
    }

    /// Arms the deadline `timeout` from now for `what` (a collective), until the guard drops.
    pub fn guard(&self, what: &str, timeout: Duration) -> Guard<'_> {
        self.shared.lock().current = Some((Instant::now() + timeout, what.to_string(), timeout));
        self.shared.changed.notify_all();
        Guard { watchdog: self }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.watchdog.shared.lock().current = None;
        self.watchdog.shared.changed.notify_all();
    }
}

/// The watchdog thread: sleeps until armed, then until the deadline or the disarm.
fn watch(shared: &Shared, rank: usize) {
    let mut armed = shared.lock();
    loop {
        let Some((deadline, what, timeout)) = armed.current.clone() else {
            armed = shared.changed.wait(armed).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let now = Instant::now();
        if now >= deadline {
            let error = DistError::Timeout { rank, what, seconds: timeout.as_secs() };
            eprint!("{}", error.render());
            std::process::exit(EXIT_TIMEOUT);
        }
        armed = shared.changed.wait_timeout(armed, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
    }
}
