//! File events for `trainc watch`. Editors save in two ways: in place (VS Code, nano) or by
//! writing a temporary file and renaming it over the original (Vim, Helix, JetBrains), which
//! detaches a watch set on the file itself. So the *parent directories* are watched and events
//! are filtered by canonical path. Events are grouped — a save is often several events — until
//! the directory has been quiet for [`QUIET`], at most [`CAP`] after the first one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use notify::event::{EventKind, ModifyKind};
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};

/// How long the files must be quiet before a change is acted on.
pub const QUIET: Duration = Duration::from_millis(120);
/// The longest a change waits for quiet.
pub const CAP: Duration = Duration::from_millis(500);

/// The watched files and the directory watches that see them.
pub struct Watched {
    watcher: RecommendedWatcher,
    dirs: BTreeSet<PathBuf>,
    /// Canonical paths.
    files: BTreeSet<PathBuf>,
    events: Receiver<notify::Result<Event>>,
}

/// A path's canonical form; for a file that does not exist (yet), its canonical directory and
/// its name.
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(dir.canonicalize().ok()?.join(path.file_name()?))
}

impl Watched {
    pub fn new() -> notify::Result<Watched> {
        let (tx, events): (Sender<notify::Result<Event>>, _) = channel();
        let watcher = notify::recommended_watcher(tx)?;
        Ok(Watched { watcher, dirs: BTreeSet::new(), files: BTreeSet::new(), events })
    }

    /// Watches exactly these files (the program's sources after the last check).
    pub fn set_files(&mut self, files: impl IntoIterator<Item = PathBuf>) -> notify::Result<()> {
        self.files = files.into_iter().filter_map(|f| canonical(&f)).collect();
        let wanted: BTreeSet<PathBuf> = self.files.iter().filter_map(|f| f.parent().map(Path::to_path_buf)).collect();
        for dir in wanted.difference(&self.dirs.clone()) {
            self.watcher.watch(dir, RecursiveMode::NonRecursive)?;
            self.dirs.insert(dir.clone());
        }
        for dir in self.dirs.clone().difference(&wanted) {
            // A directory that vanished has lost its watch already.
            let _ = self.watcher.unwatch(dir);
            self.dirs.remove(dir);
        }
        Ok(())
    }

    pub fn files(&self) -> &BTreeSet<PathBuf> {
        &self.files
    }

    /// Whether an event may have changed a watched file's contents.
    fn relevant(&self, event: &Event) -> bool {
        let kind = matches!(
            event.kind,
            EventKind::Any
                | EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any | ModifyKind::Other)
        );
        kind && event.paths.iter().any(|p| canonical(p).is_some_and(|c| self.files.contains(&c)))
    }

    /// Blocks until a watched file changed and the files have been quiet since (see [`QUIET`],
    /// [`CAP`]); returns when the first event came. `None` when the watcher stopped.
    pub fn next_change(&self) -> Option<Instant> {
        loop {
            match self.events.recv() {
                Ok(Ok(event)) if self.relevant(&event) => break,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        let first = Instant::now();
        let mut last = first;
        loop {
            let wait = QUIET.saturating_sub(last.elapsed()).min(CAP.saturating_sub(first.elapsed()));
            if wait.is_zero() {
                return Some(first);
            }
            match self.events.recv_timeout(wait) {
                Ok(Ok(event)) if self.relevant(&event) => last = Instant::now(),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Some(first),
            }
        }
    }
}
