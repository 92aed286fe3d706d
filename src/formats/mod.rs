//! Dataset formats, one file each: the typed arguments of its source, the parser of its metadata
//! (classes, samples, splits), the header probe `check` runs through [`Host`] and, with the
//! `train` feature, the loader `run` opens. Both halves call the same parser, so the classes
//! `check` reports are the classes `run` loads; each file tests that on a dataset it writes.
//!
//! The probe half builds without burn and never touches the disk but through [`Host`]; the
//! loader half reads files directly and is re-exported from `data`.

pub mod coco;
pub mod idx;
pub mod image_folder;
pub mod index_file;
pub mod instance;
pub mod mask_folder;
pub mod voc;
pub mod yolo;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::check::{CheckError, Sink};
use crate::host::Host;
use crate::ir::{Call, DatasetSpec, Task};
use crate::syntax::span::Span;

/// The ignore label of segmentation masks (VOC's object borders, COCO's crowd regions): a pixel
/// with it trains nothing and no metric counts it.
pub const IGNORE: usize = 255;

/// The arguments of a source that takes only its root folder (`idx`, `image_folder`).
#[derive(Debug, Clone, PartialEq)]
pub struct RootArgs {
    pub root: String,
}

impl RootArgs {
    pub fn from_call(call: &Call) -> Option<RootArgs> {
        Some(RootArgs { root: call.word("root")?.into() })
    }
}

/// A dataset source with its arguments filled in: what `dataset d = idx("…")` names.
/// Paths are as written; [`DatasetSpec::base_dir`] resolves them.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Idx(idx::Args),
    ImageFolder(image_folder::Args),
    /// `csv(…)` and `jsonl(…)`.
    Index(index_file::Args),
    Coco(coco::Args),
    MaskFolder(mask_folder::Args),
    Voc(voc::Args),
    Yolo(yolo::Args),
}

impl Source {
    /// The typed source of a checked builtin call (`None` when the call is not a source, or misses
    /// a required argument, which the checker has reported).
    pub fn from_call(call: &Call) -> Option<Source> {
        Some(match call.name.as_str() {
            idx::NAME => Source::Idx(idx::Args::from_call(call)?),
            image_folder::NAME => Source::ImageFolder(image_folder::Args::from_call(call)?),
            coco::NAME => Source::Coco(coco::Args::from_call(call)?),
            mask_folder::NAME => Source::MaskFolder(mask_folder::Args::from_call(call)?),
            voc::NAME => Source::Voc(voc::Args::from_call(call)?),
            yolo::NAME => Source::Yolo(yolo::Args::from_call(call)?),
            name => Source::Index(index_file::Args::from_call(index_file::Kind::from_name(name)?, call)?),
        })
    }

    /// The call it was written as, defaults filled in (what `spec.json` records).
    pub fn to_call(&self) -> Call {
        let (name, args): (&str, Vec<(&str, &str)>) = match self {
            Source::Idx(a) => (idx::NAME, vec![("root", &a.root)]),
            Source::ImageFolder(a) => (image_folder::NAME, vec![("root", &a.root)]),
            Source::Index(a) => {
                let mut args = vec![("path", a.path.as_str())];
                args.extend(a.images.as_deref().map(|i| ("images", i)));
                (a.kind.name(), args)
            }
            Source::Coco(a) => (coco::NAME, vec![("annotations", &a.annotations), ("images", &a.images)]),
            Source::MaskFolder(a) => (mask_folder::NAME, vec![("images", &a.images), ("masks", &a.masks)]),
            Source::Voc(a) => (voc::NAME, vec![("root", &a.root), ("split_file", &a.split_file)]),
            Source::Yolo(a) => (yolo::NAME, vec![("path", &a.path)]),
        };
        let mut call = Call {
            name: name.into(),
            args: args.into_iter().map(|(k, v)| (k.to_string(), crate::ir::Value::Str(v.to_string()))).collect(),
        };
        // Recorded only when set, so the `spec.json` of a box dataset is what it was.
        if let Source::Coco(coco::Args { masks: true, .. }) | Source::Voc(voc::Args { masks: true, .. }) = self {
            call.args.insert("masks".into(), crate::ir::Value::Bool(true));
        }
        if let Source::MaskFolder(mask_folder::Args { instances: true, .. }) = self {
            call.args.insert("instances".into(), crate::ir::Value::Bool(true));
        }
        call
    }

    /// The builtin's name (`idx`, `csv`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Source::Idx(_) => idx::NAME,
            Source::ImageFolder(_) => image_folder::NAME,
            Source::Index(a) => a.kind.name(),
            Source::Coco(_) => coco::NAME,
            Source::MaskFolder(_) => mask_folder::NAME,
            Source::Voc(_) => voc::NAME,
            Source::Yolo(_) => yolo::NAME,
        }
    }

    pub fn task(&self) -> Task {
        match self {
            Source::Coco(coco::Args { masks: true, .. }) | Source::Voc(voc::Args { masks: true, .. }) => {
                Task::Segmentation
            }
            Source::Coco(_) | Source::Voc(_) | Source::Yolo(_) => Task::Detection,
            Source::MaskFolder(_) => Task::Segmentation,
            Source::Idx(_) | Source::ImageFolder(_) | Source::Index(_) => Task::Classification,
        }
    }

    /// Image channels unless the dataset says `channels = …`: IDX files are grayscale.
    pub fn channels(&self) -> usize {
        if matches!(self, Source::Idx(_)) { 1 } else { 3 }
    }

    /// Where the `train` split is stored when the dataset does not say: the `train` prefix or
    /// sub-folder, or the source's whole data ("").
    pub fn default_train(&self) -> &'static str {
        match self {
            Source::Idx(_) | Source::ImageFolder(_) | Source::Yolo(_) => "train",
            Source::Index(_) | Source::Coco(_) | Source::MaskFolder(_) | Source::Voc(_) => "",
        }
    }

    /// Whether the source stores several splits under names (IDX prefixes, sub-folders): a
    /// dataset may then say `test = "t10k"`. The others hold one set, stored as "".
    pub fn stores_splits(&self) -> bool {
        matches!(self, Source::Idx(_) | Source::ImageFolder(_) | Source::Voc(_) | Source::Yolo(_))
    }

    /// Whether the data's class names are only those its labels use (VOC objects' names), so a
    /// listed class list may hold more, and splits may use fewer.
    pub fn names_subset(&self) -> bool {
        matches!(self, Source::Voc(a) if !a.masks)
    }

    /// Whether the data's class names are only a default (VOC segmentation's 21 classes), which
    /// a listed class list replaces: masks carry ids, so any names fit them.
    pub fn names_default(&self) -> bool {
        matches!(self, Source::Voc(a) if a.masks)
    }

    /// Where a split with this source of its own finds all its data: an IDX source's files of
    /// the split's prefix, an image folder's root itself (class folders in it), the whole data
    /// of the others.
    pub fn whole(&self, split: &str) -> String {
        match self {
            Source::Idx(_) => split.into(),
            // A YOLO source of its own reads the `train` entry of its `data.yaml` (or folder).
            Source::Yolo(_) => "train".into(),
            Source::ImageFolder(_) | Source::Index(_) | Source::Coco(_) | Source::MaskFolder(_) | Source::Voc(_) => {
                String::new()
            }
        }
    }

    /// Whether the data names no classes (it stores class ids), so the dataset must list them.
    pub fn ids_only(&self) -> bool {
        matches!(self, Source::Idx(_) | Source::MaskFolder(_))
    }

    /// Whether a listed class list must equal the data's in order, not only in length: class
    /// folders and COCO categories give each class its index, while an index file's labels
    /// may be ids into the list.
    pub fn order_matters(&self) -> bool {
        !matches!(self, Source::Idx(_) | Source::Index(_))
    }
}

/// `spec.json` records a source as the call it was written as.
impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_call().serialize(serializer)
    }
}

/// Reads a dataset's headers and metadata through the probe's host: fills in the split sizes
/// and image size the data tells, and returns the class names it declares.
pub fn probe(spec: &mut DatasetSpec, probe: &mut Probe) -> Option<Vec<String>> {
    match spec.source.clone() {
        Source::Idx(args) => idx::probe(&args, spec, probe),
        Source::ImageFolder(args) => image_folder::probe(&args, spec, probe),
        Source::Index(args) => index_file::probe(&args, spec, probe),
        Source::Coco(args) => coco::probe(&args, spec, probe),
        Source::MaskFolder(args) => mask_folder::probe(&args, spec, probe),
        Source::Voc(args) => voc::probe(&args, spec, probe),
        Source::Yolo(args) => yolo::probe(&args, spec, probe),
    }
}

/// Records `n` samples for every split stored in the data of a source that holds one set.
pub fn count_whole(spec: &mut DatasetSpec, n: usize) {
    for (split, _) in spec.stored_splits() {
        spec.counts.insert(split, n);
    }
}

/// What a format's probe reads through and reports to: the checker's host and sink, and the
/// spans its errors point at.
pub struct Probe<'a> {
    pub host: &'a dyn Host,
    pub sink: &'a mut Sink,
    /// The dataset's name, for messages.
    pub dataset: String,
    /// The source call's arguments in the order written, else the whole source expression.
    pub args: Vec<Span>,
    /// Each split given in the dataset (`test = "t10k"`), for errors about that split.
    pub splits: &'a BTreeMap<String, Span>,
}

impl Probe<'_> {
    /// The `i`th argument, or the first one, where errors about the data point.
    pub fn arg(&self, i: usize) -> Span {
        self.args.get(i).or(self.args.first()).copied().unwrap_or_default()
    }

    /// Where errors about one split point: its value in the dataset, else the source.
    pub fn split(&self, name: &str) -> Span {
        self.splits.get(name).copied().unwrap_or_else(|| self.arg(0))
    }

    pub fn missing(&mut self, path: &Path, at: Span) {
        self.sink.push(
            at.file,
            CheckError::DataMissing { dataset: self.dataset.clone(), path: path.display().to_string(), at: at.into() },
        );
    }

    pub fn format(&mut self, message: String, help: impl Into<String>, at: Span) {
        self.sink.push(
            at.file,
            CheckError::DataFormat { dataset: self.dataset.clone(), message, help: help.into(), at: at.into() },
        );
    }

    /// Annotations that name a class outside the class list, or an image that is not there.
    pub fn label(&mut self, message: String, help: impl Into<String>, at: Span) {
        self.sink.push(
            at.file,
            CheckError::DataLabel { dataset: self.dataset.clone(), message, help: help.into(), at: at.into() },
        );
    }

    /// Reports the image files of `names` (relative to `folder`) that do not exist, as one
    /// error naming the annotation file, the count and the first; checks existence only.
    pub fn missing_images<'n>(
        &mut self,
        annotations: &Path,
        folder: &Path,
        names: impl IntoIterator<Item = &'n str>,
        at: Span,
    ) {
        let missing: Vec<&str> = names.into_iter().filter(|n| !self.host.exists(&folder.join(n))).collect();
        if let Some(first) = missing.first() {
            self.label(
                format!(
                    "`{}` names {} image(s) missing from `{}` (first: `{first}`)",
                    annotations.display(),
                    missing.len(),
                    folder.display()
                ),
                "add the images, or remove their entries from the annotations",
                at,
            );
        }
    }

    /// A whole text file, or `None` after reporting it missing.
    pub fn read_text(&mut self, path: &Path, at: Span) -> Option<String> {
        match self.host.read_to_string(path) {
            Ok(text) => Some(text),
            Err(_) => {
                self.missing(path, at);
                None
            }
        }
    }
}

/// Writes a dataset to a temporary folder, checks a program naming it and opens its splits, so
/// each format's test can compare the classes `check` reports with the labels `run` loads.
#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    use crate::frontend::{self, Options};
    use crate::host::FsHost;
    use crate::ir::DatasetSpec;

    /// A fresh temporary folder for one test, removed when it ends.
    pub fn dir(name: &str) -> crate::scratch::Scratch {
        crate::scratch::scratch(&format!("format-{name}"))
    }

    /// A `size`×`size` image whose every pixel is `value`, written (with its folder) at `path`.
    pub fn gray(path: &Path, value: u8, size: u32) {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        image::GrayImage::from_pixel(size, size, image::Luma([value])).save(path).expect("png");
    }

    /// A detection model (CenterNet on 16×16 images) and `train` block for a dataset `d`;
    /// replace `C, ` with its channels.
    pub const DETECT: &str = "use std/heads.{centernet}
augment det(image, boxes) { resize(16, 16) }
model m(x: Image[B, C, 16, 16]) -> (heat: [B, classes, 4, 4], size: [B, 2, 4, 4], offset: [B, 2, 4, 4]) {
  return x |> conv2d(4, k = 4, stride = 4) |> centernet(classes, width = 4)
}
train {
  model = m
  data = d { batch = 2, augment = det, eval_augment = det }
  loss = centernet_loss()
  optimizer = sgd(lr = 0.1)
  epochs = 1
}
";

    /// A classification model and `train` block for a dataset `d`; replace `C, H, W` with its
    /// image shape.
    pub const CLASSIFY: &str =
        "model m(x: Image[B, C, H, W]) -> [B, classes] { return x |> flatten |> linear(classes) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy
  optimizer = sgd(lr = 0.1)
  epochs = 1
}
";

    /// Checks a program in `dir`, which must pass; returns its training dataset.
    pub fn check(dir: &Path, text: &str) -> DatasetSpec {
        let outcome = frontend::check_text(&FsHost, &dir.join("t.train").to_string_lossy(), text, &Options::default());
        assert!(!outcome.has_errors(), "{}", outcome.render(false));
        outcome.checked.train.as_ref().map(|t| t.data.dataset.clone()).expect("a train block")
    }

    /// The diagnostic codes of checking `dataset d = <source>` alone in `dir`.
    pub fn codes(dir: &Path, source: &str) -> (Vec<String>, String) {
        let text = format!("dataset d = {source}\n");
        let outcome = frontend::check_text(&FsHost, &dir.join("t.train").to_string_lossy(), &text, &Options::default());
        (outcome.diags.iter().map(|d| d.code()).collect(), outcome.render(false))
    }

    /// Every split the loader opens.
    pub fn open(spec: &DatasetSpec) -> BTreeMap<String, Arc<dyn crate::data::Source>> {
        crate::data::open_splits(spec).unwrap_or_else(|e| panic!("open_splits: {e}"))
    }

    /// The class name `run` gives each sample of a split, by the checked class list.
    pub fn loaded_names(spec: &DatasetSpec, split: &dyn crate::data::Source) -> Vec<String> {
        (0..split.len()).map(|i| spec.classes[split.label(i)].clone()).collect()
    }

    /// The first pixel of each sample, 0–255: the tests draw each class in its own gray level.
    pub fn first_pixels(split: &dyn crate::data::Source) -> Vec<u8> {
        (0..split.len()).map(|i| (split.image(i).expect("image").data[0] * 255.0).round() as u8).collect()
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::Source;
    use crate::ir::{Call, Value};

    /// `spec.json` (and its hash) stays what it was when sources were plain calls.
    #[test]
    fn a_source_records_the_call_it_was_written_as() {
        let calls: [(&str, &[(&str, &str)]); 9] = [
            ("idx", &[("root", "data/mnist")]),
            ("image_folder", &[("root", "pets")]),
            ("csv", &[("path", "labels.csv")]),
            ("csv", &[("images", "imgs"), ("path", "labels.csv")]),
            ("jsonl", &[("path", "labels.jsonl")]),
            ("coco", &[("annotations", "a.json"), ("images", "imgs")]),
            ("mask_folder", &[("images", "imgs"), ("masks", "masks")]),
            ("voc", &[("root", "VOC2007"), ("split_file", "ImageSets/Main/train.txt")]),
            ("yolo", &[("path", "data.yaml")]),
        ];
        for (name, args) in calls {
            let call = Call {
                name: name.into(),
                args: args.iter().map(|(k, v)| (k.to_string(), Value::Str(v.to_string()))).collect(),
            };
            let source = Source::from_call(&call).expect("a source");
            assert_eq!(source.name(), name);
            assert_eq!(source.to_call(), call);
            assert_eq!(serde_json::to_string(&source).expect("json"), serde_json::to_string(&call).expect("json"));
        }
        assert_eq!(Source::from_call(&Call { name: "adamw".into(), args: Default::default() }), None);
    }
}
