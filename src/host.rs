//! How the front end sees the outside world. Parsing, resolving and checking read sources and
//! dataset headers only through [`Host`], so they run the same on disk, in memory (tests, the
//! fuzzer) and in watch mode. [`FsHost`] is the one place that touches the file system.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

pub trait Host {
    /// A whole text file (sources, COCO annotations, CSV/JSONL indexes).
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// At most `max` bytes from the start of a file (IDX headers).
    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>>;
    /// Entries of a directory as `(name, is_dir)`, sorted by name.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>>;
    fn exists(&self, path: &Path) -> bool;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsHost;

impl Host for FsHost {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut buf = Vec::with_capacity(max);
        std::fs::File::open(path)?.take(max as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            out.push((entry.file_name().to_string_lossy().into_owned(), entry.file_type()?.is_dir()));
        }
        out.sort();
        Ok(out)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// An in-memory file system for tests and fuzzing. Directories exist implicitly.
#[derive(Clone, Debug, Default)]
pub struct MemHost {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemHost {
    pub fn new() -> MemHost {
        MemHost::default()
    }

    pub fn with(mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) -> MemHost {
        self.files.insert(path.into(), contents.into());
        self
    }

    fn not_found(path: &Path) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
    }
}

impl Host for MemHost {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let bytes = self.files.get(path).ok_or_else(|| MemHost::not_found(path))?;
        String::from_utf8(bytes.clone()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        let bytes = self.files.get(path).ok_or_else(|| MemHost::not_found(path))?;
        Ok(bytes[..bytes.len().min(max)].to_vec())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let mut out: Vec<(String, bool)> = Vec::new();
        for file in self.files.keys() {
            if let Ok(rest) = file.strip_prefix(path) {
                let mut parts = rest.components();
                if let Some(first) = parts.next() {
                    let entry = (first.as_os_str().to_string_lossy().into_owned(), parts.next().is_some());
                    if !out.contains(&entry) {
                        out.push(entry);
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(MemHost::not_found(path));
        }
        out.sort();
        Ok(out)
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.keys().any(|f| f.starts_with(path))
    }
}
