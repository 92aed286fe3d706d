//! `data_manifest.json`, written when a run starts: every file under the paths the dataset's
//! source names (its own splits' too), with its size and SHA-256, and one hash over the whole
//! list — so "did these two runs see the same data?" (`trainc diff`) has an answer.
//!
//! Cost: hashing reads every byte once. SHA-256 runs at about 1.5 GB/s per core with the SHA
//! extensions (`sha2` detects them) and the files are hashed on every core, so Fashion-MNIST
//! (4 files, 30 MB) takes about 30 ms. A big folder is read once: each hash is cached by path,
//! size and modification time (nanoseconds) in `$TRAINC_CACHE_DIR` or `$XDG_CACHE_HOME/trainc`
//! or `~/.cache/trainc` (`hashes.json`), so later runs only list the files and `stat` them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ir::{DatasetSpec, SplitSource};

/// One data file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the folder of the `.train` file that declared the dataset when inside it,
    /// otherwise absolute.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What `data_manifest.json` holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub dataset: String,
    /// The paths the source names, resolved.
    pub roots: Vec<String>,
    /// SHA-256 over every file's path, size and hash, in order: equal exactly when the data is.
    pub sha256: String,
    pub files: Vec<FileEntry>,
    pub bytes: u64,
    /// Files whose hash came from the cache, and the seconds the manifest took.
    pub cached: usize,
    pub seconds: f64,
}

/// The paths a dataset's sources name, resolved against the declaring file's folder.
pub fn roots(spec: &DatasetSpec) -> Vec<PathBuf> {
    let own = spec.splits.values().filter_map(|s| if let SplitSource::Own(src) = s { Some(src) } else { None });
    let mut out: Vec<PathBuf> = std::iter::once(&spec.source)
        .chain(own)
        .flat_map(|src| src.to_call().args.into_values())
        .filter_map(|v| match v {
            crate::ir::Value::Str(s) | crate::ir::Value::Word(s) if !s.is_empty() => Some(spec.base_dir.join(s)),
            _ => None,
        })
        .filter(|p| p.exists())
        .collect();
    out.sort();
    out.dedup();
    // A root inside another is listed by it.
    let all = out.clone();
    out.retain(|p| !all.iter().any(|q| q != p && p.starts_with(q)));
    out
}

/// Every file under `root` (itself when it is a file), sorted; hidden files and folders skipped.
fn files_under(root: &Path, out: &mut Vec<PathBuf>) {
    if root.is_file() {
        out.push(root.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        files_under(&p, out);
    }
}

/// The cache of hashes: `path → (size, mtime in ns, sha256)`.
type Cache = BTreeMap<String, (u64, u128, String)>;

fn cache_file() -> Option<PathBuf> {
    let dir = std::env::var_os("TRAINC_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("trainc")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/trainc")))?;
    Some(dir.join("hashes.json"))
}

fn read_cache(path: Option<&Path>) -> Cache {
    path.and_then(|p| std::fs::read(p).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Saves the cache merged with what is on disk now (another run may have added to it); a
/// temporary file named after this process keeps concurrent runs from mixing their writes.
fn write_cache(path: &Path, fresh: Cache) {
    let mut cache = read_cache(Some(path));
    cache.extend(fresh);
    let Some(dir) = path.parent() else { return };
    let tmp = dir.join(format!("hashes.{}.tmp", std::process::id()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, serde_json::to_vec(&cache).unwrap_or_default()))
        .and_then(|()| std::fs::rename(&tmp, path));
    // The cache only saves time: a read-only home still gets its manifest.
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// SHA-256 of a file, hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(format!("{:x}", hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// A file's size, modification time and hash: from the cache when size and time match.
fn entry(path: &Path, cache: &Cache) -> std::io::Result<(u64, u128, String, bool)> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta.modified()?.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let key = path.to_string_lossy();
    if let Some((size, time, hash)) = cache.get(key.as_ref())
        && *size == meta.len()
        && *time == mtime
    {
        return Ok((meta.len(), mtime, hash.clone(), true));
    }
    Ok((meta.len(), mtime, hash_file(path)?, false))
}

/// Hashes `files` on every core; the results in the files' order.
fn hash_all(files: &[PathBuf], cache: &Cache) -> Vec<std::io::Result<(u64, u128, String, bool)>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<_>>> = files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let r = entry(path, cache);
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().unwrap_or_else(|| Err(std::io::Error::other("not hashed"))))
        .collect()
}

/// The manifest of a dataset's files.
pub fn build(spec: &DatasetSpec) -> std::io::Result<Manifest> {
    let started = Instant::now();
    let roots = roots(spec);
    let mut files = Vec::new();
    for root in &roots {
        files_under(root, &mut files);
    }
    let cache_path = cache_file();
    let cache = read_cache(cache_path.as_deref());
    let mut manifest = Manifest { dataset: spec.name.clone(), ..Manifest::default() };
    let mut fresh = Cache::new();
    let mut all = Sha256::new();
    for (path, result) in files.iter().zip(hash_all(&files, &cache)) {
        let (size, mtime, sha256, hit) = result?;
        let shown = path.strip_prefix(&spec.base_dir).unwrap_or(path).to_string_lossy().into_owned();
        all.update(format!("{shown}\0{size}\0{sha256}\n").as_bytes());
        manifest.cached += usize::from(hit);
        manifest.bytes += size;
        if !hit {
            fresh.insert(path.to_string_lossy().into_owned(), (size, mtime, sha256.clone()));
        }
        manifest.files.push(FileEntry { path: shown, size, sha256 });
    }
    if let (Some(path), false) = (&cache_path, fresh.is_empty()) {
        write_cache(path, fresh);
    }
    manifest.roots = roots.iter().map(|r| r.to_string_lossy().into_owned()).collect();
    manifest.sha256 = format!("{:x}", all.finalize());
    manifest.seconds = started.elapsed().as_secs_f64();
    Ok(manifest)
}

/// Builds the manifest and writes `<run>/data_manifest.json`.
pub fn write(run: &Path, spec: &DatasetSpec) -> std::io::Result<Manifest> {
    let manifest = build(spec)?;
    let json = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    super::rundir::write_atomic(&run.join("data_manifest.json"), json.as_bytes())?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_hashed_and_cached_by_size_and_time() {
        let dir = crate::scratch::scratch("manifest");
        std::fs::create_dir_all(dir.join("sub")).expect("dir");
        std::fs::write(dir.join("sub/a.bin"), b"abc").expect("write");
        std::fs::write(dir.join(".hidden"), b"x").expect("write");
        let mut files = Vec::new();
        files_under(&dir, &mut files);
        assert_eq!(files, vec![dir.join("sub/a.bin")]);
        let sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let (size, mtime, hash, hit) = entry(&files[0], &Cache::new()).expect("hashed");
        assert_eq!((size, hash.as_str(), hit), (3, sha_abc, false));
        let cache = Cache::from([(files[0].to_string_lossy().into_owned(), (3, mtime, "cached".to_string()))]);
        assert_eq!(entry(&files[0], &cache).expect("hit").2, "cached");
        let stale = Cache::from([(files[0].to_string_lossy().into_owned(), (3, mtime + 1, "cached".to_string()))]);
        assert_eq!(entry(&files[0], &stale).expect("miss").2, sha_abc);
    }
}
