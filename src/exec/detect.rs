//! CenterNet detection (Zhou et al., "Objects as Points"): dense training targets from boxes, the
//! loss, and decoding of the heads back into scored boxes.
//!
//! Targets are built on the CPU as dense maps the size of the heads, with a mask at object
//! centres, so the loss is a handful of element-wise tensor ops and needs no gather. Decoding runs
//! on the CPU too: the heads of an evaluation batch are small (`B × (C + 4) × h × w`).

use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use super::Act;
use crate::data::BoxLabel;
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
                if bw <= 0.0 || bh <= 0.0 || bx.class >= classes {
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

fn iou(a: &Detection, b: &BoxLabel) -> f32 {
    let iw = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let ih = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = iw * ih;
    let union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// COCO-style mean average precision at one IoU threshold: per class, detections of all images by
/// descending score are matched greedily to unmatched ground truth of their image; AP is the
/// precision envelope sampled at 101 recall points. The mean is over classes with ground truth.
pub fn mean_ap(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize, threshold: f32) -> f64 {
    let mut aps = Vec::new();
    for class in 0..classes {
        let gts: usize = truth.iter().map(|t| t.iter().filter(|b| b.class == class).count()).sum();
        if gts == 0 {
            continue;
        }
        let mut ranked: Vec<(usize, &Detection)> = detections
            .iter()
            .enumerate()
            .flat_map(|(i, ds)| ds.iter().filter(|d| d.class == class).map(move |d| (i, d)))
            .collect();
        ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        let mut matched: Vec<Vec<bool>> = truth.iter().map(|t| vec![false; t.len()]).collect();
        let (mut tp, mut curve) = (0usize, Vec::with_capacity(ranked.len()));
        for (k, (image, d)) in ranked.iter().enumerate() {
            let best = truth[*image]
                .iter()
                .enumerate()
                .filter(|(j, g)| g.class == class && !matched[*image][*j])
                .map(|(j, g)| (j, iou(d, g)))
                .filter(|(_, v)| *v >= threshold)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((j, _)) = best {
                matched[*image][j] = true;
                tp += 1;
            }
            curve.push((tp as f64 / gts as f64, tp as f64 / (k + 1) as f64));
        }
        // The envelope: precision at recall r is the best precision at any recall ≥ r.
        for k in (0..curve.len().saturating_sub(1)).rev() {
            curve[k].1 = curve[k].1.max(curve[k + 1].1);
        }
        let ap = (0..=100)
            .map(|r| {
                let r = r as f64 / 100.0;
                curve.iter().find(|(recall, _)| *recall >= r - 1e-12).map_or(0.0, |(_, p)| *p)
            })
            .sum::<f64>()
            / 101.0;
        aps.push(ap);
    }
    if aps.is_empty() { 0.0 } else { aps.iter().sum::<f64>() / aps.len() as f64 }
}

/// COCO's mAP: the mean of [`mean_ap`] over IoU thresholds 0.50, 0.55, …, 0.95.
pub fn mean_ap_coco(detections: &[Vec<Detection>], truth: &[Vec<BoxLabel>], classes: usize) -> f64 {
    (0..10).map(|i| mean_ap(detections, truth, classes, 0.5 + 0.05 * i as f32)).sum::<f64>() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `centernet_loss()` with the table's defaults.
    const DEFAULT_WEIGHTS: Loss = Loss::CenterNet { heat_weight: 1.0, size_weight: 0.1, offset_weight: 1.0 };

    fn gt(class: usize, x0: f32, y0: f32, x1: f32, y1: f32) -> BoxLabel {
        BoxLabel { class, x0, y0, x1, y1 }
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
}
