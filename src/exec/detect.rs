//! CenterNet detection (Zhou et al., "Objects as Points"): dense training targets from boxes, the
//! loss, and decoding of the heads back into scored boxes.
//!
//! Targets are built on the CPU as dense maps the size of the heads, with a mask at object
//! centres, so the loss is a handful of element-wise tensor ops and needs no gather. Decoding runs
//! on the CPU too: the heads of an evaluation batch are small (`B × (C + 4) × h × w`).

use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use super::Act;
use crate::data::{BoxLabel, Ignore};
use crate::ir::Loss;

/// Objects whose box overlaps a shifted copy by at least this IoU keep a positive-ish heat value;
/// CenterNet's default.
const MIN_OVERLAP: f32 = 0.7;

/// The heat head's initial bias: a prior probability of 0.1 for every cell, as in CenterNet and
/// RetinaNet. Starting at 0.5 everywhere makes the first steps spend themselves on background.
pub const HEAT_PRIOR_BIAS: f32 = -2.19;

/// Dense targets for a batch, each `[B, ·, h, w]` row-major.
#[derive(Debug, Clone)]
pub struct Targets {
    pub dims: [usize; 4],
    /// Gaussian peaks at object centres, per class (`[B, C, h, w]`).
    pub heat: Vec<f32>,
    /// 1 exactly at object centres (`[B, C, h, w]`).
    pub centre: Vec<f32>,
    /// Box width and height in head cells (`[B, 2, h, w]`), set at centres only.
    pub size: Vec<f32>,
    /// Sub-cell position of the centre (`[B, 2, h, w]`), set at centres only.
    pub offset: Vec<f32>,
    /// 1 at centres in both channels (`[B, 2, h, w]`): where size and offset are regressed.
    pub regress: Vec<f32>,
    pub objects: usize,
}

/// The radius in cells within which a centre may move and still overlap the box by
/// [`MIN_OVERLAP`] (CornerNet's three cases, with the corrected quadratic solution).
pub fn gaussian_radius(h: f32, w: f32) -> f32 {
    let m = MIN_OVERLAP;
    let root = |a: f32, b: f32, c: f32, sign: f32| (b + sign * (b * b - 4.0 * a * c).max(0.0).sqrt()) / (2.0 * a);
    let r1 = root(1.0, h + w, w * h * (1.0 - m) / (1.0 + m), -1.0);
    let r2 = root(4.0, 2.0 * (h + w), (1.0 - m) * w * h, -1.0);
    let r3 = root(4.0 * m, -2.0 * m * (h + w), (m - 1.0) * w * h, 1.0);
    r1.min(r2).min(r3)
}

impl Targets {
    /// Targets for heads of `h × w` cells over images of `image_h × image_w` pixels; boxes are in
    /// the (augmented) image's pixels. Boxes with no area are skipped.
    pub fn new(
        boxes: &[Vec<BoxLabel>],
        classes: usize,
        (image_h, image_w): (usize, usize),
        (h, w): (usize, usize),
    ) -> Targets {
        let b = boxes.len();
        let (sy, sx) = (image_h as f32 / h as f32, image_w as f32 / w as f32);
        let mut t = Targets {
            dims: [b, classes, h, w],
            heat: vec![0.0; b * classes * h * w],
            centre: vec![0.0; b * classes * h * w],
            size: vec![0.0; b * 2 * h * w],
            offset: vec![0.0; b * 2 * h * w],
            regress: vec![0.0; b * 2 * h * w],
            objects: 0,
        };
        for (i, image) in boxes.iter().enumerate() {
            for bx in image {
                let (bw, bh) = ((bx.x1 - bx.x0) / sx, (bx.y1 - bx.y0) / sy);
                // Crowd and difficult regions are no targets (nor negatives: CenterNet has no
                // ignore mask, so they are simply left out).
                if bw <= 0.0 || bh <= 0.0 || bx.class >= classes || bx.ignored() {
                    continue;
                }
                let (cx, cy) = ((bx.x0 + bx.x1) / 2.0 / sx, (bx.y0 + bx.y1) / 2.0 / sy);
                let (ix, iy) = ((cx.floor() as usize).min(w - 1), (cy.floor() as usize).min(h - 1));
                let radius = gaussian_radius(bh, bw).floor().max(0.0) as i64;
                let sigma = (2 * radius + 1) as f32 / 6.0;
                let plane = (i * classes + bx.class) * h * w;
                for dy in -radius..=radius {
                    for dx in -radius..=radius {
                        let (y, x) = (iy as i64 + dy, ix as i64 + dx);
                        if y < 0 || x < 0 || y >= h as i64 || x >= w as i64 {
                            continue;
                        }
                        let g = (-((dx * dx + dy * dy) as f32) / (2.0 * sigma * sigma)).exp();
                        let cell = &mut t.heat[plane + y as usize * w + x as usize];
                        *cell = cell.max(g);
                    }
                }
                t.heat[plane + iy * w + ix] = 1.0;
                t.centre[plane + iy * w + ix] = 1.0;
                let at = |ch: usize| (i * 2 + ch) * h * w + iy * w + ix;
                t.size[at(0)] = bw;
                t.size[at(1)] = bh;
                t.offset[at(0)] = cx - ix as f32;
                t.offset[at(1)] = cy - iy as f32;
                t.regress[at(0)] = 1.0;
                t.regress[at(1)] = 1.0;
                t.objects += 1;
            }
        }
        t
    }
}

/// The three heads of a CenterNet model for one batch.
#[derive(Clone, Debug)]
pub struct Heads {
    /// Class logits (`[B, C, h, w]`); the probability is their sigmoid.
    pub heat: Tensor<4>,
    pub size: Tensor<4>,
    pub offset: Tensor<4>,
}

impl Heads {
    /// The model outputs named `heat`, `size` and `offset`; otherwise why not.
    pub fn from_outputs(mut out: Vec<(String, Act)>) -> Result<Heads, String> {
        let mut head = |name: &str| {
            let i =
                out.iter().position(|(n, _)| n == name).ok_or_else(|| format!("the model has no output `{name}`"))?;
            out.swap_remove(i).1.d4().ok_or_else(|| format!("output `{name}` is not 4-D"))
        };
        Ok(Heads { heat: head("heat")?, size: head("size")?, offset: head("offset")? })
    }
}

/// `centernet_loss`: the penalty-reduced focal loss on the heatmap plus L1 on sizes and offsets at
/// object centres, each normalised by the number of objects, weighted as the loss says.
pub fn centernet_loss(loss: &Loss, heads: &Heads, t: &Targets, device: &Device) -> Tensor<1> {
    let &Loss::CenterNet { heat_weight, size_weight, offset_weight } = loss else {
        unreachable!("the checker lets detection train with `centernet_loss` only, not `{}`", loss.name())
    };
    let [b, c, h, w] = t.dims;
    let map = |v: &[f32], ch: usize| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [b, ch, h, w]), device);
    let (gt, centre) = (map(&t.heat, c), map(&t.centre, c));
    let objects = t.objects.max(1) as f64;

    let x = heads.heat.clone();
    let p = sigmoid(x.clone());
    // log σ(x) and log(1 − σ(x)) = log σ(−x), stable for large |x|.
    let (log_p, log_not_p) = (log_sigmoid(x.clone()), log_sigmoid(x.neg()));
    let positive = log_p * (p.clone().neg() + 1.0).powi_scalar(2) * centre.clone();
    let not_centre = centre.neg() + 1.0;
    let negative = log_not_p * p.powi_scalar(2) * (gt.neg() + 1.0).powi_scalar(4) * not_centre;
    let focal = (positive.sum() + negative.sum()).neg() / objects;

    let regress = map(&t.regress, 2);
    let size = ((heads.size.clone() - map(&t.size, 2)).abs() * regress.clone()).sum() / objects;
    let offset = ((heads.offset.clone() - map(&t.offset, 2)).abs() * regress).sum() / objects;
    focal * heat_weight + size * size_weight + offset * offset_weight
}

/// A decoded box in image pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    pub class: usize,
    pub score: f32,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

/// How many boxes an image keeps after decoding (COCO evaluates at most 100).
pub const MAX_DETECTIONS: usize = 100;
/// Peaks below this probability are not boxes.
pub const MIN_SCORE: f32 = 0.01;

/// Decodes heads into boxes per image: peaks of the class heatmap that are the maximum of their
/// 3×3 neighbourhood (CenterNet's max-pool "NMS"), the best [`MAX_DETECTIONS`] per image.
pub fn decode(heads: &Heads, (image_h, image_w): (usize, usize)) -> Vec<Vec<Detection>> {
    let [b, c, h, w] = heads.heat.dims();
    let read = |t: &Tensor<4>| t.clone().try_into_vec_as::<f32>().unwrap_or_default();
    let (heat, size, offset) = (read(&heads.heat), read(&heads.size), read(&heads.offset));
    let (sy, sx) = (image_h as f32 / h as f32, image_w as f32 / w as f32);
    (0..b)
        .map(|i| {
            let mut found = Vec::new();
            for class in 0..c {
                let plane = &heat[(i * c + class) * h * w..(i * c + class + 1) * h * w];
                for y in 0..h {
                    for x in 0..w {
                        let v = plane[y * w + x];
                        let is_peak = (y.saturating_sub(1)..(y + 2).min(h))
                            .all(|ny| (x.saturating_sub(1)..(x + 2).min(w)).all(|nx| plane[ny * w + nx] <= v));
                        let score = 1.0 / (1.0 + (-v).exp());
                        if !is_peak || score < MIN_SCORE {
                            continue;
                        }
                        let at = |ch: usize| (i * 2 + ch) * h * w + y * w + x;
                        let (cx, cy) = ((x as f32 + offset[at(0)]) * sx, (y as f32 + offset[at(1)]) * sy);
                        let (bw, bh) = (size[at(0)].max(0.0) * sx, size[at(1)].max(0.0) * sy);
                        found.push(Detection {
                            class,
                            score,
                            x0: cx - bw / 2.0,
                            y0: cy - bh / 2.0,
                            x1: cx + bw / 2.0,
                            y1: cy + bh / 2.0,
                        });
                    }
                }
            }
            found.sort_by(|a, b| b.score.total_cmp(&a.score));
            found.truncate(MAX_DETECTIONS);
            found
        })
        .collect()
}

/// Greedy class-wise non-maximum suppression: boxes by descending score, each dropped when it
/// overlaps a kept box of its class by IoU ≥ `threshold` (merging detections of overlapping tiles).
pub fn nms(mut boxes: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in boxes {
        let as_label =
            |k: &Detection| BoxLabel { class: k.class, x0: k.x0, y0: k.y0, x1: k.x1, y1: k.y1, ..Default::default() };
        if !kept.iter().any(|k| k.class == d.class && iou(&d, &as_label(k)) >= threshold as f64) {
            kept.push(d);
        }
    }
    kept
}

/// The overlap of a detection with a ground-truth box, in `f64` as pycocotools computes it:
/// intersection over union, or for a crowd region intersection over the detection's
/// area, so a detection inside a crowd region matches it.
fn iou(a: &Detection, b: &BoxLabel) -> f64 {
    let [ax0, ay0, ax1, ay1] = [a.x0, a.y0, a.x1, a.y1].map(f64::from);
    let [bx0, by0, bx1, by1] = [b.x0, b.y0, b.x1, b.y1].map(f64::from);
    let inter = (ax1.min(bx1) - ax0.max(bx0)).max(0.0) * (ay1.min(by1) - ay0.max(by0)).max(0.0);
    let det = (ax1 - ax0) * (ay1 - ay0);
    let union = if b.ignore == Ignore::Crowd { det } else { det + (bx1 - bx0) * (by1 - by0) - inter };
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The COCO IoU thresholds 0.50, 0.55, …, 0.95, computed as NumPy's `linspace` computes them
/// (so a threshold equal to an IoU compares as in pycocotools).
pub fn coco_thresholds() -> [f64; 10] {
    std::array::from_fn(|i| 0.5 + i as f64 * (0.45 / 9.0))
}

/// What one ranked detection turned out to be.
#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Hit,
    Miss,
    /// Matched an ignored (crowd or difficult) region: left out of the curve.
    Ignored,
}

/// Matches one detection against its image's ground truth of its class, as pycocotools'
/// `evaluateImg` does: the best IoU ≥ `threshold` among unmatched boxes that count, and only
/// when none does, an ignored region (which any number of detections may match).
fn match_detection(d: &Detection, truth: &[BoxLabel], matched: &mut [bool], class: usize, threshold: f64) -> Outcome {
    let counted = truth.iter().enumerate().filter(|(_, g)| g.class == class && !g.ignored());
    let ignored = truth.iter().enumerate().filter(|(_, g)| g.class == class && g.ignored());
    let (mut best, mut best_iou) = (None::<usize>, threshold.min(1.0 - 1e-10));
    for (j, g) in counted.chain(ignored) {
        if matched[j] && !g.ignored() {
            continue;
        }
        if best.is_some_and(|m| !truth[m].ignored()) && g.ignored() {
            break;
        }
        let v = iou(d, g);
        if v < best_iou {
            continue;
        }
        (best, best_iou) = (Some(j), v);
    }
    match best {
        None => Outcome::Miss,
        Some(j) if truth[j].ignored() => Outcome::Ignored,
        Some(j) => {
            matched[j] = true;
            Outcome::Hit
        }
    }
}

/// The detections of one class, best first, at most [`MAX_DETECTIONS`] per image (COCO's
/// `maxDets`), with their image; ties keep image order, as pycocotools' stable sort does.
fn ranked(detections: &[Vec<Detection>], class: usize) -> Vec<(usize, &Detection)> {
    let mut out = Vec::new();
    for (i, ds) in detections.iter().enumerate() {
        let mut mine: Vec<&Detection> = ds.iter().filter(|d| d.class == class).collect();
        mine.sort_by(|a, b| b.score.total_cmp(&a.score));
        out.extend(mine.into_iter().take(MAX_DETECTIONS).map(|d| (i, d)));
    }
    out.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    out
}

/// The average precision of one class at one threshold, or `None` when no box of the class
/// counts (pycocotools' −1, left out of the mean).
fn class_ap(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], class: usize, threshold: f64) -> Option<f64> {
    let gts: usize = truth.iter().map(|t| t.iter().filter(|b| b.class == class && !b.ignored()).count()).sum();
    if gts == 0 {
        return None;
    }
    let images = detections.len().max(truth.len());
    let mut matched: Vec<Vec<bool>> = (0..images).map(|i| vec![false; truth.get(i).map_or(0, Vec::len)]).collect();
    let (mut tp, mut fp, mut curve) = (0usize, 0usize, Vec::new());
    for (image, d) in ranked(detections, class) {
        let empty = Vec::new();
        let image_truth = truth.get(image).unwrap_or(&empty);
        match match_detection(d, image_truth, &mut matched[image], class, threshold) {
            Outcome::Hit => tp += 1,
            Outcome::Miss => fp += 1,
            Outcome::Ignored => continue,
        }
        curve.push((tp as f64 / gts as f64, tp as f64 / (tp + fp) as f64));
    }
    // The envelope: precision at recall r is the best precision at any recall ≥ r.
    for k in (0..curve.len().saturating_sub(1)).rev() {
        curve[k].1 = curve[k].1.max(curve[k + 1].1);
    }
    // 101 recall points, as NumPy's `linspace(0, 1, 101)` gives them.
    let sum: f64 = (0..=100)
        .map(|r| {
            let r = r as f64 * 0.01;
            curve.iter().find(|(recall, _)| *recall >= r).map_or(0.0, |(_, p)| *p)
        })
        .sum();
    Some(sum / 101.0)
}

/// COCO-style mean average precision at one IoU threshold, computed as pycocotools computes it:
/// per class, each image's detections by descending score are matched to the best unmatched
/// ground truth of the image; detections matching an ignored region (crowd, difficult) count
/// neither way; AP is the precision envelope sampled at 101 recall points. The mean is over
/// classes with ground truth that counts; images with no boxes hold only false positives.
pub fn mean_ap(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize, threshold: f64) -> f64 {
    let aps: Vec<f64> = (0..classes).filter_map(|c| class_ap(detections, truth, c, threshold)).collect();
    if aps.is_empty() { 0.0 } else { aps.iter().sum::<f64>() / aps.len() as f64 }
}

/// COCO's mAP: the mean of [`mean_ap`] over IoU thresholds 0.50, 0.55, …, 0.95.
pub fn mean_ap_coco(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize) -> f64 {
    coco_thresholds().iter().map(|t| mean_ap(detections, truth, classes, *t)).sum::<f64>() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `centernet_loss()` with the table's defaults.
    const DEFAULT_WEIGHTS: Loss = Loss::CenterNet { heat_weight: 1.0, size_weight: 0.1, offset_weight: 1.0 };

    fn gt(class: usize, x0: f32, y0: f32, x1: f32, y1: f32) -> BoxLabel {
        BoxLabel { class, x0, y0, x1, y1, ..Default::default() }
    }

    fn det(class: usize, score: f32, b: &BoxLabel) -> Detection {
        Detection { class, score, x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 }
    }

    #[test]
    fn targets_put_a_peak_size_and_offset_at_the_centre() {
        // A 64×64 image, 16×16 heads (stride 4); a 20×12 box centred at (30, 18) → cell (7.5, 4.5).
        let t = Targets::new(&[vec![gt(1, 20.0, 12.0, 40.0, 24.0)]], 2, (64, 64), (16, 16));
        assert_eq!(t.objects, 1);
        let plane = 16 * 16;
        let centre = plane + 4 * 16 + 7;
        assert_eq!(t.heat[centre], 1.0);
        assert_eq!(t.centre.iter().sum::<f32>(), 1.0);
        assert!(t.heat[..plane].iter().all(|v| *v == 0.0), "class 0 has no object");
        assert_eq!((t.size[4 * 16 + 7], t.size[plane + 4 * 16 + 7]), (5.0, 3.0));
        assert_eq!((t.offset[4 * 16 + 7], t.offset[plane + 4 * 16 + 7]), (0.5, 0.5));
        // Neighbours of the peak are below 1 and the gaussian is symmetric.
        let r = gaussian_radius(3.0, 5.0).floor() as usize;
        if r > 0 {
            assert!(t.heat[centre + 1] < 1.0 && t.heat[centre + 1] > 0.0);
            assert_eq!(t.heat[centre + 1], t.heat[centre - 1]);
        }
    }

    #[test]
    fn gaussian_radius_grows_with_the_box() {
        assert!(gaussian_radius(4.0, 4.0) < gaussian_radius(16.0, 16.0));
        assert!(gaussian_radius(16.0, 16.0) > 1.0);
    }

    #[test]
    fn decoding_perfect_heads_gives_back_the_boxes() {
        let device = Device::flex();
        let boxes = vec![vec![gt(0, 8.0, 8.0, 24.0, 32.0), gt(1, 36.0, 40.0, 60.0, 56.0)]];
        let t = Targets::new(&boxes, 2, (64, 64), (16, 16));
        let logit: Vec<f32> = t.centre.iter().map(|c| if *c > 0.0 { 6.0 } else { -6.0 }).collect();
        let heads = Heads {
            heat: Tensor::from_data(TensorData::new(logit, [1, 2, 16, 16]), &device),
            size: Tensor::from_data(TensorData::new(t.size.clone(), [1, 2, 16, 16]), &device),
            offset: Tensor::from_data(TensorData::new(t.offset.clone(), [1, 2, 16, 16]), &device),
        };
        let found = decode(&heads, (64, 64));
        assert_eq!(found[0].len(), 2);
        for d in &found[0] {
            let g = boxes[0].iter().find(|g| g.class == d.class).expect("a box of the class");
            assert!(iou(d, g) > 0.999, "{d:?} vs {g:?}");
        }
        assert!((mean_ap_coco(&found, &boxes, 2) - 1.0).abs() < 1e-9);
        // The loss of near-perfect heads is small; of empty heads, large.
        let perfect = centernet_loss(&DEFAULT_WEIGHTS, &heads, &t, &device).into_scalar::<f32>();
        let zero =
            Heads { heat: heads.heat.zeros_like(), size: heads.size.zeros_like(), offset: heads.offset.zeros_like() };
        let empty = centernet_loss(&DEFAULT_WEIGHTS, &zero, &t, &device).into_scalar::<f32>();
        assert!(perfect < 0.1 && empty > 10.0 * perfect, "perfect {perfect}, empty {empty}");
    }

    #[test]
    fn average_precision_counts_misses_and_false_positives() {
        let a = gt(0, 0.0, 0.0, 10.0, 10.0);
        let b = gt(0, 20.0, 20.0, 30.0, 30.0);
        let truth = vec![vec![a, b]];
        // One hit only: recall reaches 0.5 at precision 1 → AP = 51/101.
        let half = mean_ap(&[vec![det(0, 0.9, &a)]], &truth, 1, 0.5);
        assert!((half - 51.0 / 101.0).abs() < 1e-9, "{half}");
        // A confident false positive before both hits: precision 1/2 then 2/3 → envelope 2/3 everywhere.
        let far = gt(0, 50.0, 50.0, 60.0, 60.0);
        let noisy = mean_ap(&[vec![det(0, 0.95, &far), det(0, 0.9, &a), det(0, 0.8, &b)]], &truth, 1, 0.5);
        assert!((noisy - 2.0 / 3.0).abs() < 1e-9, "{noisy}");
        // A duplicate of a matched box is a false positive, and a box of the wrong class counts for nothing.
        let dup = mean_ap(&[vec![det(0, 0.9, &a), det(0, 0.8, &a), det(1, 0.99, &b)]], &truth, 1, 0.5);
        assert!((dup - 51.0 / 101.0).abs() < 1e-9, "{dup}");
        // Shifted by 2 px of 10: IoU 0.667 counts at 0.5, not at 0.75.
        let shifted = gt(0, 2.0, 0.0, 12.0, 10.0);
        let one = vec![vec![a]];
        assert_eq!(mean_ap(&[vec![det(0, 0.9, &shifted)]], &one, 1, 0.5), 1.0);
        assert_eq!(mean_ap(&[vec![det(0, 0.9, &shifted)]], &one, 1, 0.75), 0.0);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let a = gt(0, 0.0, 0.0, 10.0, 10.0);
        let a2 = gt(0, 1.0, 0.0, 11.0, 10.0);
        let kept = nms(vec![det(0, 0.8, &a2), det(0, 0.9, &a), det(1, 0.7, &a)], 0.5);
        assert_eq!(kept, vec![det(0, 0.9, &a), det(1, 0.7, &a)]);
    }

    #[test]
    fn crowd_regions_neither_hit_nor_miss() {
        let a = gt(0, 0.0, 0.0, 10.0, 10.0);
        let crowd = BoxLabel { ignore: Ignore::Crowd, ..gt(0, 20.0, 20.0, 60.0, 60.0) };
        let truth = vec![vec![a, crowd]];
        // Two detections inside the crowd (IoU over the detection's area = 1), ranked first:
        // ignored, so the one hit gives AP 1.
        let inside = gt(0, 25.0, 25.0, 35.0, 35.0);
        let ds = vec![vec![det(0, 0.99, &inside), det(0, 0.98, &inside), det(0, 0.9, &a)]];
        assert_eq!(mean_ap(&ds, &truth, 1, 0.5), 1.0);
        // A class with only crowd regions is left out of the mean; an empty image adds misses.
        let only_crowd = vec![vec![a, BoxLabel { class: 1, ..crowd }], vec![]];
        let ds = vec![vec![det(0, 0.9, &a), det(1, 0.9, &inside)], vec![det(0, 0.95, &a)]];
        assert!((mean_ap(&ds, &only_crowd, 2, 0.5) - 0.5).abs() < 1e-9);
    }
}
