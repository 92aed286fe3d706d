//! `coco(annotations, images)`: COCO detection JSON (`images`, `annotations` with `bbox`
//! `[x, y, width, height]`, `categories`) and a folder of images, as real files are:
//! - the classes are the categories' names in id order, ids need not be contiguous; a box gets
//!   the index of its category id in that order;
//! - `iscrowd: 1` regions are kept as `Ignore::Crowd` boxes: they train
//!   nothing and a detection on them is ignored by the metric, as pycocotools does;
//! - images without annotations stay in the split as negatives;
//! - boxes are clipped to their image (`width`/`height` of its entry); those left without area
//!   are dropped, and `check` warns with their file.
//!
//! Every category must have an integer `id` and a `name`, or the two lists could not agree.

use super::Probe;
use crate::check::CheckError;
use crate::ir::{Call, DatasetSpec};

pub const NAME: &str = "coco";

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The annotation JSON file.
    pub annotations: String,
    /// The folder `file_name`s are relative to.
    pub images: String,
    /// `masks = true`: a segmentation dataset whose masks are the instances' `segmentation`
    /// (polygons or RLE) painted with their class; class 0 is `background`.
    pub masks: bool,
}

impl Args {
    pub fn from_call(call: &Call) -> Option<Args> {
        Some(Args {
            annotations: call.word("annotations")?.into(),
            images: call.word("images")?.into(),
            masks: call.bool("masks").unwrap_or(false),
        })
    }
}

/// Why a file's `categories` give no class list.
#[derive(Debug, Clone, PartialEq)]
pub enum CategoryError {
    /// No `categories` array.
    Missing,
    /// The category at this position in the array has no integer `id`.
    NoId(usize),
    /// The category with this id has no `name`.
    Unnamed(i64),
}

impl std::fmt::Display for CategoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CategoryError::Missing => write!(f, "has no `categories`"),
            CategoryError::NoId(i) => write!(f, "category {} (counting from 1) has no integer `id`", i + 1),
            CategoryError::Unnamed(id) => write!(f, "category {id} has no `name`"),
        }
    }
}

/// The categories as `(id, name)`, in id order: class `i` is the `i`th.
pub fn categories(json: &serde_json::Value) -> Result<Vec<(i64, String)>, CategoryError> {
    let list = json.get("categories").and_then(|c| c.as_array()).ok_or(CategoryError::Missing)?;
    let mut out = Vec::new();
    for (i, category) in list.iter().enumerate() {
        let id = category.get("id").and_then(|v| v.as_i64()).ok_or(CategoryError::NoId(i))?;
        let name = category.get("name").and_then(|v| v.as_str()).ok_or(CategoryError::Unnamed(id))?;
        out.push((id, name.to_string()));
    }
    out.sort();
    Ok(out)
}

/// One image of the file: its `id`, `file_name` and size (`width`, `height`) when given.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEntry {
    pub id: i64,
    pub file: String,
    pub size: Option<(f32, f32)>,
}

/// One usable annotation: the image's index in [`Parsed::images`], the class index, the box as
/// `(x0, y0, x1, y1)` clipped to the image, and whether it is a crowd region.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub image: usize,
    pub class: usize,
    pub bbox: (f32, f32, f32, f32),
    pub crowd: bool,
}

/// What [`parse`] read, with the annotations it could not use, each by its `id`.
#[derive(Debug, Default)]
pub struct Parsed {
    pub images: Vec<ImageEntry>,
    pub annotations: Vec<Annotation>,
    /// `(annotation id, category id)` of boxes whose category is not in `categories`.
    pub unknown_category: Vec<(String, i64)>,
    /// `(annotation id, image id)` of boxes whose image is not in `images`.
    pub unknown_image: Vec<(String, i64)>,
    /// Annotations without an integer `image_id`/`category_id` or a four-number `bbox`.
    pub malformed: Vec<String>,
    /// Boxes with no area once clipped to their image.
    pub degenerate: Vec<String>,
}

/// Reads `images` and `annotations` against the categories; the one reader both halves use.
/// An image entry without an integer `id` or a `file_name` is an error (its position, from 1).
pub fn parse(json: &serde_json::Value, categories: &[(i64, String)]) -> Result<Parsed, String> {
    let list = |key: &str| json.get(key).and_then(|v| v.as_array()).map(Vec::as_slice).unwrap_or_default();
    let mut out = Parsed::default();
    let mut index = std::collections::HashMap::new();
    for (i, image) in list("images").iter().enumerate() {
        let number = |key: &str| image.get(key).and_then(|v| v.as_f64()).map(|v| v as f32);
        let (Some(id), Some(file)) =
            (image.get("id").and_then(|v| v.as_i64()), image.get("file_name").and_then(|v| v.as_str()))
        else {
            return Err(format!("image {} (counting from 1) has no integer `id` or no `file_name`", i + 1));
        };
        index.insert(id, out.images.len());
        let size = number("width").zip(number("height"));
        out.images.push(ImageEntry { id, file: file.to_string(), size });
    }
    for ann in list("annotations") {
        let id = ann.get("id").map(|v| v.to_string()).unwrap_or_else(|| "without `id`".into());
        let int = |key: &str| ann.get(key).and_then(|v| v.as_i64());
        let bbox: Vec<f32> = ann
            .get("bbox")
            .and_then(|v| v.as_array())
            .map(|b| b.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect())
            .unwrap_or_default();
        let (Some(image_id), Some(category), [x, y, w, h]) = (int("image_id"), int("category_id"), bbox.as_slice())
        else {
            out.malformed.push(id);
            continue;
        };
        let Some(&image) = index.get(&image_id) else {
            out.unknown_image.push((id, image_id));
            continue;
        };
        let Some(class) = categories.iter().position(|(k, _)| *k == category) else {
            out.unknown_category.push((id, category));
            continue;
        };
        let (mut x0, mut y0, mut x1, mut y1) = (*x, *y, x + w, y + h);
        if let Some((width, height)) = out.images[image].size {
            (x0, y0, x1, y1) =
                (x0.clamp(0.0, width), y0.clamp(0.0, height), x1.clamp(0.0, width), y1.clamp(0.0, height));
        }
        if x1 <= x0 || y1 <= y0 {
            out.degenerate.push(id);
            continue;
        }
        let crowd = int("iscrowd").is_some_and(|c| c != 0);
        out.annotations.push(Annotation { image, class, bbox: (x0, y0, x1, y1), crowd });
    }
    Ok(out)
}

/// The whole file is the one stored split. Reads the annotations (never an image) to report
/// boxes of unknown categories or images, image files that are missing, and degenerate boxes.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let ann = spec.base_dir.join(&args.annotations);
    let text = p.read_text(&ann, p.arg(0))?;
    let images = spec.base_dir.join(&args.images);
    let images_exist = p.host.exists(&images);
    if !images_exist {
        p.missing(&images, p.arg(1));
    }
    let json: serde_json::Value = match serde_json::from_str(&text) {
        Ok(j) => j,
        Err(e) => {
            p.format(
                format!("`{}` is not valid JSON: {e}", ann.display()),
                "COCO annotations are one JSON object with `images`, `annotations` and `categories`",
                p.arg(0),
            );
            return None;
        }
    };
    let cats = match categories(&json) {
        Ok(cats) => cats,
        Err(CategoryError::Unnamed(id)) => {
            let at = p.arg(0);
            p.sink.push(
                at.file,
                CheckError::DataUnnamedClass {
                    dataset: p.dataset.clone(),
                    id,
                    file: ann.display().to_string(),
                    at: at.into(),
                },
            );
            return None;
        }
        Err(e) => {
            let help = "add `categories: [{\"id\": 1, \"name\": \"…\"}]`";
            p.format(format!("`{}` {e}", ann.display()), help, p.arg(0));
            return None;
        }
    };
    let parsed = match parse(&json, &cats) {
        Ok(parsed) => parsed,
        Err(message) => {
            let help = "each image is {\"id\": 1, \"file_name\": \"…\", \"width\": …, \"height\": …}";
            p.format(format!("`{}`: {message}", ann.display()), help, p.arg(0));
            return None;
        }
    };
    report(&parsed, &ann, p);
    if images_exist {
        p.missing_images(&ann, &images, parsed.images.iter().map(|i| i.file.as_str()), p.arg(1));
    }
    super::count_whole(spec, parsed.images.len());
    let background = args.masks.then(|| "background".to_string());
    Some(background.into_iter().chain(cats.into_iter().map(|(_, name)| name)).collect())
}

/// The annotations [`parse`] could not use, as `check` reports them.
fn report(parsed: &Parsed, ann: &std::path::Path, p: &mut Probe) {
    let file = ann.display();
    if let Some((id, category)) = parsed.unknown_category.first() {
        let message = format!(
            "`{file}`: {} annotation(s) name a category that `categories` does not list (first: annotation {id}, category {category})",
            parsed.unknown_category.len()
        );
        p.label(message, "add the category to `categories`, or remove the annotations", p.arg(0));
    }
    if let Some((id, image)) = parsed.unknown_image.first() {
        let message = format!(
            "`{file}`: {} annotation(s) name an image that `images` does not list (first: annotation {id}, image {image})",
            parsed.unknown_image.len()
        );
        p.label(message, "add the image to `images`, or remove the annotations", p.arg(0));
    }
    if let Some(id) = parsed.malformed.first() {
        p.format(
            format!(
                "`{file}`: {} annotation(s) lack an integer `image_id`/`category_id` or a four-number `bbox` (first: annotation {id})",
                parsed.malformed.len()
            ),
            "each annotation is {\"image_id\": …, \"category_id\": …, \"bbox\": [x, y, width, height]}",
            p.arg(0),
        );
    }
    if let Some(id) = parsed.degenerate.first() {
        let at = p.arg(0);
        p.sink.push(
            at.file,
            CheckError::DataDegenerateBox {
                dataset: p.dataset.clone(),
                count: parsed.degenerate.len(),
                file: file.to_string(),
                first: format!("first: annotation {id}"),
                at: at.into(),
            },
        );
    }
}

#[cfg(feature = "train")]
pub use load::Coco;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::{Path, PathBuf};

    use super::{categories, parse};
    use crate::data::source::decode;
    use crate::data::{BoxLabel, DataError, Ignore, Image, Source};

    /// Per image: its size when the file gives it, and its annotations' `segmentation`s with
    /// their class + 1.
    type Segments = Vec<(Option<(f32, f32)>, Vec<(usize, serde_json::Value)>)>;

    /// COCO detection: images and their boxes, classes numbered as [`categories`] orders them.
    /// With `masks`, also each image's size and instance segmentations with their class + 1.
    pub struct Coco {
        items: Vec<(PathBuf, Vec<BoxLabel>)>,
        channels: usize,
        segments: Option<Segments>,
    }

    impl Coco {
        pub fn open(annotations: &Path, images: &Path, channels: usize, masks: bool) -> Result<Coco, DataError> {
            let format = |message: String| DataError::Format { path: annotations.to_path_buf(), message };
            let text = std::fs::read_to_string(annotations)
                .map_err(|source| DataError::Io { path: annotations.to_path_buf(), source })?;
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
            let cats = categories(&json).map_err(|e| format(e.to_string()))?;
            let parsed = parse(&json, &cats).map_err(format)?;
            let unusable =
                parsed.malformed.first().cloned().or_else(|| {
                    parsed.unknown_category.first().or(parsed.unknown_image.first()).map(|(id, _)| id.clone())
                });
            if let Some(id) = unusable {
                return Err(format(format!("annotation {id} has no valid image, category or bbox")));
            }
            let mut items: Vec<(PathBuf, Vec<BoxLabel>)> =
                parsed.images.iter().map(|i| (images.join(&i.file), Vec::new())).collect();
            for a in parsed.annotations {
                let (x0, y0, x1, y1) = a.bbox;
                let ignore = if a.crowd { Ignore::Crowd } else { Ignore::No };
                items[a.image].1.push(BoxLabel { class: a.class, x0, y0, x1, y1, ignore });
            }
            let segments = masks.then(|| segments(&json, &parsed.images, &cats));
            Ok(Coco { items, channels, segments })
        }
    }

    /// Per image, its size and its annotations' `segmentation`s with class + 1 (0 is the
    /// background), or the ignore label 255 for an `iscrowd` region (ignored in training and in
    /// the metric, as pycocotools ignores crowds), in file order: later instances paint over
    /// earlier ones.
    fn segments(json: &serde_json::Value, images: &[super::ImageEntry], cats: &[(i64, String)]) -> Segments {
        let mut out: Vec<_> = images.iter().map(|i| (i.size, Vec::new())).collect();
        let index: std::collections::HashMap<i64, usize> = images.iter().enumerate().map(|(k, i)| (i.id, k)).collect();
        let list = json.get("annotations").and_then(|v| v.as_array()).map(Vec::as_slice).unwrap_or_default();
        for ann in list {
            let int = |key: &str| ann.get(key).and_then(|v| v.as_i64());
            let image = int("image_id").and_then(|id| index.get(&id).copied());
            let class = int("category_id").and_then(|c| cats.iter().position(|(k, _)| *k == c));
            if let (Some(image), Some(class), Some(seg)) = (image, class, ann.get("segmentation")) {
                let crowd = int("iscrowd").is_some_and(|c| c != 0);
                out[image].1.push((if crowd { crate::formats::IGNORE } else { class + 1 }, seg.clone()));
            }
        }
        out
    }

    impl Source for Coco {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn label(&self, index: usize) -> usize {
            self.items[index].1.first().map_or(0, |b| b.class)
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            decode(&self.items[index].0, self.channels)
        }
        fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
            Some(self.items[index].1.clone())
        }
        /// The semantic mask of `masks = true`: every instance painted with its class + 1, crowd
        /// regions with 255.
        fn mask(&self, index: usize) -> Result<Option<Image>, DataError> {
            let Some(segments) = &self.segments else { return Ok(None) };
            let (size, instances) = &segments[index];
            let path = &self.items[index].0;
            let (w, h) = match size {
                Some((w, h)) => (*w as usize, *h as usize),
                None => image::image_dimensions(path)
                    .map(|(w, h)| (w as usize, h as usize))
                    .map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?,
            };
            let mut data = vec![0.0f32; h * w];
            for (class, seg) in instances {
                let Some(mask) = crate::formats::instance::segmentation_mask(seg, h, w) else { continue };
                for (pixel, on) in data.iter_mut().zip(mask) {
                    if on {
                        *pixel = *class as f32;
                    }
                }
            }
            Ok(Some(Image { c: 1, h, w, data }))
        }
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    const DETECT: &str = "use std/heads.{centernet}
augment det(image, boxes) { resize(16, 16) }
model m(x: Image[B, 3, 16, 16]) -> (heat: [B, classes, 4, 4], size: [B, 2, 4, 4], offset: [B, 2, 4, 4]) {
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

    /// Categories with ids out of order and not from 1; each image holds one box of a category,
    /// drawn in that category's gray level.
    fn annotations(categories: &str) -> String {
        let images: Vec<String> =
            (0..4).map(|i| format!("{{\"id\": {}, \"file_name\": \"{i}.png\"}}", i + 1)).collect();
        let boxes: Vec<String> = [7, 3, 12, 7]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!("{{\"id\": {}, \"image_id\": {}, \"category_id\": {c}, \"bbox\": [1, 1, 4, 4]}}", i + 1, i + 1)
            })
            .collect();
        format!(
            "{{\"images\": [{}], \"annotations\": [{}], \"categories\": {categories}}}",
            images.join(", "),
            boxes.join(", ")
        )
    }

    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("coco");
        let gray = |category: i64| match category {
            3 => 40,
            7 => 80,
            _ => 120,
        };
        for (i, c) in [7, 3, 12, 7].into_iter().enumerate() {
            testing::gray(&dir.join("images").join(format!("{i}.png")), gray(c), 16);
        }
        let categories = r#"[{"id": 12, "name": "wasp"}, {"id": 3, "name": "ant"}, {"id": 7, "name": "bee"}]"#;
        std::fs::write(dir.join("ann.json"), annotations(categories)).expect("write");
        let text = format!(
            "dataset d = coco(\"{}\", images = \"{}\")\n{DETECT}",
            dir.join("ann.json").display(),
            dir.join("images").display()
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, ["ant", "bee", "wasp"]);
        let splits = testing::open(&spec);
        let train = splits["train"].as_ref();
        let by_gray = |v: u8| match v {
            40 => "ant",
            80 => "bee",
            _ => "wasp",
        };
        let drawn: Vec<&str> = testing::first_pixels(train).into_iter().map(by_gray).collect();
        let boxed: Vec<String> =
            (0..train.len()).map(|i| spec.classes[train.boxes(i).expect("boxes")[0].class].clone()).collect();
        assert_eq!(boxed, drawn);
    }

    /// A category without a name would be dropped from one list and kept in the other: it is an
    /// error naming the category.
    #[test]
    fn a_category_without_a_name_is_a_check_error() {
        let dir = testing::dir("coco-unnamed");
        std::fs::create_dir_all(dir.join("images")).expect("dir");
        let categories = r#"[{"id": 3, "name": "ant"}, {"id": 7}]"#;
        std::fs::write(dir.join("ann.json"), annotations(categories)).expect("write");
        let source =
            format!("coco(\"{}\", images = \"{}\")", dir.join("ann.json").display(), dir.join("images").display());
        let (codes, report) = testing::codes(&dir, &source);
        assert_eq!(codes, ["trainc::data::unnamed_class"], "{report}");
        assert!(report.contains("category 7"), "{report}");
    }

    /// The COCO 2017 layout: `train2017.json` and `val2017.json` with their own image folders,
    /// as real files are: category ids 1, 3, 90; a crowd region; an image without annotations;
    /// a box past the image's edge (clipped) and one with no area (dropped).
    #[test]
    fn each_split_reads_its_own_file_as_real_files_are() {
        let dir = testing::dir("coco-2017");
        let categories = r#"[{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 90, "name": "toothbrush"}]"#;
        let ann = |images: &[(i64, &str)], boxes: &[(i64, i64, &str, u8)]| {
            let images: Vec<String> = images
                .iter()
                .map(|(id, f)| format!(r#"{{"id": {id}, "file_name": "{f}", "width": 16, "height": 16}}"#))
                .collect();
            let boxes: Vec<String> = boxes
                .iter()
                .enumerate()
                .map(|(i, (image, cat, bbox, crowd))| {
                    format!(r#"{{"id": {i}, "image_id": {image}, "category_id": {cat}, "bbox": {bbox}, "iscrowd": {crowd}}}"#)
                })
                .collect();
            format!(
                r#"{{"images": [{}], "annotations": [{}], "categories": {categories}}}"#,
                images.join(","),
                boxes.join(",")
            )
        };
        for (split, names) in [("train2017", ["a.png", "b.png", "c.png"]), ("val2017", ["d.png", "e.png", "f.png"])] {
            for name in names {
                testing::gray(&dir.join(split).join(name), 80, 16);
            }
        }
        std::fs::create_dir_all(dir.join("annotations")).expect("dir");
        let train = ann(
            &[(10, "a.png"), (20, "b.png"), (30, "c.png")],
            &[(10, 90, "[10, 10, 20, 20]", 0), (10, 1, "[0, 0, 16, 16]", 1), (20, 3, "[2, 2, 4, 0]", 0)],
        );
        let val = ann(&[(1, "d.png"), (2, "e.png")], &[(1, 3, "[1, 1, 5, 5]", 0)]);
        std::fs::write(dir.join("annotations/instances_train2017.json"), train).expect("write");
        std::fs::write(dir.join("annotations/instances_val2017.json"), val).expect("write");
        let text = format!(
            "dataset d = coco(\"{0}/annotations/instances_train2017.json\", images = \"{0}/train2017\") {{\n  val = coco(\"{0}/annotations/instances_val2017.json\", images = \"{0}/val2017\")\n  channels = 1\n}}\n{1}",
            dir.display(),
            testing::DETECT.replace("C, ", "1, ")
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, ["person", "car", "toothbrush"]);
        assert_eq!((spec.counts["train"], spec.counts["val"]), (3, 2));
        let splits = testing::open(&spec);
        let (train, val) = (splits["train"].as_ref(), splits["val"].as_ref());
        assert_eq!((train.len(), val.len()), (3, 2));
        let a = train.boxes(0).expect("boxes");
        assert_eq!(
            a[0],
            crate::data::BoxLabel { class: 2, x0: 10.0, y0: 10.0, x1: 16.0, y1: 16.0, ..Default::default() }
        );
        assert_eq!(a[1].ignore, crate::data::Ignore::Crowd);
        assert!(train.boxes(1).expect("boxes").is_empty(), "the box without area is dropped");
        assert!(train.boxes(2).expect("boxes").is_empty(), "an image without annotations stays, as a negative");
        assert_eq!(val.boxes(0).expect("boxes")[0].class, 1, "val numbers classes like train");
        // `check` warned about the box without area, naming the file.
        let (codes, report) = testing::codes(
            &dir,
            &format!("coco(\"{0}/annotations/instances_train2017.json\", images = \"{0}/train2017\")", dir.display()),
        );
        assert_eq!(codes, ["trainc::data::degenerate_box"], "{report}");
        assert!(report.contains("instances_train2017.json"), "{report}");
    }

    /// The silent-val bug: a stored split name on a source that stores one set used to read the
    /// training data again; it is an error now, with or without the data.
    #[test]
    fn a_stored_split_name_on_a_single_set_source_is_an_error() {
        let dir = testing::dir("coco-stored-val");
        let source = "coco(\"missing.json\", images = \"nowhere\") { val = \"val2017\" }";
        let outcome = crate::frontend::check_text(
            &crate::host::FsHost,
            &dir.join("t.train").to_string_lossy(),
            &format!("dataset d = {source}\n"),
            &crate::frontend::Options {
                check: crate::check::Options { skip_data: true, ..Default::default() },
                ..Default::default()
            },
        );
        let codes: Vec<String> = outcome.diags.iter().map(|d| d.code()).collect();
        assert_eq!(codes, ["trainc::data::stored_split"], "{}", outcome.render(false));
        let masks = "mask_folder(images = \"i\", masks = \"m\") { test = \"test\"; classes = [\"a\"] }";
        let (codes, _) = testing::codes(&dir, masks);
        assert!(codes.contains(&"trainc::data::stored_split".to_string()), "{codes:?}");
    }

    /// `masks = true`: instance polygons, uncompressed and compressed RLE become one semantic
    /// mask per image, class 0 the background.
    #[test]
    fn instance_masks_become_semantic_masks() {
        let dir = testing::dir("coco-masks");
        for name in ["a.png", "b.png"] {
            testing::gray(&dir.join("images").join(name), 80, 4);
        }
        let json = r#"{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}, {"id": 2, "file_name": "b.png", "width": 4, "height": 4}],
 "annotations": [
  {"id": 1, "image_id": 1, "category_id": 5, "bbox": [1, 1, 2, 2], "segmentation": [[1, 1, 3, 1, 3, 3, 1, 3]]},
  {"id": 2, "image_id": 2, "category_id": 9, "bbox": [0, 0, 1, 4], "iscrowd": 1, "segmentation": {"counts": [0, 4, 12], "size": [4, 4]}},
  {"id": 3, "image_id": 2, "category_id": 5, "bbox": [3, 0, 1, 4], "segmentation": {"counts": "<4", "size": [4, 4]}}],
 "categories": [{"id": 5, "name": "cell"}, {"id": 9, "name": "debris"}]}"#;
        std::fs::write(dir.join("ann.json"), json).expect("write");
        let segment = "model m(x: Image[B, 1, 4, 4]) -> Mask[B, classes, 4, 4] { return x |> conv2d(classes, k = 1) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy()
  optimizer = sgd(lr = 0.1)
  epochs = 1
}
";
        let text = format!(
            "dataset d = coco(\"{}\", images = \"{}\", masks = true) {{ channels = 1 }}\n{segment}",
            dir.join("ann.json").display(),
            dir.join("images").display()
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.task, crate::ir::Task::Segmentation);
        assert_eq!(spec.classes, ["background", "cell", "debris"]);
        let splits = testing::open(&spec);
        let mask = |i: usize| -> Vec<u8> {
            splits["train"].mask(i).expect("mask").expect("a mask").data.iter().map(|v| *v as u8).collect()
        };
        assert_eq!(mask(0), [0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
        // Column 0 is a debris crowd region: ignored (255), not painted with its class; "<4" is
        // counts [12, 4]: column 3 is a cell.
        assert_eq!(mask(1), [255, 0, 0, 1, 255, 0, 0, 1, 255, 0, 0, 1, 255, 0, 0, 1]);
    }
}
