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
    /// Exactly `len` bytes at `offset` (weights headers: a zip's central directory, a pickle);
    /// `UnexpectedEof` when the file is shorter.
    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// The size of a file in bytes.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
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

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0; len];
        file.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
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

    fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let bytes = self.files.get(path).ok_or_else(|| MemHost::not_found(path))?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len).and_then(|end| bytes.get(start..end)) {
            Some(slice) => Ok(slice.to_vec()),
            None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{} is shorter", path.display()))),
        }
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(self.files.get(path).ok_or_else(|| MemHost::not_found(path))?.len() as u64)
    }
}
