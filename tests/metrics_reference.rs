//! trainc's metrics against the references everyone uses: detection mAP and mAP@0.5 against
//! pycocotools on the same ground truth and the same detections (crowd regions, images without
//! boxes, category ids that are neither contiguous nor in name order), and segmentation mIoU
//! against NumPy with the ignore label 255. Agreement is asserted within 1e-3.
//!
//! The end-to-end test trains a small detector on non-square scenes through `letterbox`, takes
//! its detections from `trainc predict --format json` and its metrics from `trainc eval --format
//! json`: predictions must come back in the original images' pixels for pycocotools to agree.
//!
//! Needs numpy and pycocotools at `TRAINC_TORCH_PYTHON` (default the shared venv); skipped
//! without them, except under `CI`, where missing them is a failure.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{text, trainc};

use serde_json::{Value, json};
use trainc::data::{BoxLabel, Ignore};
use trainc::exec::detect::{Detection, mean_ap, mean_ap_coco};
use trainc::ir::Metric;
use trainc::run::metrics::Tally;

const COCOEVAL: &str = r#"
import json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
gt = COCO(sys.argv[1])
dt = gt.loadRes(sys.argv[2])
e = COCOeval(gt, dt, "bbox")
e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps({"map": e.stats[0], "map50": e.stats[1]}))
"#;

/// The last line of a python script's output, as JSON.
fn run_python(python: &str, script: &str, args: &[&Path]) -> Value {
    let out = Command::new(python).env("OMP_NUM_THREADS", "1").arg("-c").arg(script).args(args).output();
    let out = out.expect("python runs");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line")
}

fn temp_dir(name: &str) -> common::Scratch {
    common::scratch(&format!("metrics-{name}"))
}

/// A small deterministic generator (numbers in [0, 1)).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// Category ids as a COCO file might have them: not from 1, not contiguous, not in name order.
const CATEGORY_IDS: [i64; 3] = [12, 3, 7];

/// Ground truth and detections: 12 images of up to 4 boxes (some crowd regions), 2 without any
/// box; detections near the truth with noise, duplicates, misses and false positives, some on
/// the crowd regions and the empty images.
fn synthetic() -> (Vec<Vec<BoxLabel>>, Vec<Vec<Detection>>) {
    let mut rng = Lcg(7);
    let (mut truth, mut found) = (Vec::new(), Vec::new());
    for image in 0..14 {
        let mut boxes = Vec::new();
        let mut dets = Vec::new();
        let count = if image >= 12 { 0 } else { 1 + (rng.next() * 4.0) as usize };
        for k in 0..count {
            let (x0, y0) = (rng.next() * 80.0, rng.next() * 80.0);
            let (w, h) = (8.0 + rng.next() * 30.0, 8.0 + rng.next() * 30.0);
            let class = (rng.next() * 3.0) as usize % 3;
            let ignore = k == 3 || (image % 5 == 0 && k == 0);
            boxes.push(BoxLabel {
                class,
                x0,
                y0,
                x1: x0 + w,
                y1: y0 + h,
                ignore: if ignore { Ignore::Crowd } else { Ignore::No },
            });
            // Found most of the time, shifted by up to a quarter of its size.
            if rng.next() < 0.8 {
                let (dx, dy) = ((rng.next() - 0.5) * w * 0.5, (rng.next() - 0.5) * h * 0.5);
                let d =
                    |score: f32| Detection { class, score, x0: x0 + dx, y0: y0 + dy, x1: x0 + w + dx, y1: y0 + h + dy };
                dets.push(d(0.2 + 0.79 * rng.next()));
                if rng.next() < 0.2 {
                    dets.push(d(0.1 + 0.5 * rng.next()));
                }
            }
        }
        // False positives, everywhere (the empty images included).
        for _ in 0..(rng.next() * 3.0) as usize {
            let (x0, y0) = (rng.next() * 90.0, rng.next() * 90.0);
            let class = (rng.next() * 3.0) as usize % 3;
            dets.push(Detection { class, score: rng.next() * 0.9, x0, y0, x1: x0 + 12.0, y1: y0 + 9.0 });
        }
        truth.push(boxes);
        found.push(dets);
    }
    (truth, found)
}

/// The ground truth as a COCO annotation file (image ids from 101, categories by [`CATEGORY_IDS`]).
fn coco_truth(truth: &[Vec<BoxLabel>]) -> Value {
    let images: Vec<Value> = (0..truth.len())
        .map(|i| json!({"id": 101 + i, "file_name": format!("{i}.png"), "width": 128, "height": 128}))
        .collect();
    let mut annotations = Vec::new();
    for (i, boxes) in truth.iter().enumerate() {
        for b in boxes {
            let (w, h) = (b.x1 - b.x0, b.y1 - b.y0);
            annotations.push(json!({
                "id": annotations.len() + 1, "image_id": 101 + i, "category_id": CATEGORY_IDS[b.class],
                "bbox": [b.x0, b.y0, w, h], "area": w * h, "iscrowd": i32::from(b.ignored()),
            }));
        }
    }
    let categories: Vec<Value> = CATEGORY_IDS.iter().map(|id| json!({"id": id, "name": format!("c{id}")})).collect();
    json!({"images": images, "annotations": annotations, "categories": categories})
}

fn coco_results(found: &[Vec<Detection>]) -> Value {
    let results: Vec<Value> = found
        .iter()
        .enumerate()
        .flat_map(|(i, ds)| {
            ds.iter().map(move |d| {
                json!({"image_id": 101 + i, "category_id": CATEGORY_IDS[d.class],
                       "bbox": [d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0], "score": d.score})
            })
        })
        .collect();
    Value::Array(results)
}

#[test]
fn detection_map_agrees_with_pycocotools() {
    let Some(python) = common::torch_python("numpy, pycocotools") else { return };
    let (truth, found) = synthetic();
    assert!(truth.iter().flatten().any(|b| b.ignored()) && truth.iter().any(Vec::is_empty));
    let dir = temp_dir("coco");
    let (gt, dt) = (dir.join("gt.json"), dir.join("dt.json"));
    std::fs::write(&gt, coco_truth(&truth).to_string()).expect("write");
    std::fs::write(&dt, coco_results(&found).to_string()).expect("write");
    let reference = run_python(&python, COCOEVAL, &[&gt, &dt]);
    let (map, map50) = (mean_ap_coco(&found, &truth, 3), mean_ap(&found, &truth, 3, 0.5));
    let (want, want50) = (reference["map"].as_f64().expect("map"), reference["map50"].as_f64().expect("map50"));
    assert!((map - want).abs() < 1e-3, "mAP: trainc {map}, pycocotools {want}");
    assert!((map50 - want50).abs() < 1e-3, "mAP@0.5: trainc {map50}, pycocotools {want50}");
    // Not a degenerate case where both are 0 or 1.
    assert!(want > 0.1 && want < 0.95, "{want}");
}

const NUMPY_MIOU: &str = r#"
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
labels, preds, k = np.array(d["labels"]), np.array(d["preds"]), d["classes"]
keep = labels != 255
cm = np.bincount(labels[keep] * k + preds[keep], minlength=k * k).reshape(k, k)
inter = np.diag(cm).astype(float)
union = cm.sum(0) + cm.sum(1) - np.diag(cm)
present = union > 0
print(json.dumps({"miou": float((inter[present] / union[present]).mean()),
                  "pixel_accuracy": float(inter.sum() / keep.sum())}))
"#;

#[test]
fn segmentation_miou_agrees_with_numpy_with_an_ignore_label() {
    let Some(python) = common::torch_python("numpy, pycocotools") else { return };
    let mut rng = Lcg(3);
    let classes = 5;
    // Class 4 never occurs: it is left out of the mean by both.
    let labels: Vec<usize> =
        (0..4000).map(|_| if rng.next() < 0.15 { 255 } else { (rng.next() * 4.0) as usize }).collect();
    let preds: Vec<usize> = labels
        .iter()
        .map(|l| if rng.next() < 0.7 && *l < classes { *l } else { (rng.next() * 4.0) as usize })
        .collect();
    let dir = temp_dir("miou");
    let data = dir.join("pixels.json");
    std::fs::write(&data, json!({"labels": labels, "preds": preds, "classes": classes}).to_string()).expect("write");
    let reference = run_python(&python, NUMPY_MIOU, &[&data]);
    let tally = Tally { classes, preds, labels, ..Tally::default() };
    let got = tally.compute(&[Metric::Miou, Metric::PixelAccuracy]);
    for name in ["miou", "pixel_accuracy"] {
        let want = reference[name].as_f64().expect(name);
        assert!((got[name] - want).abs() < 1e-3, "{name}: trainc {}, numpy {want}", got[name]);
    }
}

/// Stretches the generated 64×64 scenes to 96×64, renumbers the categories (square 7, disc 3),
/// marks a region of a few scenes as crowd and adds two scenes without boxes.
fn reshape_dataset(data: &Path) {
    let path = data.join("annotations.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("annotations")).expect("json");
    let images = json["images"].as_array_mut().expect("images");
    for image in images.iter_mut() {
        let file = data.join("images").join(image["file_name"].as_str().expect("file"));
        let img = image::open(&file).expect("image").resize_exact(96, 64, image::imageops::FilterType::Triangle);
        img.save(&file).expect("save");
        image["width"] = json!(96);
    }
    for (k, name) in ["empty0.png", "empty1.png"].into_iter().enumerate() {
        image::RgbImage::from_pixel(96, 64, image::Rgb([25, 35, 45]))
            .save(data.join("images").join(name))
            .expect("save");
        images.push(json!({"id": 1000 + k, "file_name": name, "width": 96, "height": 64}));
    }
    let ids = |c: i64| if c == 1 { 7 } else { 3 };
    let annotations = json["annotations"].as_array_mut().expect("annotations");
    for a in annotations.iter_mut() {
        let b: Vec<f64> = a["bbox"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
        a["bbox"] = json!([b[0] * 1.5, b[1], b[2] * 1.5, b[3]]);
        a["area"] = json!(b[2] * 1.5 * b[3]);
        a["category_id"] = json!(ids(a["category_id"].as_i64().expect("category")));
    }
    let next = annotations.len() + 1;
    for (k, image_id) in [1, 4, 9].into_iter().enumerate() {
        annotations.push(json!({"id": next + k, "image_id": image_id, "category_id": 3,
                                "bbox": [60.0, 30.0, 36.0, 34.0], "area": 36.0 * 34.0, "iscrowd": 1}));
    }
    json["categories"] = json!([{"id": 7, "name": "square"}, {"id": 3, "name": "disc"}]);
    std::fs::write(&path, json.to_string()).expect("write");
}

const LETTERBOX_DETECTOR: &str = r#"
use std/backbones.{conv_bn_relu}
use std/heads.{centernet}
dataset shapes = coco("data/annotations.json", images = "data/images")
augment tf(image, boxes) { letterbox(64, 64); hflip(p = 0.5); normalize(imagenet) }
augment ev(image, boxes) { letterbox(64, 64); normalize(imagenet) }
model det(x: Image[B, 3, 64, 64]) -> (heat: [B, classes, 16, 16], size: [B, 2, 16, 16], offset: [B, 2, 16, 16]) {
  h = x |> conv_bn_relu(16) |> conv_bn_relu(32, stride = 2) |> conv_bn_relu(32)
  h = h |> conv_bn_relu(64, stride = 2) |> conv_bn_relu(64)
  return centernet(h, classes, width = 32)
}
train {
  model = det
  data = shapes { batch = 8, augment = tf, eval_augment = ev }
  loss = centernet_loss()
  optimizer = adamw(lr = 2e-3)
  schedule = warmup(steps = 10) then cosine()
  epochs = 12
  metrics = [map50, map]
  seed = 1
}
"#;

/// Boxes predicted on non-square (96×64) images through `letterbox(64, 64)` come back in the
/// original images' pixels: pycocotools scores `predict --format json` against the annotation
/// file as `trainc eval` scores the same checkpoint, within 1e-3, and well above chance.
#[test]
fn letterboxed_predictions_score_in_original_pixels_as_pycocotools_says() {
    let Some(python) = common::torch_python("numpy, pycocotools") else { return };
    let dir = temp_dir("letterbox");
    let out = trainc(&dir, &["gen-data", "shapes-coco", "data", "--per-class", "12", "--seed", "5"]);
    assert!(out.status.success(), "{}", text(&out));
    reshape_dataset(&dir.join("data"));
    std::fs::write(dir.join("det.train"), LETTERBOX_DETECTOR).expect("write");
    let out = trainc(&dir, &["run", "det.train", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let run = std::fs::read_dir(dir.join("runs/det")).expect("runs").next().expect("a run").expect("entry").path();
    let ckpt = run.join("checkpoints/last.bpk");
    let ckpt = ckpt.to_str().expect("utf-8");

    let mut images: Vec<String> = std::fs::read_dir(dir.join("data/images"))
        .expect("images")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    images.sort();
    let mut args = vec!["predict", "det.train", "--checkpoint", ckpt, "--format", "json"];
    args.extend(images.iter().map(String::as_str));
    let predicted = trainc(&dir, &args);
    assert!(predicted.status.success(), "{}", text(&predicted));
    let results: Value = serde_json::from_slice(&predicted.stdout).expect("COCO results");
    let results = results.as_array().expect("an array");
    assert!(!results.is_empty());
    for r in results {
        assert!(r["image_id"].is_i64() && [3, 7].contains(&r["category_id"].as_i64().expect("id")), "{r}");
        let b: Vec<f64> = r["bbox"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
        assert!(b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= 96.0 + 1e-3 && b[1] + b[3] <= 64.0 + 1e-3, "{r}");
    }
    let dt = dir.join("results.json");
    std::fs::write(&dt, predicted.stdout).expect("write");
    let reference = run_python(&python, COCOEVAL, &[&dir.join("data/annotations.json"), &dt]);

    let eval = trainc(&dir, &["eval", "det.train", "--checkpoint", ckpt, "--split", "train", "--format", "json"]);
    assert!(eval.status.success(), "{}", text(&eval));
    let metrics: Value = serde_json::from_slice(&eval.stdout).expect("json");
    for name in ["map", "map50"] {
        let (got, want) = (metrics["train"][name].as_f64().expect(name), reference[name].as_f64().expect(name));
        assert!((got - want).abs() < 1e-3, "{name}: trainc eval {got}, pycocotools on predict's boxes {want}");
    }
    let map50 = reference["map50"].as_f64().expect("map50");
    assert!(map50 > 0.3, "boxes far from the objects: mAP@0.5 {map50}");
    tiled_prediction_finds_objects_in_every_quadrant(&dir, ckpt);
}

/// `predict --tile` on a 192×128 mosaic of four 96×64 scenes: 64×64 tiles overlapping by 32,
/// boxes moved to the mosaic's pixels and merged by NMS, so each quadrant's objects are found
/// where they are and not twice.
fn tiled_prediction_finds_objects_in_every_quadrant(dir: &Path, ckpt: &str) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("data/annotations.json")).expect("json")).expect("json");
    let mut mosaic = image::RgbImage::new(192, 128);
    let mut truth = Vec::new();
    for (k, image) in json["images"].as_array().expect("images").iter().take(4).enumerate() {
        let file = dir.join("data/images").join(image["file_name"].as_str().expect("file"));
        let (ox, oy) = (96 * (k % 2) as i64, 64 * (k / 2) as i64);
        image::imageops::replace(&mut mosaic, &image::open(file).expect("image").to_rgb8(), ox, oy);
        for a in json["annotations"].as_array().expect("annotations") {
            if a["image_id"] == image["id"] && a["iscrowd"] == 0 {
                let b: Vec<f64> = a["bbox"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
                truth.push([b[0] + ox as f64, b[1] + oy as f64, b[2], b[3]]);
            }
        }
    }
    let path = dir.join("mosaic.png");
    mosaic.save(&path).expect("save");
    let out = trainc(
        dir,
        &["predict", "det.train", "--checkpoint", ckpt, "--tile", "--format", "json", path.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let results: Value = serde_json::from_slice(&out.stdout).expect("json");
    let boxes: Vec<[f64; 4]> = results
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["score"].as_f64() > Some(0.3))
        .map(|r| {
            let b: Vec<f64> = r["bbox"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
            [b[0], b[1], b[2], b[3]]
        })
        .collect();
    let iou = |a: &[f64; 4], b: &[f64; 4]| {
        let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
        let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
        iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)
    };
    let found = truth.iter().filter(|t| boxes.iter().any(|b| iou(b, t) > 0.5)).count();
    assert!(found * 2 >= truth.len(), "{found} of {} objects found in the mosaic: {boxes:?}", truth.len());
    for (i, a) in boxes.iter().enumerate() {
        assert!(boxes[i + 1..].iter().all(|b| iou(a, b) < 0.5), "a duplicate across tiles: {boxes:?}");
    }
}
