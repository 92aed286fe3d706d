//! The run directory: `runs/<name>/<timestamp>/` with the resolved spec and its hash, versions,
//! `metrics.csv`, TensorBoard events, checkpoints and `summary.json`. Files that a crash must not
//! leave half-written go through a temporary file and a rename.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a fresh run directory and writes the spec, its hash and the versions.
    pub fn create(
        root: &Path,
        name: &str,
        spec_json: &str,
        sources: &str,
        seed: u64,
        device: &str,
    ) -> std::io::Result<RunDir> {
        let mut path = root.join(name).join(timestamp());
        let mut n = 1;
        while path.exists() {
            path = root.join(name).join(format!("{}-{n}", timestamp()));
            n += 1;
        }
        std::fs::create_dir_all(path.join("checkpoints"))?;
        let dir = RunDir { path };
        write_atomic(&dir.path.join("spec.json"), spec_json.as_bytes())?;
        write_atomic(&dir.path.join("sources.train"), sources.as_bytes())?;
        let hash = format!("{:x}", Sha256::digest(spec_json.as_bytes()));
        write_atomic(&dir.path.join("spec.sha256"), format!("{hash}  spec.json\n").as_bytes())?;
        let run = serde_json::json!({
            "seed": seed,
            "device": device,
            "spec_sha256": hash,
            "trainc": env!("CARGO_PKG_VERSION"),
            "burn": "0.22.1",
            "command": std::env::args().collect::<Vec<_>>(),
            "started": timestamp(),
        });
        write_atomic(&dir.path.join("run.json"), serde_json::to_string_pretty(&run).unwrap_or_default().as_bytes())?;
        Ok(dir)
    }

    pub fn open(path: &Path) -> RunDir {
        RunDir { path: path.to_path_buf() }
    }

    pub fn checkpoint(&self, name: &str) -> PathBuf {
        self.path.join("checkpoints").join(name)
    }

    /// Drops rows of epochs after `epochs_done`: a run killed between logging an epoch and saving
    /// its state logs that epoch again when resumed.
    pub fn truncate_metrics(&self, epochs_done: usize) -> std::io::Result<()> {
        let path = self.path.join("metrics.csv");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                *i == 0 || l.split(',').next().and_then(|e| e.parse::<usize>().ok()).is_some_and(|e| e <= epochs_done)
            })
            .map(|(_, l)| l)
            .collect();
        write_atomic(&path, format!("{}\n", kept.join("\n")).as_bytes())
    }

    /// Appends a row to `metrics.csv`, writing the header first if the file is new.
    pub fn append_metrics(&self, header: &[String], row: &[String]) -> std::io::Result<()> {
        let path = self.path.join("metrics.csv");
        let fresh = !path.exists();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        if fresh {
            writeln!(f, "{}", header.join(","))?;
        }
        writeln!(f, "{}", row.join(","))
    }
}
