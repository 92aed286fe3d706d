//! FCOS detection (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection") over
//! pyramid levels: which box each location regresses, the loss (sigmoid focal on classes, GIoU on
//! boxes, BCE on centerness) and decoding with per-class non-maximum suppression.
//!
//! Each level is one model output `[B, classes + 5, h, w]` (`std/heads.fcos_level`): class
//! logits, the log-distances l, t, r, b in strides, and a centerness logit. Targets are built on
//! the CPU over every level's locations in a row (finest level first, `N = Σ h·w`), so the loss
//! is a handful of element-wise tensor ops on `[B, ·, N]` and needs no gather.

use burn::tensor::activation::{log_sigmoid, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use super::Act;
use super::detect::{Detection, MAX_DETECTIONS, nms};
use crate::data::BoxLabel;
use crate::ir::Loss;

/// Focal loss weight of positives and focusing exponent (RetinaNet's, as FCOS uses them).
const ALPHA: f32 = 0.25;
const GAMMA: f32 = 2.0;
/// Centre sampling: a location is positive only within this many strides of a box's centre.
pub const CENTRE_RADIUS: f32 = 1.5;
/// Locations whose class probability is at most this are not candidates (FCOS's 0.05).
pub const SCORE_THRESHOLD: f32 = 0.05;
/// Candidates kept per level before non-maximum suppression (FCOS's `pre_nms_top_n`).
pub const TOP_K: usize = 1000;
/// Boxes of one class overlapping a better one by at least this IoU are suppressed (FCOS's 0.6).
pub const NMS_IOU: f32 = 0.6;
/// Log-distances are clamped here before `exp` (e^10 strides is far past any image), so an
/// untrained head cannot overflow.
const MAX_LOG_DISTANCE: f32 = 10.0;

/// One pyramid level's geometry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    pub h: usize,
    pub w: usize,
    /// Image pixels per cell along y and x.
    pub stride: (f32, f32),
    /// The largest regression distance (pixels) the level takes: above `.0`, at most `.1`.
    pub range: (f32, f32),
}

impl Level {
    /// The levels of heads of `sizes` (finest first) over an image: a level of stride `s` takes
    /// boxes whose largest distance from the location is at most `range`·s and above the
    /// previous level's bound; the first starts at 0 and the last has no bound (FCOS's
    /// 0/64/128/256/… for `range` 8 and strides 8, 16, 32, …).
    pub fn pyramid((image_h, image_w): (usize, usize), sizes: &[(usize, usize)], range: f32) -> Vec<Level> {
        let mut lo = 0.0;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &(h, w))| {
                let stride = (image_h as f32 / h as f32, image_w as f32 / w as f32);
                let hi = if i + 1 == sizes.len() { f32::INFINITY } else { range * stride.0.max(stride.1) };
                let level = Level { h, w, stride, range: (lo, hi) };
                lo = hi;
                level
            })
            .collect()
    }

    /// The point cell `(y, x)` stands for, in image pixels `(px, py)`: its centre (FCOS's
    /// `s/2 + x·s`).
    pub fn point(&self, y: usize, x: usize) -> (f32, f32) {
        let (sy, sx) = self.stride;
        (x as f32 * sx + sx / 2.0, y as f32 * sy + sy / 2.0)
    }
}

/// The box a location regresses and its distances l, t, r, b in pixels: among the boxes that
/// hold the point within [`CENTRE_RADIUS`] strides of their centre and whose largest distance
/// falls in the level's range, the one of least area. Ignored (crowd, difficult) and empty
/// boxes and unknown classes are never targets.
pub fn assign(level: &Level, (px, py): (f32, f32), boxes: &[BoxLabel], classes: usize) -> Option<(usize, [f32; 4])> {
    let (sy, sx) = level.stride;
    let mut best: Option<(usize, [f32; 4], f32)> = None;
    for (j, b) in boxes.iter().enumerate() {
        if b.ignored() || b.class >= classes || b.x1 <= b.x0 || b.y1 <= b.y0 {
            continue;
        }
        let d = [px - b.x0, py - b.y0, b.x1 - px, b.y1 - py];
        let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
        let near_centre = (px - cx).abs() < CENTRE_RADIUS * sx && (py - cy).abs() < CENTRE_RADIUS * sy;
        let largest = d.iter().copied().fold(0.0, f32::max);
        if d.iter().any(|v| *v <= 0.0) || !near_centre || largest <= level.range.0 || largest > level.range.1 {
            continue;
        }
        let area = (b.x1 - b.x0) * (b.y1 - b.y0);
        if best.is_none_or(|(_, _, a)| area < a) {
            best = Some((j, d, area));
        }
    }
    best.map(|(j, d, _)| (j, d))
}

/// FCOS's centerness of a location with distances l, t, r, b: 1 at the box centre, falling to 0
/// at its edges.
pub fn centerness([l, t, r, b]: [f32; 4]) -> f32 {
    ((l.min(r) / l.max(r)) * (t.min(b) / t.max(b))).sqrt()
}

/// Dense training targets over every level's locations, `[B, ·, N]` row-major.
#[derive(Debug, Clone)]
pub struct Targets {
    pub dims: [usize; 3],
    pub classes: usize,
    /// One-hot classes at positive locations (`[B, classes, N]`).
    pub cls: Vec<f32>,
    /// l, t, r, b in strides at positive locations, 1 elsewhere (`[B, 4, N]`).
    pub dist: Vec<f32>,
    /// The centerness target at positive locations (`[B, 1, N]`).
    pub ctr: Vec<f32>,
    /// 1 at positive locations (`[B, 1, N]`).
    pub pos: Vec<f32>,
    pub positives: usize,
}

impl Targets {
    /// Targets for `levels` (finest first) from each image's boxes in the (augmented) image's pixels.
    pub fn new(boxes: &[Vec<BoxLabel>], classes: usize, levels: &[Level]) -> Targets {
        let (b, n) = (boxes.len(), levels.iter().map(|l| l.h * l.w).sum::<usize>());
        let mut t = Targets {
            dims: [b, 0, n],
            classes,
            cls: vec![0.0; b * classes * n],
            dist: vec![1.0; b * 4 * n],
            ctr: vec![0.0; b * n],
            pos: vec![0.0; b * n],
            positives: 0,
        };
        for (i, image) in boxes.iter().enumerate() {
            let mut k = 0;
            for level in levels {
                for y in 0..level.h {
                    for x in 0..level.w {
                        if let Some((j, d)) = assign(level, level.point(y, x), image, classes) {
                            t.cls[(i * classes + image[j].class) * n + k] = 1.0;
                            let per_stride = [level.stride.1, level.stride.0, level.stride.1, level.stride.0];
                            for (ch, (v, s)) in d.iter().zip(per_stride).enumerate() {
                                t.dist[(i * 4 + ch) * n + k] = v / s;
                            }
                            t.ctr[i * n + k] = centerness(d);
                            t.pos[i * n + k] = 1.0;
                            t.positives += 1;
                        }
                        k += 1;
                    }
                }
            }
        }
        t
    }
}

/// The levels of an FCOS model for one batch, finest first.
#[derive(Clone, Debug)]
pub struct Pyramid {
    pub levels: Vec<Level>,
    /// Each level's output, `[B, classes + 5, h, w]`, in the order of `levels`.
    pub maps: Vec<Tensor<4>>,
    pub classes: usize,
}

impl Pyramid {
    /// Every model output as a level over images of `image` pixels; otherwise why not.
    pub fn from_outputs(outputs: Vec<(String, Act)>, image: (usize, usize), range: f32) -> Result<Pyramid, String> {
        let mut maps = Vec::new();
        for (name, act) in outputs {
            let map = act.d4().ok_or_else(|| format!("output `{name}` is not 4-D"))?;
            maps.push(map);
        }
        let channels = maps.first().map(|m| m.dims()[1]).ok_or("the model has no output")?;
        if channels <= 5 || maps.iter().any(|m| m.dims()[1] != channels) {
            return Err("every output must be a level of `classes + 5` channels".into());
        }
        maps.sort_by_key(|m| std::cmp::Reverse(m.dims()[2] * m.dims()[3]));
        let sizes: Vec<(usize, usize)> = maps.iter().map(|m| (m.dims()[2], m.dims()[3])).collect();
        Ok(Pyramid { levels: Level::pyramid(image, &sizes, range), maps, classes: channels - 5 })
    }

    /// Every level's locations in a row: `[B, classes + 5, N]`.
    fn flat(&self) -> Tensor<3> {
        let flat = self.maps.iter().map(|m| {
            let [b, c, h, w] = m.dims();
            m.clone().reshape([b, c, h * w])
        });
        Tensor::cat(flat.collect(), 2)
    }
}

/// `1 − GIoU` of boxes given as distances l, t, r, b (`[B, 4, N]`) from the same point, per
/// location (`[B, 1, N]`). Sharing the point, the intersection and the enclosing box are sums
/// of per-side minima and maxima.
pub fn giou_loss(pred: Tensor<3>, target: Tensor<3>) -> Tensor<3> {
    let side = |t: &Tensor<3>, i: usize| t.clone().narrow(1, i, 1);
    let (pl, pt, pr, pb) = (side(&pred, 0), side(&pred, 1), side(&pred, 2), side(&pred, 3));
    let (tl, tt, tr, tb) = (side(&target, 0), side(&target, 1), side(&target, 2), side(&target, 3));
    let pred_area = (pl.clone() + pr.clone()) * (pt.clone() + pb.clone());
    let target_area = (tl.clone() + tr.clone()) * (tt.clone() + tb.clone());
    let iw = pl.clone().min_pair(tl.clone()) + pr.clone().min_pair(tr.clone());
    let ih = pt.clone().min_pair(tt.clone()) + pb.clone().min_pair(tb.clone());
    let inter = iw * ih;
    let union = pred_area + target_area - inter.clone() + 1e-7;
    let enclosing = (pl.max_pair(tl) + pr.max_pair(tr)) * (pt.max_pair(tt) + pb.max_pair(tb)) + 1e-7;
    let giou = inter / union.clone() - (enclosing.clone() - union) / enclosing;
    giou.neg() + 1.0
}

/// `fcos_loss`: sigmoid focal loss (α 0.25, γ 2) on every class logit, summed and divided by the
/// positives; GIoU loss on positives, weighted by their centerness target as FCOS does; BCE of
/// the centerness logit at positives, averaged; each weighted as the loss says.
pub fn fcos_loss(loss: &Loss, p: &Pyramid, t: &Targets, device: &Device) -> Tensor<1> {
    let &Loss::Fcos { cls_weight, box_weight, ctr_weight, .. } = loss else {
        unreachable!("an FCOS model trains with `fcos_loss` only, not `{}`", loss.name())
    };
    let [b, _, n] = t.dims;
    let c = t.classes;
    let map = |v: &[f32], ch: usize| Tensor::<3>::from_data(TensorData::new(v.to_vec(), [b, ch, n]), device);
    let out = p.flat();
    let (logits, raw, ctr_logit) = (out.clone().narrow(1, 0, c), out.clone().narrow(1, c, 4), out.narrow(1, c + 4, 1));
    let (gt, pos, ctr) = (map(&t.cls, c), map(&t.pos, 1), map(&t.ctr, 1));
    let positives = t.positives.max(1) as f64;

    let prob = sigmoid(logits.clone());
    let positive = log_sigmoid(logits.clone()) * (prob.clone().neg() + 1.0).powf_scalar(GAMMA) * gt.clone() * ALPHA;
    let negative = log_sigmoid(logits.neg()) * prob.powf_scalar(GAMMA) * (gt.neg() + 1.0) * (1.0 - ALPHA);
    let focal = (positive.sum() + negative.sum()).neg() / positives;

    let pred = raw.clamp_max(MAX_LOG_DISTANCE).exp();
    let ctr_sum = t.ctr.iter().sum::<f32>().max(1e-6) as f64;
    let boxes = (giou_loss(pred, map(&t.dist, 4)) * ctr.clone() * pos.clone()).sum() / ctr_sum;

    let bce = log_sigmoid(ctr_logit.clone()) * ctr.clone() + log_sigmoid(ctr_logit.neg()) * (ctr.neg() + 1.0);
    let centre = (bce * pos).sum().neg() / positives;
    focal * cls_weight + boxes * box_weight + centre * ctr_weight
}

/// A candidate of one level before suppression.
struct Candidate {
    score: f32,
    class: usize,
    y: usize,
    x: usize,
}

/// One level's candidates for image `i`: locations and classes whose probability is above
/// [`SCORE_THRESHOLD`], scored by probability × centerness, the best [`TOP_K`].
fn candidates(v: &[f32], i: usize, classes: usize, (h, w): (usize, usize)) -> Vec<Candidate> {
    let at = |ch: usize, y: usize, x: usize| v[((i * (classes + 5) + ch) * h + y) * w + x];
    let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let ctr = sig(at(classes + 4, y, x));
            for class in 0..classes {
                let prob = sig(at(class, y, x));
                if prob > SCORE_THRESHOLD {
                    out.push(Candidate { score: prob * ctr, class, y, x });
                }
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(TOP_K);
    out
}

/// Decodes the levels into boxes per image, in the model input's pixels: each level's best
/// candidates, their boxes `point ± exp(distance)·stride`, per-class non-maximum suppression at
/// [`NMS_IOU`], the best [`MAX_DETECTIONS`].
pub fn decode(p: &Pyramid) -> Vec<Vec<Detection>> {
    let maps: Vec<Vec<f32>> = p.maps.iter().map(|m| m.clone().try_into_vec_as::<f32>().unwrap_or_default()).collect();
    let batch = p.maps.first().map_or(0, |m| m.dims()[0]);
    let c = p.classes;
    (0..batch)
        .map(|i| {
            let mut found = Vec::new();
            for (level, v) in p.levels.iter().zip(&maps) {
                let (h, w) = (level.h, level.w);
                let at = |ch: usize, y: usize, x: usize| v[((i * (c + 5) + ch) * h + y) * w + x];
                for cand in candidates(v, i, c, (h, w)) {
                    let (px, py) = level.point(cand.y, cand.x);
                    let d = |ch: usize| at(c + ch, cand.y, cand.x).min(MAX_LOG_DISTANCE).exp();
                    let (sy, sx) = level.stride;
                    found.push(Detection {
                        class: cand.class,
                        score: cand.score,
                        x0: px - d(0) * sx,
                        y0: py - d(1) * sy,
                        x1: px + d(2) * sx,
                        y1: py + d(3) * sy,
                    });
                }
            }
            let mut kept = nms(found, NMS_IOU);
            kept.truncate(MAX_DETECTIONS);
            kept
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt(class: usize, x0: f32, y0: f32, x1: f32, y1: f32) -> BoxLabel {
        BoxLabel { class, x0, y0, x1, y1, ..Default::default() }
    }

    /// Strides 8, 16, 32 over a 128×128 image with FCOS's ranges: (0, 64], (64, 128], (128, ∞).
    fn levels() -> Vec<Level> {
        Level::pyramid((128, 128), &[(16, 16), (8, 8), (4, 4)], 8.0)
    }

    #[test]
    fn ranges_follow_the_strides() {
        let l = levels();
        assert_eq!(l[0].stride, (8.0, 8.0));
        assert_eq!((l[0].range, l[1].range), ((0.0, 64.0), (64.0, 128.0)));
        assert_eq!(l[2].range, (128.0, f32::INFINITY));
        assert_eq!(l[1].point(0, 1), (24.0, 8.0));
    }

    #[test]
    fn a_location_inside_a_small_box_on_p3_is_positive() {
        let l = levels();
        let small = [gt(1, 16.0, 16.0, 40.0, 40.0)];
        // Cell (3, 3) of P3 is the point (28, 28), the box's centre.
        let (j, d) = assign(&l[0], l[0].point(3, 3), &small, 2).expect("positive");
        assert_eq!((j, d), (0, [12.0, 12.0, 12.0, 12.0]));
        assert_eq!(centerness(d), 1.0);
        // Outside the box, or inside it but beyond 1.5 strides of its centre: negative.
        assert_eq!(assign(&l[0], l[0].point(8, 8), &small, 2), None);
        let wide = [gt(0, 0.0, 0.0, 120.0, 40.0)];
        assert!(assign(&l[0], (60.0, 20.0), &wide, 2).is_some());
        assert_eq!(assign(&l[0], (20.0, 20.0), &wide, 2), None, "40 px from the centre is past 1.5 strides");
        // Coarser levels do not take the small box.
        assert_eq!(assign(&l[1], l[1].point(1, 1), &small, 2), None);
        // Nor is a crowd region or an unknown class a target.
        let crowd = [BoxLabel { ignore: crate::data::Ignore::Crowd, ..small[0] }];
        assert_eq!(assign(&l[0], l[0].point(3, 3), &crowd, 2), None);
        assert_eq!(assign(&l[0], l[0].point(3, 3), &small, 1), None);
    }

    #[test]
    fn a_big_box_goes_to_a_coarser_level() {
        let l = levels();
        // 200 px wide: from its centre the largest distance is 100, in P4's (64, 128].
        let big = [gt(0, 0.0, 14.0, 200.0, 114.0)];
        assert_eq!(assign(&l[0], (100.0, 60.0), &big, 1), None, "P3 takes up to 64 px");
        let at_p4 = l[1].point(3, 6);
        assert!(assign(&l[1], at_p4, &big, 1).is_some(), "{at_p4:?}");
        let t = Targets::new(&[big.to_vec()], 1, &l);
        let per_level: Vec<f32> = [0..256, 256..320, 320..336].map(|r| t.pos[r].iter().sum()).to_vec();
        assert!(per_level[0] == 0.0 && per_level[1] > 0.0, "positives per level {per_level:?}");
        assert_eq!(t.positives as f32, per_level.iter().sum::<f32>());
    }

    #[test]
    fn an_ambiguous_location_takes_the_smaller_box() {
        let l = levels();
        let (outer, inner) = (gt(0, 8.0, 8.0, 56.0, 56.0), gt(1, 20.0, 20.0, 44.0, 44.0));
        for boxes in [[outer, inner], [inner, outer]] {
            let (j, _) = assign(&l[0], (28.0, 28.0), &boxes, 2).expect("positive");
            assert_eq!(boxes[j].class, 1);
        }
        let t = Targets::new(&[vec![outer, inner]], 2, &l);
        let k = 3 * 16 + 3;
        let n = 336;
        assert_eq!((t.cls[k], t.cls[n + k]), (0.0, 1.0), "one-hot of the smaller box's class");
        // Distances are in strides: 8, 8, 16, 16 px from (28, 28) to the inner box's sides.
        assert_eq!([0, 1, 2, 3].map(|ch| t.dist[ch * n + k]), [1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn giou_loss_matches_hand_computed_values() {
        let device = Device::flex();
        let ltrb = |v: [[f32; 4]; 3]| {
            let data: Vec<f32> = (0..4).flat_map(|ch| v.iter().map(move |b| b[ch])).collect();
            Tensor::<3>::from_data(TensorData::new(data, [1, 4, 3]), &device)
        };
        let pred = ltrb([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [3.0, 1.0, 1.0, 1.0]]);
        let target = ltrb([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 3.0, 1.0], [1.0, 3.0, 1.0, 1.0]]);
        let got = giou_loss(pred, target).try_into_vec_as::<f32>().expect("values");
        // Equal boxes: 0. A 2×2 box in a 4×2 box: IoU 1/2, the enclosing box is the union: 1/2.
        // A 4×2 box and a 2×4 box: intersection 4, union 12, enclosing 16: 1 − (1/3 − 4/16) = 11/12.
        for (g, want) in got.iter().zip([0.0, 0.5, 11.0 / 12.0]) {
            assert!((g - want).abs() < 1e-5, "{got:?}");
        }
    }

    /// A one-level pyramid of perfect outputs for the targets of `boxes` on an 8×8 map of 64×64.
    fn perfect(boxes: &[BoxLabel], classes: usize, device: &Device) -> (Pyramid, Targets) {
        let l = Level::pyramid((64, 64), &[(8, 8)], 8.0);
        let t = Targets::new(&[boxes.to_vec()], classes, &l);
        let n = 64;
        let mut v = vec![-8.0; (classes + 5) * n];
        for k in 0..n {
            for ch in 0..classes {
                v[ch * n + k] = if t.cls[ch * n + k] > 0.0 { 8.0 } else { -8.0 };
            }
            for ch in 0..4 {
                v[(classes + ch) * n + k] = t.dist[ch * n + k].ln();
            }
            // The centerness logit of its target (capped below 1, whose logit is infinite).
            let c = t.ctr[k].min(0.999);
            v[(classes + 4) * n + k] = if t.pos[k] > 0.0 { (c / (1.0 - c)).ln() } else { -8.0 };
        }
        let map = Tensor::<4>::from_data(TensorData::new(v, [1, classes + 5, 8, 8]), device);
        (Pyramid { levels: l, maps: vec![map], classes }, t)
    }

    #[test]
    fn decoding_perfect_outputs_gives_back_the_boxes_and_their_loss_is_small() {
        let device = Device::flex();
        let boxes = [gt(0, 4.0, 4.0, 28.0, 20.0), gt(1, 30.0, 34.0, 60.0, 62.0)];
        let (p, t) = perfect(&boxes, 2, &device);
        let found = decode(&p);
        assert_eq!(found[0].len(), 2, "{:?}", found[0]);
        for d in &found[0] {
            let g = boxes.iter().find(|g| g.class == d.class).expect("a box of the class");
            let [dx0, dy0, dx1, dy1] = [d.x0 - g.x0, d.y0 - g.y0, d.x1 - g.x1, d.y1 - g.y1];
            assert!([dx0, dy0, dx1, dy1].iter().all(|e| e.abs() < 1e-3), "{d:?} vs {g:?}");
        }
        let loss = Loss::Fcos { cls_weight: 1.0, box_weight: 1.0, ctr_weight: 1.0, range: 8.0 };
        let good = fcos_loss(&loss, &p, &t, &device).into_scalar::<f32>();
        let zero = Pyramid { maps: vec![p.maps[0].zeros_like()], ..p };
        let bad = fcos_loss(&loss, &zero, &t, &device).into_scalar::<f32>();
        // The centerness BCE of a perfect head is its targets' entropy, not 0.
        assert!(good.is_finite() && good < 1.0 && bad > good + 1.0, "perfect {good}, zero {bad}");
    }

    #[test]
    fn outputs_become_levels_finest_first() {
        let device = Device::flex();
        let map = |h: usize, c: usize| Act::D4(Tensor::<4>::zeros([1, c, h, h], &device));
        let outputs = vec![("p5".to_string(), map(2, 7)), ("p3".into(), map(8, 7)), ("p4".into(), map(4, 7))];
        let p = Pyramid::from_outputs(outputs, (64, 64), 2.0).expect("levels");
        assert_eq!(p.classes, 2);
        let strides: Vec<f32> = p.levels.iter().map(|l| l.stride.0).collect();
        assert_eq!(strides, [8.0, 16.0, 32.0]);
        assert_eq!(p.maps.iter().map(|m| m.dims()[2]).collect::<Vec<_>>(), [8, 4, 2]);
        assert_eq!(p.levels[1].range, (16.0, 32.0));
        let mixed = vec![("p3".to_string(), map(8, 7)), ("p4".into(), map(4, 6))];
        assert!(Pyramid::from_outputs(mixed, (64, 64), 2.0).is_err());
    }

    #[test]
    fn suppression_is_per_class() {
        let device = Device::flex();
        // Locations that predict the same box as both classes: the duplicates of each class
        // are suppressed, the two classes both kept.
        let (p, t) = perfect(&[gt(0, 8.0, 8.0, 40.0, 40.0)], 2, &device);
        let mut v = p.maps[0].clone().try_into_vec_as::<f32>().expect("values");
        for k in 0..64 {
            if t.pos[k] > 0.0 {
                v[64 + k] = 8.0;
            }
        }
        let map = Tensor::<4>::from_data(TensorData::new(v, [1, 7, 8, 8]), &device);
        assert!(t.positives > 1);
        let found = decode(&Pyramid { maps: vec![map], ..p });
        let classes: Vec<usize> = found[0].iter().map(|d| d.class).collect();
        assert_eq!(classes.len(), 2, "{:?}", found[0]);
        assert!(classes.contains(&0) && classes.contains(&1));
    }
}
