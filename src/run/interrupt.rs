//! A graceful Ctrl-C: the first SIGINT asks the loop to stop after the current step (it saves
//! the last checkpoint, evaluates the test split and writes `summary.json`, then the command
//! exits 0); a second one aborts at once.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process; later calls do nothing).
pub fn install() {
    let installed = ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond Ctrl-C: aborting");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: stopping after this step (last checkpoint, test split, summary); Ctrl-C again aborts");
    });
    // A handler set by the embedding program stays; the loop then simply never sees a request.
    let _ = installed;
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Asks for a stop as Ctrl-C does (for tests and embedders).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}
