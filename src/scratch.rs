//! [`Scratch`]: a test's own temporary directory, removed when the test ends (pass or fail).
//! Unit tests and the integration tests (`tests/common`) share it: a training test leaves up to
//! 700 MB of checkpoints, and directories that outlived their tests once filled CI's disk.

use std::path::{Path, PathBuf};

/// A directory under the system temp dir, emptied when made and removed on drop;
/// `TRAINC_KEEP_TEST_DIRS=1` keeps it to look at.
#[derive(Debug)]
pub struct Scratch(PathBuf);

/// A fresh `Scratch` named `trainc-{name}-{pid}`.
pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("trainc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    Scratch(dir)
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("TRAINC_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
