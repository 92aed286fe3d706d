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
    /// the (augmented) image's pixels. Boxes with no area, and difficult or crowd boxes, are
    /// skipped: they train nothing (their cells stay background).
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
                if bw <= 0.0 || bh <= 0.0 || bx.class >= classes || bx.ignore != Ignore::No {
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

/// The overlap of a detection with a ground-truth box, in f64 as pycocotools computes it:
/// intersection over union, or over the detection's area for a crowd region.
fn iou(a: &Detection, b: &BoxLabel) -> f64 {
    let (ax0, ay0, ax1, ay1) = (a.x0 as f64, a.y0 as f64, a.x1 as f64, a.y1 as f64);
    let (bx0, by0, bx1, by1) = (b.x0 as f64, b.y0 as f64, b.x1 as f64, b.y1 as f64);
    let inter = (ax1.min(bx1) - ax0.max(bx0)).max(0.0) * (ay1.min(by1) - ay0.max(by0)).max(0.0);
    let own = (ax1 - ax0) * (ay1 - ay0);
    let union = if b.ignore == Ignore::Crowd { own } else { own + (bx1 - bx0) * (by1 - by0) - inter };
    if union > 0.0 { inter / union } else { 0.0 }
}

/// How one ranked detection matched: a true or false positive, or ignored (it matched a
/// difficult or crowd box).
#[derive(Clone, Copy, PartialEq)]
enum Match {
    True,
    False,
    Ignored,
}

/// Matches one detection against its image's ground truth of its class (`order`: indices into
/// `truth`, ordinary boxes first), as pycocotools' `evaluateImg` does: the best overlap at or
/// above the threshold wins; an ordinary box matches once, an ignored one any number of times,
/// and once an ordinary box matched, ignored ones are not tried.
fn match_one(d: &Detection, truth: &[BoxLabel], order: &[usize], matched: &mut [bool], threshold: f64) -> Match {
    let mut best: Option<usize> = None;
    let mut bar = threshold.min(1.0 - 1e-10);
    for &g in order {
        let ignored = truth[g].ignore != Ignore::No;
        if matched[g] && !ignored {
            continue;
        }
        if best.is_some_and(|m| truth[m].ignore == Ignore::No) && ignored {
            break;
        }
        let v = iou(d, &truth[g]);
        if v < bar {
            continue;
        }
        bar = v;
        best = Some(g);
    }
    match best {
        None => Match::False,
        Some(g) => {
            matched[g] = true;
            if truth[g].ignore == Ignore::No { Match::True } else { Match::Ignored }
        }
    }
}

/// Average precision of one class: the precision envelope sampled at pycocotools' 101 recall
/// points (`np.linspace(0, 1, 101)`, the first recall at or above each).
fn average_precision(outcomes: &[Match], gts: usize) -> f64 {
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Match::True => tp += 1,
            Match::False => fp += 1,
            Match::Ignored => continue,
        }
        curve.push((tp as f64 / gts as f64, tp as f64 / (tp + fp) as f64));
    }
    // The envelope: precision at recall r is the best precision at any recall ≥ r.
    for k in (0..curve.len().saturating_sub(1)).rev() {
        curve[k].1 = curve[k].1.max(curve[k + 1].1);
    }
    (0..=100)
        .map(|i| {
            let r = if i == 100 { 1.0 } else { i as f64 * 0.01 };
            curve.iter().find(|(recall, _)| *recall >= r).map_or(0.0, |(_, p)| *p)
        })
        .sum::<f64>()
        / 101.0
}

/// COCO-style mean average precision at one IoU threshold: per class, detections of all images by
/// descending score are matched to the ground truth of their image (see [`match_one`]); AP is the
/// precision envelope sampled at 101 recall points. The mean is over classes with ordinary
/// (not ignored) ground truth; difficult and crowd boxes neither count nor penalise.
pub fn mean_ap(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize, threshold: f32) -> f64 {
    mean_ap_at(detections, truth, classes, threshold as f64)
}

fn mean_ap_at(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize, threshold: f64) -> f64 {
    let mut aps = Vec::new();
    for class in 0..classes {
        let gts: usize = truth.iter().flatten().filter(|b| b.class == class && b.ignore == Ignore::No).count();
        if gts == 0 {
            continue;
        }
        let mut ranked: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .flat_map(|(i, ds)| ds.iter().filter(|d| d.class == class).map(move |d| (i, d)))
            .collect();
        ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        // Per image, its boxes of the class, ordinary ones first.
        let order: Vec<Vec<usize>> = truth
            .iter()
            .map(|t| {
                let mut idx: Vec<usize> = (0..t.len()).filter(|j| t[*j].class == class).collect();
                idx.sort_by_key(|j| t[*j].ignore != Ignore::No);
                idx
            })
            .collect();
        let mut matched: Vec<Vec<bool>> = truth.iter().map(|t| vec![false; t.len()]).collect();
        let outcomes: Vec<Match> = ranked
            .iter()
            .map(|(image, d)| match truth.get(*image) {
                Some(t) => match_one(d, t, &order[*image], &mut matched[*image], threshold),
                None => Match::False,
            })
            .collect();
        aps.push(average_precision(&outcomes, gts));
    }
    if aps.is_empty() { 0.0 } else { aps.iter().sum::<f64>() / aps.len() as f64 }
}

/// COCO's mAP: the mean of [`mean_ap`] over IoU thresholds 0.50, 0.55, …, 0.95 (computed as
/// `np.linspace(.5, .95, 10)` computes them).
pub fn mean_ap_coco(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize) -> f64 {
    let step = (0.95 - 0.5) / 9.0;
    (0..10)
        .map(|i| mean_ap_at(detections, truth, classes, if i == 9 { 0.95 } else { 0.5 + i as f64 * step }))
        .sum::<f64>()
        / 10.0
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

    /// Crowd and difficult boxes neither count as misses nor make a detection on them a false
    /// positive; a crowd region takes any number of detections inside it.
    #[test]
    fn ignored_boxes_neither_count_nor_penalise() {
        let a = gt(0, 0.0, 0.0, 10.0, 10.0);
        let crowd = BoxLabel { ignore: Ignore::Crowd, ..gt(0, 20.0, 20.0, 60.0, 60.0) };
        let hard = BoxLabel { ignore: Ignore::Difficult, ..gt(0, 100.0, 0.0, 110.0, 10.0) };
        let truth = vec![vec![a, crowd, hard]];
        let inside = gt(0, 25.0, 25.0, 35.0, 35.0);
        let found = vec![vec![det(0, 0.95, &inside), det(0, 0.9, &hard), det(0, 0.85, &hard), det(0, 0.8, &a)]];
        assert_eq!(mean_ap(&found, &truth, 1, 0.5), 1.0);
        // Without the flags they are misses and the detections on them false positives.
        let plain = vec![vec![a, BoxLabel { ignore: Ignore::No, ..crowd }, BoxLabel { ignore: Ignore::No, ..hard }]];
        assert!(mean_ap(&found, &plain, 1, 0.5) < 0.7);
        // An image with only ignored boxes of a class leaves the class out of the mean.
        assert_eq!(mean_ap(&[vec![det(0, 0.9, &inside)]], &[vec![crowd]], 1, 0.5), 0.0);
        let t = Targets::new(&truth, 1, (128, 128), (16, 16));
        assert_eq!(t.objects, 1, "ignored boxes add no training target");
    }
}
