//! `yolo(path)`: YOLO txt labels, as Ultralytics lays them out. `path` is a `data.yaml` or a
//! folder holding one; a folder without it holds `images/` and `labels/` (split sub-folders
//! such as `images/train/`, or the images themselves) and a `classes.txt`, one name a line.
//!
//! - `data.yaml` (the subset of YAML it uses): `path` (the root, relative to the file), `train`,
//!   `val` and `test` (image folders under the root) and `names` (`[a, b]`, a `- a` list or a
//!   `0: a` map), optionally `nc`. A stored split `val = "val"` reads the `val` entry.
//! - Each image `…/images/<split>/x.jpg` has its labels in `…/labels/<split>/x.txt`: one box a
//!   line, `class cx cy w h` normalised to the image (a segment line, `class x1 y1 x2 y2 …`,
//!   gives its polygon's bounding box). An image without a label file is a negative.
//! - The classes are `names` in order; a class id is an index into them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Probe;
use crate::host::Host;
use crate::ir::{Call, DatasetSpec};

pub const NAME: &str = "yolo";

/// The image files a split folder's listing takes.
const IMAGES: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// A `data.yaml`, or a folder holding one (or `images/`, `labels/` and `classes.txt`).
    pub path: String,
}

impl Args {
    pub fn from_call(call: &Call) -> Option<Args> {
        Some(Args { path: call.word("path")?.into() })
    }
}

/// What a `data.yaml` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataYaml {
    pub path: Option<String>,
    /// `train`, `val`, `test`: image folders relative to the root.
    pub splits: BTreeMap<String, String>,
    pub names: Vec<String>,
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    let quoted = v.len() >= 2 && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''));
    if quoted { v[1..v.len() - 1].to_string() } else { v.to_string() }
}

/// A line without its comment (a `#` at the start or after a space).
fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None if line.trim_start().starts_with('#') => "",
        None => line,
    }
}

/// Class names from `0: a` pairs, which must number 0, 1, … in some order.
fn numbered(pairs: Vec<(String, String)>) -> Result<Vec<String>, String> {
    let mut by_id = BTreeMap::new();
    for (k, v) in pairs {
        let id: usize = k.trim().parse().map_err(|_| format!("`names` key `{k}` is not a class id"))?;
        by_id.insert(id, unquote(&v));
    }
    if by_id.keys().enumerate().any(|(i, k)| i != *k) {
        return Err("`names` ids must be 0, 1, 2, … without gaps".into());
    }
    Ok(by_id.into_values().collect())
}

/// Parses the YAML subset of a `data.yaml`: top-level `key: value` lines, `names` as a flow
/// list, a flow map, or an indented block of `- name` or `id: name` lines.
pub fn parse_yaml(text: &str) -> Result<DataYaml, String> {
    let mut out = DataYaml::default();
    let (mut block, mut pairs, mut in_names) = (Vec::new(), Vec::new(), false);
    let mut nc = None;
    for raw in text.lines() {
        let line = strip_comment(raw);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t', '-']) && in_names {
            let item = line.trim();
            match item.strip_prefix('-') {
                Some(name) => block.push(unquote(name)),
                None => match item.split_once(':') {
                    Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                    None => return Err(format!("`{item}` under `names` is neither `- name` nor `id: name`")),
                },
            }
            continue;
        }
        in_names = false;
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("`{}` is not a `key: value` line", line.trim()));
        };
        let value = value.trim();
        match key.trim() {
            "names" if value.is_empty() => in_names = true,
            "names" if value.starts_with('[') => {
                let inner = value.trim_start_matches('[').trim_end_matches(']');
                block = inner.split(',').map(unquote).filter(|n| !n.is_empty()).collect();
            }
            "names" if value.starts_with('{') => {
                let inner = value.trim_start_matches('{').trim_end_matches('}');
                for pair in inner.split(',').filter(|p| !p.trim().is_empty()) {
                    let (k, v) = pair.split_once(':').ok_or(format!("`{pair}` in `names` is not `id: name`"))?;
                    pairs.push((k.to_string(), v.to_string()));
                }
            }
            "names" => return Err("`names` must be a list or a map of class names".into()),
            "nc" => nc = value.parse::<usize>().ok(),
            "path" => out.path = Some(unquote(value)),
            split @ ("train" | "val" | "test") if value.starts_with('[') => {
                return Err(format!("`{split}` lists several folders; name one folder"));
            }
            split @ ("train" | "val" | "test") if !value.is_empty() => {
                out.splits.insert(split.to_string(), unquote(value));
            }
            _ => {}
        }
    }
    out.names = if pairs.is_empty() { block } else { numbered(pairs)? };
    if out.names.is_empty() {
        return Err("it has no `names`".into());
    }
    if let Some(nc) = nc.filter(|n| *n != out.names.len()) {
        return Err(format!("`nc` is {nc} but `names` has {} names", out.names.len()));
    }
    Ok(out)
}

/// Where a YOLO dataset's parts are: its root, the image folder of each split (relative to the
/// root), its class names, and the file they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub root: PathBuf,
    pub splits: BTreeMap<String, String>,
    pub names: Vec<String>,
    pub names_file: PathBuf,
}

/// Why a layout could not be read: a file or folder missing, or a file's content.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutError {
    Missing(PathBuf),
    Format(PathBuf, String),
}

/// Reads the layout through `host` (a `data.yaml`, or a folder; see the module doc).
pub fn layout(host: &dyn Host, path: &Path) -> Result<Layout, LayoutError> {
    let is_dir = host.list_dir(path).is_ok();
    let yaml = if is_dir { path.join("data.yaml") } else { path.to_path_buf() };
    if !is_dir || host.exists(&yaml) {
        let text = host.read_to_string(&yaml).map_err(|_| LayoutError::Missing(yaml.clone()))?;
        let data = parse_yaml(&text).map_err(|m| LayoutError::Format(yaml.clone(), m))?;
        let folder = yaml.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = data.path.as_ref().map_or(folder.clone(), |p| folder.join(p));
        return Ok(Layout { root, splits: data.splits, names: data.names, names_file: yaml });
    }
    let names_file = path.join("classes.txt");
    let text = host.read_to_string(&names_file).map_err(|_| LayoutError::Missing(names_file.clone()))?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    let images = path.join("images");
    let entries = host.list_dir(&images).map_err(|_| LayoutError::Missing(images))?;
    let mut splits: BTreeMap<String, String> =
        entries.into_iter().filter(|(_, dir)| *dir).map(|(n, _)| (n.clone(), format!("images/{n}"))).collect();
    if splits.is_empty() {
        splits.insert("train".into(), "images".into());
    }
    Ok(Layout { root: path.to_path_buf(), splits, names, names_file })
}

/// The label folder of an image folder: its last `images` component replaced by `labels`
/// (Ultralytics' rule), else the image folder itself.
pub fn labels_dir(images: &Path) -> PathBuf {
    let parts: Vec<_> = images.components().collect();
    match parts.iter().rposition(|c| c.as_os_str() == "images") {
        Some(i) => parts
            .iter()
            .enumerate()
            .map(|(k, c)| if k == i { std::ffi::OsStr::new("labels") } else { c.as_os_str() })
            .collect(),
        None => images.to_path_buf(),
    }
}

/// The image files of a split folder (sorted, as `list_dir` gives them).
pub fn image_files(entries: Vec<(String, bool)>) -> Vec<String> {
    let image = |n: &str| {
        Path::new(n)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGES.contains(&e.to_ascii_lowercase().as_str()))
    };
    entries.into_iter().filter(|(n, dir)| !dir && image(n)).map(|(n, _)| n).collect()
}

/// The label file of an image file.
pub fn label_name(image: &str) -> String {
    let stem = Path::new(image).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{stem}.txt")
}

/// One label line: the class id and the box `(x0, y0, x1, y1)`, normalised to the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    pub class: usize,
    pub bbox: (f32, f32, f32, f32),
}

/// Parses a label file; the error is the first bad line's number (from 1) and why.
pub fn parse_labels(text: &str) -> Result<Vec<Label>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let class = words[0].parse::<usize>().map_err(|_| (i + 1, format!("`{}` is not a class id", words[0])))?;
        let numbers: Vec<f32> = words[1..]
            .iter()
            .map(|w| w.parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| (i + 1, "a coordinate is not a number".to_string()))?;
        let bbox = match numbers.as_slice() {
            [cx, cy, w, h] => (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
            // A segment: the polygon's bounding box.
            points if points.len() >= 6 && points.len() % 2 == 0 => {
                let xs = points.iter().step_by(2);
                let ys = points.iter().skip(1).step_by(2);
                let (min, max) = (|v: f32, m: f32| v.min(m), |v: f32, m: f32| v.max(m));
                (
                    xs.clone().copied().fold(f32::MAX, min),
                    ys.clone().copied().fold(f32::MAX, min),
                    xs.copied().fold(f32::MIN, max),
                    ys.copied().fold(f32::MIN, max),
                )
            }
            _ => return Err((i + 1, format!("has {} numbers, not `class cx cy w h`", words.len()))),
        };
        out.push(Label { class, bbox });
    }
    Ok(out)
}

/// Reads the layout and every stored split's label files (never an image): counts images,
/// reports class ids past `names`, label files without their image, and bad lines.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let path = spec.base_dir.join(&args.path);
    let layout = match layout(p.host, &path) {
        Ok(layout) => layout,
        Err(LayoutError::Missing(file)) => {
            p.missing(&file, p.arg(0));
            return None;
        }
        Err(LayoutError::Format(file, message)) => {
            let help = "`data.yaml` gives `path`, `train`, `val`, `test` and `names: [a, b, …]`";
            p.format(format!("`{}`: {message}", file.display()), help, p.arg(0));
            return None;
        }
    };
    for (split, stored) in spec.stored_splits() {
        let at = p.split(&split);
        let Some(folder) = layout.splits.get(&stored) else {
            let known: Vec<&str> = layout.splits.keys().map(String::as_str).collect();
            p.format(
                format!("`{}` has no `{stored}` split", layout.names_file.display()),
                format!("its splits are: {}", known.join(", ")),
                at,
            );
            continue;
        };
        let images = layout.root.join(folder);
        let Ok(entries) = p.host.list_dir(&images) else {
            p.missing(&images, at);
            continue;
        };
        let files = image_files(entries);
        spec.counts.insert(split, files.len());
        check_labels(p, &images, &files, layout.names.len(), at);
    }
    Some(layout.names)
}

/// Reports the label files of a split folder whose class ids are past the names or whose
/// lines are not labels, and those without an image.
fn check_labels(p: &mut Probe, images: &Path, files: &[String], classes: usize, at: crate::syntax::span::Span) {
    let labels = labels_dir(images);
    let Ok(entries) = p.host.list_dir(&labels) else { return };
    let stems: std::collections::HashSet<String> = files.iter().map(|f| label_name(f)).collect();
    let (mut orphans, mut outside) = (Vec::new(), Vec::new());
    for (name, _) in entries.iter().filter(|(n, dir)| !dir && n.ends_with(".txt")) {
        if !stems.contains(name) {
            orphans.push(name.clone());
            continue;
        }
        let file = labels.join(name);
        let Ok(text) = p.host.read_to_string(&file) else { continue };
        match parse_labels(&text) {
            Ok(found) => outside.extend(
                found.iter().filter(|l| l.class >= classes).map(|l| format!("{}: class {}", file.display(), l.class)),
            ),
            Err((line, message)) => {
                p.format(
                    format!("line {line} of `{}` {message}", file.display()),
                    "each line is `class cx cy w h`, normalised to 0–1",
                    at,
                );
                return;
            }
        }
    }
    if let Some(first) = outside.first() {
        let message = format!("{} label(s) name a class id past the {classes} names (first: `{first}`)", outside.len());
        p.label(message, "add the class to `names`, or fix the ids (they count from 0)", at);
    }
    if let Some(first) = orphans.first() {
        let message = format!(
            "{} label file(s) in `{}` have no image in `{}` (first: `{first}`)",
            orphans.len(),
            labels.display(),
            images.display()
        );
        p.label(message, "add the images, or remove their label files", at);
    }
}

#[cfg(feature = "train")]
pub use load::Yolo;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::{Path, PathBuf};

    use super::{Label, LayoutError, image_files, label_name, labels_dir, layout, parse_labels};
    use crate::data::source::decode;
    use crate::data::{BoxLabel, DataError, Image, Source};
    use crate::host::{FsHost, Host};

    /// YOLO detection: images with their normalised labels, scaled to pixels when asked for.
    pub struct Yolo {
        items: Vec<(PathBuf, Vec<Label>)>,
        channels: usize,
    }

    impl Yolo {
        pub fn open(path: &Path, stored: &str, classes: &[String], channels: usize) -> Result<Yolo, DataError> {
            let layout = layout(&FsHost, path).map_err(|e| match e {
                LayoutError::Missing(path) => DataError::Format { path, message: "is missing".into() },
                LayoutError::Format(path, message) => DataError::Format { path, message },
            })?;
            let folder = layout.splits.get(stored).ok_or_else(|| DataError::Format {
                path: layout.names_file.clone(),
                message: format!("has no `{stored}` split"),
            })?;
            let images = layout.root.join(folder);
            let entries = FsHost.list_dir(&images).map_err(|source| DataError::Io { path: images.clone(), source })?;
            let labels = labels_dir(&images);
            let mut items = Vec::new();
            for file in image_files(entries) {
                let label = labels.join(label_name(&file));
                let boxes = match std::fs::read_to_string(&label) {
                    Ok(text) => parse_labels(&text).map_err(|(line, message)| DataError::Format {
                        path: label.clone(),
                        message: format!("line {line} {message}"),
                    })?,
                    Err(_) => Vec::new(),
                };
                if let Some(bad) = boxes.iter().find(|b| b.class >= classes.len()) {
                    return Err(DataError::Format {
                        path: label,
                        message: format!("has class id {}, but there are {} classes", bad.class, classes.len()),
                    });
                }
                items.push((images.join(file), boxes));
            }
            Ok(Yolo { items, channels })
        }
    }

    impl Source for Yolo {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn label(&self, index: usize) -> usize {
            self.items[index].1.first().map_or(0, |b| b.class)
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            decode(&self.items[index].0, self.channels)
        }
        /// Boxes in pixels of the image, whose size its header gives; an unreadable image has
        /// none here, and `image` reports it.
        fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
            let (path, labels) = &self.items[index];
            let (w, h) = image::image_dimensions(path).map_or((0.0, 0.0), |(w, h)| (w as f32, h as f32));
            Some(
                labels
                    .iter()
                    .map(|l| {
                        let (x0, y0, x1, y1) = l.bbox;
                        let clip = |v: f32, m: f32| (v * m).clamp(0.0, m);
                        BoxLabel {
                            class: l.class,
                            x0: clip(x0, w),
                            y0: clip(y0, h),
                            x1: clip(x1, w),
                            y1: clip(y1, h),
                            ..Default::default()
                        }
                    })
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn data_yaml_names_come_as_lists_maps_and_blocks() {
        let flow = parse_yaml(
            "path: ../coco8  # root\ntrain: images/train\nval: images/val\nnc: 2\nnames: ['person', \"bicycle\"]\n",
        );
        let flow = flow.expect("parses");
        assert_eq!(flow.names, ["person", "bicycle"]);
        assert_eq!(flow.path.as_deref(), Some("../coco8"));
        assert_eq!(flow.splits["val"], "images/val");
        let map = parse_yaml("train: a\nnames:\n  1: bicycle\n  0: person\n").expect("parses");
        assert_eq!(map.names, ["person", "bicycle"]);
        let list = parse_yaml("# comment\nnames:\n- cat\n- dog\ntest: t\n").expect("parses");
        assert_eq!((list.names.len(), list.splits["test"].as_str()), (2, "t"));
        assert!(parse_yaml("names: [a]\nnc: 3\n").is_err());
        assert!(parse_yaml("names:\n  0: a\n  2: b\n").is_err());
    }

    #[test]
    fn label_lines_are_boxes_or_segments() {
        let labels = parse_labels("0 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.3 0.1 0.2 0.5\n").expect("parses");
        assert_eq!(labels[0], Label { class: 0, bbox: (0.4, 0.3, 0.6, 0.7) });
        assert_eq!(labels[1], Label { class: 2, bbox: (0.1, 0.1, 0.3, 0.5) });
        assert_eq!(parse_labels("0 0.5 0.5\n").map_err(|e| e.0), Err(1));
        assert_eq!(labels_dir(Path::new("/d/images/train")), Path::new("/d/labels/train"));
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    /// An Ultralytics layout: `data.yaml` with a `names` map, `images/{train,val}`, labels with
    /// a segment line, and a negative image without a label file.
    pub fn write(dir: &std::path::Path) {
        std::fs::write(
            dir.join("data.yaml"),
            "# shapes\npath: .\ntrain: images/train\nval: images/val\nnames:\n  0: square\n  1: disc\n",
        )
        .expect("write");
        let samples = [
            ("train", 0, Some("0 0.5 0.5 0.5 0.5")),
            ("train", 1, Some("1 0.25 0.25 0.75 0.25 0.5 0.75")),
            ("train", 2, None),
            ("val", 0, Some("1 0.5 0.5 0.25 0.25")),
        ];
        for (i, (split, gray, label)) in samples.iter().enumerate() {
            testing::gray(&dir.join(format!("images/{split}/{i}.png")), 40 * (gray + 1), 16);
            if let Some(label) = label {
                std::fs::create_dir_all(dir.join(format!("labels/{split}"))).expect("dir");
                std::fs::write(dir.join(format!("labels/{split}/{i}.txt")), format!("{label}\n")).expect("write");
            }
        }
    }

    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("yolo");
        write(&dir);
        let text = format!(
            "dataset d = yolo(\"{}\") {{\n  val = \"val\"\n  channels = 1\n}}\n",
            dir.join("data.yaml").display()
        );
        let spec = testing::check(&dir, &format!("{text}{}", testing::DETECT.replace("C, ", "1, ")));
        assert_eq!(spec.classes, ["square", "disc"]);
        assert_eq!((spec.counts["train"], spec.counts["val"]), (3, 1));
        let splits = testing::open(&spec);
        let train = splits["train"].as_ref();
        let boxes: Vec<Vec<crate::data::BoxLabel>> = (0..3).map(|i| train.boxes(i).expect("boxes")).collect();
        assert_eq!((boxes[0][0].x0, boxes[0][0].x1), (4.0, 12.0));
        assert_eq!((boxes[1][0].class, boxes[1][0].y1), (1, 12.0));
        assert!(boxes[2].is_empty(), "an image without labels is a negative");
        // A label past the names is a check error naming the file.
        std::fs::write(dir.join("labels/val/3.txt"), "5 0.5 0.5 0.1 0.1\n").expect("write");
        let (codes, report) = testing::codes(&dir, &format!("yolo(\"{}\") {{ val = \"val\" }}", dir.display()));
        assert_eq!(codes, ["trainc::data::label"], "{report}");
        assert!(report.contains("3.txt: class 5"), "{report}");
    }
}
