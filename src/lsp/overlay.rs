//! The [`Host`] the server checks with: open documents' unsaved text first, the disk (or any
//! other host, in tests) for everything else.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::host::Host;

pub struct Overlay {
    /// Open documents by path, as the editor has them.
    pub docs: BTreeMap<PathBuf, String>,
    pub disk: Box<dyn Host>,
}

impl Host for Overlay {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        match self.docs.get(path) {
            Some(text) => Ok(text.clone()),
            None => self.disk.read_to_string(path),
        }
    }

    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        self.disk.read_head(path, max)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        self.disk.list_dir(path)
    }

    fn exists(&self, path: &Path) -> bool {
        self.docs.contains_key(path) || self.disk.exists(path)
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.disk.read_at(path, offset, len)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        self.disk.file_len(path)
    }
}
