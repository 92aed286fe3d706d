//! The program as it was checked: [`SourceHost`] reads through to the disk and remembers every
//! `.train` file the front end read, so `watch` knows which files to watch, can hash exactly what
//! it checked, and can keep each applied version (`specs/<n>.sources.json`). Given saved
//! sources, it serves those instead of the disk: a resumed run re-checks the last applied
//! version even when the file has changed since.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::host::{FsHost, Host};

/// Source texts by path.
pub type Sources = BTreeMap<PathBuf, String>;

#[derive(Default)]
pub struct SourceHost {
    /// Served instead of the disk.
    pub saved: Sources,
    read: Mutex<Sources>,
}

impl SourceHost {
    pub fn with_saved(saved: Sources) -> SourceHost {
        SourceHost { saved, read: Mutex::default() }
    }

    /// The `.train` files read so far, with their text.
    pub fn sources(&self) -> Sources {
        self.read.lock().map(|r| r.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }
}

impl Host for SourceHost {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        // Keyed by canonical path, like the watcher's files.
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let text = match self.saved.get(&key) {
            Some(text) => text.clone(),
            None => FsHost.read_to_string(path)?,
        };
        if path.extension().is_some_and(|e| e == "train") {
            let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
            read.insert(key, text.clone());
        }
        Ok(text)
    }

    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        FsHost.read_head(path, max)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        FsHost.list_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        FsHost.exists(path)
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        FsHost.read_at(path, offset, len)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        FsHost.file_len(path)
    }
}

/// One hash over every source (path and text), to tell a real change from a save that changed
/// nothing.
pub fn hash(sources: &Sources) -> String {
    let mut h = Sha256::new();
    for (path, text) in sources {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())
}

/// The current contents of `files` on disk (a file that cannot be read counts as empty: the
/// check will report it).
pub fn read_now(files: impl IntoIterator<Item = PathBuf>) -> Sources {
    files.into_iter().map(|f| (f.clone(), std::fs::read_to_string(&f).unwrap_or_default())).collect()
}
