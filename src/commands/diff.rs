//! `trainc diff RUN_A RUN_B`: what differs between two runs — the resolved specs
//! (`spec.json`, leaf by leaf, and whether the sources differ), the data (`data_manifest.json`:
//! files added, removed or changed), the versions and device (`run.json`) and the final metrics.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use trainc::watch::diff::{diff_values, show};

use super::CommandError;
use super::runs::{final_metrics, read_json};

/// Changed data files listed at most.
const LISTED: usize = 20;

pub fn diff(a: &Path, b: &Path) -> Result<ExitCode, CommandError> {
    for dir in [a, b] {
        if !dir.join("run.json").is_file() {
            return Err(CommandError::NotARun { dir: dir.to_path_buf() });
        }
    }
    println!("A: {}\nB: {}", a.display(), b.display());
    print!("{}", spec_section(a, b));
    print!("{}", data_section(a, b));
    print!("{}", versions_section(a, b));
    print!("{}", metrics_section(a, b));
    Ok(ExitCode::SUCCESS)
}

fn spec_section(a: &Path, b: &Path) -> String {
    let (sa, sb) = (read_json(&a.join("spec.json")), read_json(&b.join("spec.json")));
    let mut changes = Vec::new();
    diff_values("", &sa, &sb, &mut changes);
    let mut out = match changes.len() {
        0 => "\nspec: same\n".to_string(),
        n => format!("\nspec: {n} difference(s)\n"),
    };
    for (path, x, y) in &changes {
        out.push_str(&format!("  {path}: {} → {}\n", show(x), show(y)));
    }
    let text = |d: &Path| std::fs::read_to_string(d.join("sources.train")).unwrap_or_default();
    let (ta, tb) = (text(a), text(b));
    if ta != tb {
        let differing = ta.lines().zip(tb.lines()).filter(|(x, y)| x != y).count()
            + ta.lines().count().abs_diff(tb.lines().count());
        out.push_str(&format!("  sources.train: {differing} line(s) differ (profile, overrides or files)\n"));
    }
    out
}

/// Files by path: `(size, sha256)`.
fn files(manifest: &Value) -> BTreeMap<String, (u64, String)> {
    manifest["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some((f["path"].as_str()?.to_string(), (f["size"].as_u64()?, f["sha256"].as_str()?.to_string())))
        })
        .collect()
}

fn data_section(a: &Path, b: &Path) -> String {
    let (ma, mb) = (read_json(&a.join("data_manifest.json")), read_json(&b.join("data_manifest.json")));
    if ma.is_null() || mb.is_null() {
        return "\ndata: no data_manifest.json in one of the runs (written by trainc since 0.1: run start)\n".into();
    }
    let (fa, fb) = (files(&ma), files(&mb));
    if ma["sha256"] == mb["sha256"] {
        let bytes = ma["bytes"].as_u64().unwrap_or(0);
        return format!("\ndata: same ({} files, {} bytes, sha256 {})\n", fa.len(), bytes, show(&ma["sha256"]));
    }
    let mut lines = Vec::new();
    for (path, (size, hash)) in &fa {
        match fb.get(path) {
            None => lines.push(format!("  only in A: {path} ({size} B)")),
            Some((size_b, hash_b)) if hash_b != hash => lines.push(format!(
                "  changed: {path} ({size} B → {size_b} B, sha256 {}… → {}…)",
                &hash[..12],
                &hash_b[..12.min(hash_b.len())]
            )),
            Some(_) => {}
        }
    }
    lines
        .extend(fb.iter().filter(|(p, _)| !fa.contains_key(*p)).map(|(p, (s, _))| format!("  only in B: {p} ({s} B)")));
    let mut out = format!("\ndata: {} file(s) differ\n", lines.len());
    let more = lines.len().saturating_sub(LISTED);
    for l in lines.into_iter().take(LISTED) {
        out.push_str(&l);
        out.push('\n');
    }
    if more > 0 {
        out.push_str(&format!("  … and {more} more\n"));
    }
    out
}

fn versions_section(a: &Path, b: &Path) -> String {
    let (ra, rb) = (read_json(&a.join("run.json")), read_json(&b.join("run.json")));
    let keys = ["trainc", "burn", "device", "seed"];
    let differ: Vec<String> = keys
        .iter()
        .filter(|k| ra[**k] != rb[**k])
        .map(|k| format!("  {k}: {} → {}\n", show(&ra[*k]), show(&rb[*k])))
        .collect();
    if differ.is_empty() {
        let same: Vec<String> = keys.iter().map(|k| format!("{k} {}", show(&ra[*k]))).collect();
        return format!("\nversions: same ({})\n", same.join(", "));
    }
    format!("\nversions: {} difference(s)\n{}", differ.len(), differ.concat())
}

fn metrics_section(a: &Path, b: &Path) -> String {
    let ((ma, done_a), (mb, done_b)) = (final_metrics(a), final_metrics(b));
    let note = |done: bool| if done { "" } else { " (not finished: last epoch)" };
    let mut out = format!("\nfinal metrics: A{} B{}\n", note(done_a), note(done_b));
    let keys: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for k in keys {
        let cell = |m: &BTreeMap<String, f64>| m.get(k).map_or("-".to_string(), |v| format!("{v:.4}"));
        let delta = match (ma.get(k), mb.get(k)) {
            (Some(x), Some(y)) => format!("{:+.4}", y - x),
            _ => String::new(),
        };
        out.push_str(&format!("  {k:<width$}  {:>10}  {:>10}  {delta}\n", cell(&ma), cell(&mb)));
    }
    out
}
