//! `trainc predict`: run a checkpoint on images and print what the task predicts — classes,
//! boxes or masks, in the original image's pixels — as lines or as JSON (`--format json`: COCO
//! results for detection, class scores for classification, mask PNGs under `--output` for
//! segmentation). A checkpoint inside a run directory knows its class names (`spec.json`), so
//! the dataset is not needed then.
//!
//! `--tile` cuts each image into tiles of the model's input size at the image's own resolution,
//! overlapping by `--overlap` pixels, runs the model on every tile and merges the boxes across
//! tiles with non-maximum suppression: aerial and microscopy scenes keep their small objects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use serde_json::{Value, json};

use trainc::data::augment;
use trainc::data::source::open_image;
use trainc::exec::Net;
use trainc::exec::detect::{self, Detection};
use trainc::ir::{Source, TrainSpec};
use trainc::task::{self, PredictInput, Prediction, class_name};

use super::CommandError;
use super::shared::{checked, device, load};
use crate::{Format, SpecArgs};

/// Human output shows detections at least this confident (Ultralytics' default `conf`); JSON
/// gives every decoded box, as COCO evaluation expects.
const PREDICT_MIN_SCORE: f32 = 0.25;
/// Boxes of one class from overlapping tiles that overlap by this IoU are one object.
const TILE_NMS_IOU: f32 = 0.5;

/// What `trainc predict` was asked.
pub struct PredictArgs {
    pub file: PathBuf,
    pub checkpoint: PathBuf,
    pub images: Vec<PathBuf>,
    /// At most this many classes or boxes per image in human output.
    pub top: usize,
    pub device: String,
    pub format: Format,
    /// Where segmentation masks are written as PNGs.
    pub output: Option<PathBuf>,
    /// Cut each image into tiles of the model's input size.
    pub tile: bool,
    /// Overlap of neighbouring tiles, in pixels.
    pub overlap: usize,
}

/// The class names recorded in the run directory that holds `checkpoint`, if any.
pub(super) fn recorded_classes(checkpoint: &Path) -> Option<Vec<String>> {
    let run = checkpoint.parent()?.parent()?;
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).ok()?).ok()?;
    serde_json::from_value(spec["data"]["dataset"]["classes"].clone()).ok()
}

/// A COCO dataset's ids, so results name its images and categories as its annotations do.
#[derive(Default)]
struct CocoIds {
    /// `file_name` → `id`.
    images: HashMap<String, i64>,
    images_dir: Option<PathBuf>,
    /// Class index → category id (the categories in id order, as the loader numbers them).
    categories: Vec<i64>,
}

impl CocoIds {
    /// The ids of the dataset's annotation file, when it is a readable COCO file.
    fn of(train: &TrainSpec) -> CocoIds {
        let ds = &train.data.dataset;
        let Source::Coco(args) = &ds.source else { return CocoIds::default() };
        let text = std::fs::read_to_string(ds.base_dir.join(&args.annotations)).unwrap_or_default();
        let Ok(json) = serde_json::from_str::<Value>(&text) else { return CocoIds::default() };
        let categories = trainc::formats::coco::categories(&json).unwrap_or_default();
        let images = json["images"].as_array().map(Vec::as_slice).unwrap_or_default();
        CocoIds {
            images: images
                .iter()
                .filter_map(|i| Some((i["file_name"].as_str()?.to_string(), i["id"].as_i64()?)))
                .collect(),
            images_dir: std::fs::canonicalize(ds.base_dir.join(&args.images)).ok(),
            categories: categories.into_iter().map(|(id, _)| id).collect(),
        }
    }

    /// The annotation file's id of an image (by its path under the images folder), else the
    /// path as given.
    fn image_id(&self, path: &Path) -> Value {
        let canonical = std::fs::canonicalize(path).ok();
        let relative = canonical.as_deref().zip(self.images_dir.as_deref()).and_then(|(p, d)| p.strip_prefix(d).ok());
        relative
            .and_then(|r| self.images.get(r.to_string_lossy().as_ref()))
            .map_or_else(|| json!(path.display().to_string()), |id| json!(id))
    }

    /// The category id of a class: the dataset's own for COCO, else the class index.
    fn category_id(&self, class: usize) -> i64 {
        self.categories.get(class).copied().unwrap_or(class as i64)
    }
}

/// The model, its input size and what it needs to predict.
struct Predictor<'a> {
    train: &'a TrainSpec,
    net: Net,
    device: Device,
    /// Height and width of the model's input.
    input: (usize, usize),
}

impl Predictor<'_> {
    /// What the model predicts for an image, in the image's pixels.
    fn run(&self, image: &image::DynamicImage) -> Result<Prediction, CommandError> {
        let data = &self.train.data;
        let img = augment::Image::from_dynamic(image, data.dataset.channels);
        let frame = augment::eval_frame(&data.eval_augment, (img.h, img.w), Some(self.input));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let img = augment::apply(&data.eval_augment, img, &mut rng, false).resize(self.input.0, self.input.1);
        let x = Tensor::<4>::from_data(TensorData::new(img.data, [1, img.c, img.h, img.w]), &self.device);
        let input = PredictInput { classes: &data.dataset.classes, frame };
        Ok(task::runner(data.dataset.task).predict(self.net.forward(vec![x]), &input)?)
    }

    /// Boxes of a large image: every tile's, moved to the image's pixels, merged by NMS.
    fn run_tiled(&self, image: &image::DynamicImage, overlap: usize) -> Result<Prediction, CommandError> {
        let (h, w) = (image.height() as usize, image.width() as usize);
        let mut found = Vec::new();
        for (y, x, th, tw) in augment::tiles((h, w), self.input, overlap) {
            let tile = image.crop_imm(x as u32, y as u32, tw as u32, th as u32);
            match self.run(&tile)? {
                Prediction::Boxes(boxes) => found.extend(boxes.into_iter().map(|d| Detection {
                    x0: d.x0 + x as f32,
                    x1: d.x1 + x as f32,
                    y0: d.y0 + y as f32,
                    y1: d.y1 + y as f32,
                    ..d
                })),
                other => return Ok(other),
            }
        }
        let mut merged = detect::nms(found, TILE_NMS_IOU);
        merged.truncate(detect::MAX_DETECTIONS);
        Ok(Prediction::Boxes(merged))
    }
}

pub fn predict(args: &PredictArgs) -> Result<ExitCode, CommandError> {
    let recorded = recorded_classes(&args.checkpoint);
    let spec = SpecArgs {
        file: args.file.clone(),
        overrides: Vec::new(),
        profile: None,
        skip_data: recorded.is_some(),
        memory: None,
        device: None,
    };
    let checked = checked(&spec, recorded)?;
    let (train, graph) = (&checked.train, &checked.graph);
    if args.tile && train.data.dataset.task != trainc::ir::Task::Detection {
        return Err(CommandError::TileTask { task: format!("{:?}", train.data.dataset.task).to_lowercase() });
    }
    let device = device(&args.device)?;
    let net = load(graph, &args.checkpoint, &device)?;
    let dim = |i: usize| graph.inputs.first().and_then(|(_, s)| s.0[i].value()).unwrap_or(0) as usize;
    let predictor = Predictor { train, net, device, input: (dim(2), dim(3)) };
    let ids = CocoIds::of(train);
    let mut results = Vec::new();
    for path in &args.images {
        let image = open_image(path).map_err(|e| CommandError::Image { path: path.clone(), message: e.to_string() })?;
        let prediction = if args.tile { predictor.run_tiled(&image, args.overlap)? } else { predictor.run(&image)? };
        let mask = match (&prediction, &args.output) {
            (Prediction::Mask { h, w, classes }, Some(dir)) => Some(write_mask(dir, path, (*h, *w), classes)?),
            _ => None,
        };
        let classes = &train.data.dataset.classes;
        match args.format {
            Format::Human => print_human(path, &prediction, classes, args.top, mask.as_deref()),
            Format::Json => results.extend(to_json(path, &prediction, classes, &ids, mask.as_deref())),
        }
    }
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a mask as a PNG of class ids (8-bit, or 16-bit past 256 classes) named like the image.
fn write_mask(dir: &Path, image: &Path, (h, w): (usize, usize), classes: &[u32]) -> Result<PathBuf, CommandError> {
    let stem = image.file_stem().map_or_else(|| "mask".into(), |s| s.to_string_lossy().into_owned());
    let out = dir.join(format!("{stem}.png"));
    let fail = |message: String| CommandError::Output { path: out.clone(), message };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let (w32, h32) = (w as u32, h as u32);
    let saved = if classes.iter().all(|c| *c < 256) {
        let pixels = classes.iter().map(|c| *c as u8).collect();
        image::GrayImage::from_raw(w32, h32, pixels).map(|m| m.save(&out))
    } else {
        let pixels = classes.iter().map(|c| (*c).min(u16::MAX as u32) as u16).collect();
        image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w32, h32, pixels).map(|m| m.save(&out))
    };
    match saved {
        Some(Ok(())) => Ok(out),
        Some(Err(e)) => Err(fail(e.to_string())),
        None => Err(fail("the mask does not have the image's size".into())),
    }
}

/// Each class's share of the mask's pixels, for the classes present.
fn shares(classes: &[u32], names: &[String]) -> Vec<(String, f64)> {
    let mut counts = vec![0usize; names.len().max(1)];
    for c in classes {
        if let Some(n) = counts.get_mut(*c as usize) {
            *n += 1;
        }
    }
    let total = classes.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (class_name(names, c).to_string(), *n as f64 / total))
        .collect()
}

/// The classes ranked by probability.
fn ranked(probs: &[f32]) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

fn print_human(path: &Path, prediction: &Prediction, classes: &[String], top: usize, mask: Option<&Path>) {
    println!("{}", path.display());
    match prediction {
        Prediction::Classes(probs) => {
            for (c, p) in ranked(probs).into_iter().take(top) {
                println!("  {:<20} {p:.4}", class_name(classes, c));
            }
        }
        Prediction::Boxes(boxes) => {
            for d in boxes.iter().filter(|d| d.score >= PREDICT_MIN_SCORE).take(top) {
                let name = class_name(classes, d.class);
                println!("  {name:<20} {:.4}  box {:.1} {:.1} {:.1} {:.1}", d.score, d.x0, d.y0, d.x1, d.y1);
            }
        }
        Prediction::Mask { classes: pixels, .. } => {
            for (name, share) in shares(pixels, classes) {
                println!("  {name:<20} {share:.4} of pixels");
            }
            if let Some(mask) = mask {
                println!("  mask {}", mask.display());
            }
        }
    }
}

/// COCO results (one object per box) for detection; one object per image otherwise.
fn to_json(path: &Path, prediction: &Prediction, classes: &[String], ids: &CocoIds, mask: Option<&Path>) -> Vec<Value> {
    let image_id = ids.image_id(path);
    match prediction {
        Prediction::Boxes(boxes) => boxes
            .iter()
            .map(|d| {
                let bbox = [d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0].map(f64::from);
                json!({ "image_id": image_id, "category_id": ids.category_id(d.class), "bbox": bbox, "score": d.score as f64 })
            })
            .collect(),
        Prediction::Classes(probs) => {
            let scores: Vec<Value> = ranked(probs)
                .into_iter()
                .map(|(c, p)| json!({ "class": class_name(classes, c), "category_id": ids.category_id(c), "score": p as f64 }))
                .collect();
            vec![json!({ "image_id": image_id, "file": path.display().to_string(), "scores": scores })]
        }
        Prediction::Mask { h, w, classes: pixels } => {
            let shares: Vec<Value> =
                shares(pixels, classes).into_iter().map(|(c, s)| json!({ "class": c, "share": s })).collect();
            let mask = mask.map(|m| m.display().to_string());
            vec![json!({ "image_id": image_id, "file": path.display().to_string(), "height": h, "width": w, "shares": shares, "mask": mask })]
        }
    }
}
