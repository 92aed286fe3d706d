//! `coco(annotations, images)`: COCO detection JSON (`images`, `annotations` with `bbox`
//! `[x, y, width, height]`, `categories`) and a folder of images. The classes are the
//! categories' names in id order; `run` gives a box the index of its category id in that order.
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
}

impl Args {
    pub fn from_call(call: &Call) -> Option<Args> {
        Some(Args { annotations: call.word("annotations")?.into(), images: call.word("images")?.into() })
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

/// The whole file is the `train` split.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let ann = spec.base_dir.join(&args.annotations);
    let text = p.read_text(&ann, p.arg(0))?;
    let images = spec.base_dir.join(&args.images);
    if !p.host.exists(&images) {
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
    let count = json.get("images").and_then(|i| i.as_array()).map_or(0, Vec::len);
    spec.counts.insert("train".into(), count);
    Some(cats.into_iter().map(|(_, name)| name).collect())
}

#[cfg(feature = "train")]
pub use load::Coco;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use super::categories;
    use crate::data::source::decode;
    use crate::data::{BoxLabel, DataError, Image, Source};

    /// COCO detection: images and their boxes, classes numbered as [`categories`] orders them.
    pub struct Coco {
        items: Vec<(PathBuf, Vec<BoxLabel>)>,
        channels: usize,
    }

    impl Coco {
        pub fn open(annotations: &Path, images: &Path, channels: usize) -> Result<Coco, DataError> {
            let format = |message: String| DataError::Format { path: annotations.to_path_buf(), message };
            let text = std::fs::read_to_string(annotations)
                .map_err(|source| DataError::Io { path: annotations.to_path_buf(), source })?;
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
            let category_ids: Vec<i64> =
                categories(&json).map_err(|e| format(e.to_string()))?.into_iter().map(|(id, _)| id).collect();
            let list = |key: &str| json.get(key).and_then(|v| v.as_array()).cloned().unwrap_or_default();
            let mut items = Vec::new();
            let mut index = HashMap::new();
            for image in list("images") {
                let (Some(id), Some(file)) =
                    (image.get("id").and_then(|v| v.as_i64()), image.get("file_name").and_then(|v| v.as_str()))
                else {
                    return Err(format("an image without `id` or `file_name`".into()));
                };
                index.insert(id, items.len());
                items.push((images.join(file), Vec::new()));
            }
            for ann in list("annotations") {
                let image = ann.get("image_id").and_then(|v| v.as_i64()).and_then(|id| index.get(&id).copied());
                let class = ann
                    .get("category_id")
                    .and_then(|v| v.as_i64())
                    .and_then(|c| category_ids.iter().position(|k| *k == c));
                let bbox: Vec<f32> = ann
                    .get("bbox")
                    .and_then(|v| v.as_array())
                    .map(|b| b.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect())
                    .unwrap_or_default();
                // Crowd regions are kept, marked: not trained on, ignored by the metric.
                let ignore = ann.get("iscrowd").and_then(|v| v.as_i64()) == Some(1);
                match (image, class, bbox.as_slice()) {
                    (Some(i), Some(class), [x, y, w, h]) => {
                        items[i].1.push(BoxLabel { class, x0: *x, y0: *y, x1: x + w, y1: y + h, ignore })
                    }
                    _ => {
                        return Err(format(format!(
                            "annotation {} has no valid image, category or bbox",
                            ann.get("id").map(|v| v.to_string()).unwrap_or_default()
                        )));
                    }
                }
            }
            Ok(Coco { items, channels })
        }
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
}
