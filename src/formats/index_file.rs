//! `csv(path, images = …)` and `jsonl(path, images = …)`: an index of image paths with labels,
//! `path,label` rows (an optional header row starting with `path`) or `{"path": …, "label": …}`
//! lines. The classes are the distinct labels in sorted order; `run` labels each row by its
//! label's place in the checked list, or by the label as an id into it.

use std::collections::BTreeSet;

use super::Probe;
use crate::ir::{Call, DatasetSpec};

/// Which of the two index formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csv,
    Jsonl,
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "csv" => Some(Kind::Csv),
            "jsonl" => Some(Kind::Jsonl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Csv => "csv",
            Kind::Jsonl => "jsonl",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Kind::Csv => "each row is `path,label`",
            Kind::Jsonl => "each line is {\"path\": …, \"label\": …}",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub kind: Kind,
    /// The index file.
    pub path: String,
    /// The folder image paths are relative to; the index file's folder when not given.
    pub images: Option<String>,
}

impl Args {
    pub fn from_call(kind: Kind, call: &Call) -> Option<Args> {
        Some(Args { kind, path: call.word("path")?.into(), images: call.word("images").map(String::from) })
    }
}

/// One sample of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based, counting blank lines, for messages.
    pub line: usize,
    pub path: String,
    pub label: String,
}

/// A line that is not a sample: its number (1-based) and what it lacks (`label` or `path`).
#[derive(Debug, Clone, PartialEq)]
pub struct BadLine {
    pub line: usize,
    pub missing: &'static str,
}

/// Parses an index: its samples in file order, or the first line that is not one. Blank lines
/// and a CSV header row are skipped. A JSON label that is not a string (`3`) is taken as written.
pub fn rows(kind: Kind, text: &str) -> Result<Vec<Row>, BadLine> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (path, label) = match kind {
            Kind::Csv => {
                if i == 0 && line.to_ascii_lowercase().starts_with("path") {
                    continue;
                }
                match line.rsplit_once(',') {
                    Some((p, l)) => (Some(p.trim().to_string()), Some(l.trim().to_string())),
                    None => (None, None),
                }
            }
            Kind::Jsonl => {
                let value = serde_json::from_str::<serde_json::Value>(line).ok();
                let field = |key: &str| value.as_ref().and_then(|v| v.get(key).cloned());
                let label = field("label").map(|l| l.as_str().map(String::from).unwrap_or_else(|| l.to_string()));
                (field("path").and_then(|p| p.as_str().map(String::from)), label)
            }
        };
        match (path, label) {
            (Some(path), Some(label)) => out.push(Row { line: i + 1, path, label }),
            (_, None) => return Err(BadLine { line: i + 1, missing: "label" }),
            (None, Some(_)) => return Err(BadLine { line: i + 1, missing: "path" }),
        }
    }
    Ok(out)
}

/// The classes of an index: its distinct labels, sorted.
pub fn class_names(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|r| r.label.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}

/// A row's class index: its label's place in the checked list, or the label as an id into it.
pub fn class_index(classes: &[String], label: &str) -> Option<usize> {
    classes.iter().position(|c| c == label).or_else(|| label.parse().ok().filter(|n: &usize| *n < classes.len()))
}

/// The whole index is the `train` split.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let index = spec.base_dir.join(&args.path);
    let text = p.read_text(&index, p.arg(0))?;
    match rows(args.kind, &text) {
        Ok(rows) => {
            super::count_whole(spec, rows.len());
            Some(class_names(&rows))
        }
        Err(bad) => {
            p.format(
                format!("line {} of `{}` has no {}", bad.line, index.display(), bad.missing),
                args.kind.help(),
                p.arg(0),
            );
            None
        }
    }
}

#[cfg(feature = "train")]
pub use load::open;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::Path;

    use super::{Args, class_index, rows};
    use crate::data::DataError;
    use crate::data::source::Files;
    use crate::ir::DatasetSpec;

    /// The index's images, labelled by the checked class list.
    pub fn open(args: &Args, spec: &DatasetSpec) -> Result<Files, DataError> {
        let path = spec.base_dir.join(&args.path);
        let images = match &args.images {
            Some(images) => spec.base_dir.join(images),
            None => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let format = |message: String| DataError::Format { path: path.clone(), message };
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Io { path: path.clone(), source })?;
        let rows = rows(args.kind, &text).map_err(|bad| format(format!("line {} has no {}", bad.line, bad.missing)))?;
        let mut items = Vec::new();
        for row in rows {
            let Some(label) = class_index(&spec.classes, &row.label) else {
                return Err(format(format!("line {}: unknown class `{}`", row.line, row.label)));
            };
            items.push((images.join(&row.path), label));
        }
        Ok(Files::new(items, spec.channels))
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;
    use super::Kind;

    /// Writes three classes' images and an index listing them, not in class order.
    fn dataset(kind: Kind) -> (crate::scratch::Scratch, String) {
        let dir = testing::dir(kind.name());
        let names = ["ant", "bee", "wasp"];
        let mut lines = vec![if kind == Kind::Csv { "path,label".to_string() } else { String::new() }];
        for (i, k) in [2usize, 0, 1, 1, 2, 0].into_iter().enumerate() {
            let file = format!("img/{i}.png");
            testing::gray(&dir.join(&file), 40 * (k as u8 + 1), 8);
            lines.push(match kind {
                Kind::Csv => format!("{file},{}", names[k]),
                Kind::Jsonl => format!("{{\"path\": \"{file}\", \"label\": \"{}\"}}", names[k]),
            });
        }
        std::fs::write(dir.join("index"), lines.join("\n")).expect("write");
        let text = format!(
            "dataset d = {}(\"{}\") {{ channels = 1 }}\n{}",
            kind.name(),
            dir.join("index").display(),
            testing::CLASSIFY.replace("C, H, W", "1, 8, 8")
        );
        (dir, text)
    }

    fn agree(kind: Kind) {
        let names = ["ant", "bee", "wasp"];
        let (dir, text) = dataset(kind);
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, names);
        assert_eq!(spec.counts["train"], 6);
        let splits = testing::open(&spec);
        let train = splits["train"].as_ref();
        let drawn: Vec<&str> = testing::first_pixels(train).iter().map(|v| names[*v as usize / 40 - 1]).collect();
        assert_eq!(testing::loaded_names(&spec, train), drawn);
    }

    #[test]
    fn csv_check_and_run_agree_on_the_classes() {
        agree(Kind::Csv);
    }

    #[test]
    fn jsonl_check_and_run_agree_on_the_classes() {
        agree(Kind::Jsonl);
    }

    #[test]
    fn a_jsonl_line_without_a_path_is_a_check_error() {
        let dir = testing::dir("jsonl-no-path");
        std::fs::write(dir.join("index"), "{\"label\": \"ant\"}\n").expect("write");
        let (codes, report) = testing::codes(&dir, &format!("jsonl(\"{}\")", dir.join("index").display()));
        assert_eq!(codes, ["trainc::data::format"], "{report}");
        assert!(report.contains("line 1 of"), "{report}");
        assert!(report.contains("has no path"), "{report}");
    }
}
