//! Augmentations on planar float images in [0, 1] (before `normalize`).
//!
//! Each step draws from the sample's own generator. Probabilities can be scaled live (watch mode
//! changes them between steps) through [`Live`].

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::ir::Augment;

/// A `C×H×W` image, planar, `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Image {
    pub fn from_dynamic(img: &image::DynamicImage, channels: usize) -> Image {
        if channels == 1 {
            let g = img.to_luma8();
            let (w, h) = g.dimensions();
            return Image {
                c: 1,
                h: h as usize,
                w: w as usize,
                data: g.into_raw().into_iter().map(|b| b as f32 / 255.0).collect(),
            };
        }
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        let raw = rgb.into_raw();
        let mut data = vec![0.0; 3 * h * w];
        for (i, px) in raw.chunks_exact(3).enumerate() {
            for c in 0..3 {
                data[c * h * w + i] = px[c] as f32 / 255.0;
            }
        }
        Image { c: 3, h, w, data }
    }

    fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.h + y) * self.w + x]
    }

    fn map_coords(&self, h: usize, w: usize, f: impl Fn(usize, usize) -> Option<(usize, usize)>) -> Image {
        let mut data = vec![0.0; self.c * h * w];
        for c in 0..self.c {
            for y in 0..h {
                for x in 0..w {
                    if let Some((sy, sx)) = f(y, x) {
                        data[(c * h + y) * w + x] = self.at(c, sy, sx);
                    }
                }
            }
        }
        Image { c: self.c, h, w, data }
    }

    pub fn resize(&self, h: usize, w: usize) -> Image {
        if h == self.h && w == self.w {
            return self.clone();
        }
        // Bilinear with half-pixel centres (PyTorch's align_corners=False).
        let (sy, sx) = (self.h as f32 / h as f32, self.w as f32 / w as f32);
        let mut data = vec![0.0; self.c * h * w];
        for y in 0..h {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (self.h - 1) as f32);
            let (y0, ty) = (fy.floor() as usize, fy.fract());
            let y1 = (y0 + 1).min(self.h - 1);
            for x in 0..w {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (self.w - 1) as f32);
                let (x0, tx) = (fx.floor() as usize, fx.fract());
                let x1 = (x0 + 1).min(self.w - 1);
                for c in 0..self.c {
                    let top = self.at(c, y0, x0) * (1.0 - tx) + self.at(c, y0, x1) * tx;
                    let bottom = self.at(c, y1, x0) * (1.0 - tx) + self.at(c, y1, x1) * tx;
                    data[(c * h + y) * w + x] = top * (1.0 - ty) + bottom * ty;
                }
            }
        }
        Image { c: self.c, h, w, data }
    }
}

/// A labelled box in pixel coordinates: `x0 ≤ x < x1`, `y0 ≤ y < y1`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BoxLabel {
    pub class: usize,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    /// Whether (and why) the box is kept out of training and ignored by the metric.
    pub ignore: Ignore,
}

/// Ground truth that neither trains nor counts: a detection matching it is neither right nor
/// wrong, and it adds nothing to the recall's denominator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ignore {
    /// An ordinary box.
    #[default]
    No,
    /// A Pascal VOC `difficult` object: matched by ordinary IoU, any number of times.
    Difficult,
    /// A COCO `iscrowd` region: matched by the share of the detection inside it, any number of
    /// times (as pycocotools does).
    Crowd,
}

/// Moves boxes through one geometric step of an image of size `h × w`, drawing from `rng` exactly
/// what [`apply`] draws for that step, so a generator cloned before the step gives both the same
/// flip, crop offset or angle. Boxes that leave the image are dropped; the rest are clipped.
pub fn move_boxes(
    step: &Augment,
    boxes: Vec<BoxLabel>,
    (h, w): (usize, usize),
    rng: &mut ChaCha8Rng,
    train: bool,
) -> Vec<BoxLabel> {
    let p = step.p();
    let hit = |rng: &mut ChaCha8Rng| train && rng.random::<f64>() < p;
    let (hf, wf) = (h as f32, w as f32);
    let (moved, (out_h, out_w)): (Vec<BoxLabel>, (f32, f32)) = match *step {
        Augment::Resize { height, width } => {
            let (nh, nw) = (height as f32, width as f32);
            let (sy, sx) = (nh / hf, nw / wf);
            (
                boxes
                    .into_iter()
                    .map(|b| BoxLabel { x0: b.x0 * sx, x1: b.x1 * sx, y0: b.y0 * sy, y1: b.y1 * sy, ..b })
                    .collect(),
                (nh, nw),
            )
        }
        Augment::RandomCrop { size, padding } => crop_boxes(boxes, (h, w), size, padding, train.then_some(rng)),
        Augment::CenterCrop { size } => crop_boxes(boxes, (h, w), size, 0, None),
        Augment::Hflip { .. } if hit(rng) => {
            (boxes.into_iter().map(|b| BoxLabel { x0: wf - b.x1, x1: wf - b.x0, ..b }).collect(), (hf, wf))
        }
        Augment::Vflip { .. } if hit(rng) => {
            (boxes.into_iter().map(|b| BoxLabel { y0: hf - b.y1, y1: hf - b.y0, ..b }).collect(), (hf, wf))
        }
        Augment::Rotate { degrees, .. } if hit(rng) => (rotate_boxes(boxes, (hf, wf), degrees, rng), (hf, wf)),
        // Not drawn: the boxes stay.
        Augment::Hflip { .. } | Augment::Vflip { .. } | Augment::Rotate { .. } => (boxes, (hf, wf)),
        // Photometric steps leave pixels, and so boxes, where they are.
        Augment::Normalize { .. } | Augment::ColorJitter { .. } | Augment::RandomErasing { .. } => (boxes, (hf, wf)),
    };
    moved
        .into_iter()
        .map(|b| BoxLabel { x0: b.x0.max(0.0), y0: b.y0.max(0.0), x1: b.x1.min(out_w), y1: b.y1.min(out_h), ..b })
        .filter(|b| b.x1 - b.x0 >= 1.0 && b.y1 - b.y0 >= 1.0)
        .collect()
}

/// Boxes through a `size × size` crop after `pad` zero padding: at a random offset drawn from
/// `rng` (as [`apply`] draws it), or the centre without one.
fn crop_boxes(
    boxes: Vec<BoxLabel>,
    (h, w): (usize, usize),
    size: usize,
    pad: usize,
    rng: Option<&mut ChaCha8Rng>,
) -> (Vec<BoxLabel>, (f32, f32)) {
    let (oy, ox) = crop_offset((h + 2 * pad, w + 2 * pad), size, rng);
    let (dy, dx) = (pad as f32 - oy as f32, pad as f32 - ox as f32);
    let moved = boxes.into_iter().map(|b| BoxLabel { x0: b.x0 + dx, x1: b.x1 + dx, y0: b.y0 + dy, y1: b.y1 + dy, ..b });
    (moved.collect(), (size as f32, size as f32))
}

/// The top-left corner of a `size × size` crop of a padded `ph × pw` image: random with a
/// generator, else centred.
fn crop_offset((ph, pw): (usize, usize), size: usize, rng: Option<&mut ChaCha8Rng>) -> (usize, usize) {
    let (max_y, max_x) = (ph.saturating_sub(size), pw.saturating_sub(size));
    match rng {
        Some(rng) => (rng.random_range(0..=max_y), rng.random_range(0..=max_x)),
        None => (max_y / 2, max_x / 2),
    }
}

/// Boxes through a rotation by a random angle in ±`degrees`, drawn as [`apply`] draws it: the
/// bounding box of each rotated box.
fn rotate_boxes(boxes: Vec<BoxLabel>, (hf, wf): (f32, f32), degrees: f64, rng: &mut ChaCha8Rng) -> Vec<BoxLabel> {
    let angle = rng.random_range(-degrees..=degrees).to_radians();
    let (s, c) = (angle.sin() as f32, angle.cos() as f32);
    let (cy, cx) = ((hf - 1.0) / 2.0, (wf - 1.0) / 2.0);
    // The image maps destination to source by (c, −s; s, c); boxes go the other way.
    let forward = |y: f32, x: f32| {
        let (sy, sx) = (y - cy, x - cx);
        (c * sy + s * sx + cy, -s * sy + c * sx + cx)
    };
    boxes
        .into_iter()
        .map(|b| {
            let corners = [forward(b.y0, b.x0), forward(b.y0, b.x1), forward(b.y1, b.x0), forward(b.y1, b.x1)];
            let (ys, xs): (Vec<f32>, Vec<f32>) = corners.into_iter().unzip();
            let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
            let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            BoxLabel { y0: min(&ys), y1: max(&ys), x0: min(&xs), x1: max(&xs), ..b }
        })
        .collect()
}

/// Applies a pipeline to an image and its mask. A geometric step sees the same random draws for
/// both (the generator is cloned before it); photometric steps touch the image only; masks are
/// resized by nearest neighbour so class ids stay class ids.
pub fn apply_pair(
    steps: &[Augment],
    mut img: Image,
    mut mask: Option<Image>,
    mut boxes: Option<Vec<BoxLabel>>,
    rng: &mut ChaCha8Rng,
    train: bool,
) -> (Image, Option<Image>, Option<Vec<BoxLabel>>) {
    for step in steps {
        if step.is_geometric() {
            boxes = boxes.map(|b| move_boxes(step, b, (img.h, img.w), &mut rng.clone(), train));
            mask = mask.map(|m| {
                if let &Augment::Resize { height: h, width: w } = step {
                    let (mh, mw) = (m.h, m.w);
                    m.map_coords(h, w, |y, x| Some(((y * mh) / h, (x * mw) / w)))
                } else {
                    apply(std::slice::from_ref(step), m, &mut rng.clone(), train)
                }
            });
        }
        img = apply(std::slice::from_ref(step), img, rng, train);
    }
    (img, mask, boxes)
}

/// Applies a pipeline. `train` is false for evaluation, where random steps are skipped unless
/// they change the size (a random crop becomes a centre crop).
pub fn apply(steps: &[Augment], mut img: Image, rng: &mut ChaCha8Rng, train: bool) -> Image {
    for step in steps {
        let p = step.p();
        let hit = |rng: &mut ChaCha8Rng| train && rng.random::<f64>() < p;
        img = match step {
            Augment::Normalize { stats } => {
                let (mean, std) = stats.mean_std();
                let plane = img.h * img.w;
                for c in 0..img.c {
                    let (m, s) = (mean[c % mean.len()] as f32, std[c % std.len()] as f32);
                    for v in &mut img.data[c * plane..(c + 1) * plane] {
                        *v = (*v - m) / s;
                    }
                }
                img
            }
            &Augment::Resize { height, width } => img.resize(height, width),
            &Augment::RandomCrop { size, padding } => crop(&img, size, padding, train.then_some(&mut *rng)),
            &Augment::CenterCrop { size } => crop(&img, size, 0, None),
            Augment::Hflip { .. } if hit(rng) => {
                let w = img.w;
                img.map_coords(img.h, w, |y, x| Some((y, w - 1 - x)))
            }
            Augment::Vflip { .. } if hit(rng) => {
                let h = img.h;
                img.map_coords(h, img.w, |y, x| Some((h - 1 - y, x)))
            }
            &Augment::Rotate { degrees, .. } if hit(rng) => rotate(&img, degrees, rng),
            &Augment::ColorJitter { brightness, contrast, saturation, .. } if hit(rng) => {
                let mut factor = |a: f64| if a > 0.0 { rng.random_range(1.0 - a..=1.0 + a) as f32 } else { 1.0 };
                let (b, ct, sat) = (factor(brightness), factor(contrast), factor(saturation));
                jitter(img, b, ct, sat)
            }
            &Augment::RandomErasing { scale, .. } if hit(rng) => erase(img, scale, rng),
            // Not drawn this time.
            Augment::Hflip { .. }
            | Augment::Vflip { .. }
            | Augment::Rotate { .. }
            | Augment::ColorJitter { .. }
            | Augment::RandomErasing { .. } => img,
        };
    }
    img
}

/// A `size × size` crop after `pad` zero padding, at a random offset with a generator (the same
/// draws as [`move_boxes`]), else centred.
fn crop(img: &Image, size: usize, pad: usize, rng: Option<&mut ChaCha8Rng>) -> Image {
    let (oy, ox) = crop_offset((img.h + 2 * pad, img.w + 2 * pad), size, rng);
    let (h, w) = (img.h, img.w);
    img.map_coords(size, size, |y, x| {
        let (sy, sx) = ((y + oy) as isize - pad as isize, (x + ox) as isize - pad as isize);
        (sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w).then_some((sy as usize, sx as usize))
    })
}

/// Rotation by a random angle in ±`degrees` about the centre, nearest neighbour, zeros outside.
fn rotate(img: &Image, degrees: f64, rng: &mut ChaCha8Rng) -> Image {
    let angle = rng.random_range(-degrees..=degrees).to_radians();
    let (s, c) = (angle.sin() as f32, angle.cos() as f32);
    let (cy, cx) = ((img.h as f32 - 1.0) / 2.0, (img.w as f32 - 1.0) / 2.0);
    let (h, w) = (img.h, img.w);
    img.map_coords(h, w, |y, x| {
        let (dy, dx) = (y as f32 - cy, x as f32 - cx);
        let (sy, sx) = ((c * dy - s * dx + cy).round(), (s * dy + c * dx + cx).round());
        (sy >= 0.0 && sx >= 0.0 && (sy as usize) < h && (sx as usize) < w).then_some((sy as usize, sx as usize))
    })
}

/// Brightness, contrast (about the image mean) and saturation (about the grey value) factors.
fn jitter(mut img: Image, b: f32, ct: f32, sat: f32) -> Image {
    let plane = img.h * img.w;
    let mean = img.data.iter().sum::<f32>() / img.data.len().max(1) as f32;
    for v in &mut img.data {
        *v = (((*v * b) - mean) * ct + mean).clamp(0.0, 1.0);
    }
    if img.c == 3 && sat != 1.0 {
        for i in 0..plane {
            let gray = 0.299 * img.data[i] + 0.587 * img.data[plane + i] + 0.114 * img.data[2 * plane + i];
            for c in 0..3 {
                let v = &mut img.data[c * plane + i];
                *v = ((*v - gray) * sat + gray).clamp(0.0, 1.0);
            }
        }
    }
    img
}

/// Zeroes a random square of `scale` × the image's area.
fn erase(mut img: Image, scale: f64, rng: &mut ChaCha8Rng) -> Image {
    let area = scale * (img.h * img.w) as f64;
    let side = area.sqrt().max(1.0) as usize;
    let (eh, ew) = (side.min(img.h), side.min(img.w));
    let (y0, x0) = (rng.random_range(0..=img.h - eh), rng.random_range(0..=img.w - ew));
    for c in 0..img.c {
        for y in y0..y0 + eh {
            for x in x0..x0 + ew {
                img.data[(c * img.h + y) * img.w + x] = 0.0;
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Normalization;
    use rand::SeedableRng;

    #[test]
    fn crop_with_padding_keeps_size_and_flip_mirrors() {
        let img = Image { c: 1, h: 4, w: 4, data: (0..16).map(|v| v as f32).collect() };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let out = apply(&[Augment::RandomCrop { size: 4, padding: 1 }], img.clone(), &mut rng, true);
        assert_eq!((out.h, out.w), (4, 4));
        let flipped = apply(&[Augment::Hflip { p: 1.0 }], img, &mut rng, true);
        assert_eq!(&flipped.data[..4], &[3.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn masks_move_with_the_image_and_ignore_photometric_steps() {
        let img = Image { c: 1, h: 2, w: 3, data: vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5] };
        let mask = Image { c: 1, h: 2, w: 3, data: vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0] };
        let steps = [
            Augment::Hflip { p: 1.0 },
            Augment::Normalize { stats: Normalization::Given { mean: vec![0.5], std: vec![0.5] } },
            Augment::Resize { height: 4, width: 6 },
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (out, m, _) = apply_pair(&steps, img, Some(mask), None, &mut rng, true);
        let m = m.expect("mask");
        assert_eq!((out.h, out.w, m.h, m.w), (4, 6, 4, 6));
        assert_eq!(&m.data[..6], &[2.0, 2.0, 1.0, 1.0, 0.0, 0.0], "flipped, nearest-resized, not normalized");
    }

    #[test]
    fn boxes_move_with_the_image() {
        // A 10×20 image with one box; flip (always), then resize to 20×40, then a centre crop.
        let img = Image { c: 1, h: 10, w: 20, data: vec![0.0; 200] };
        let b = BoxLabel { class: 1, x0: 2.0, y0: 1.0, x1: 6.0, y1: 5.0, ..Default::default() };
        let steps =
            [Augment::Hflip { p: 1.0 }, Augment::Resize { height: 20, width: 40 }, Augment::CenterCrop { size: 20 }];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (out, _, boxes) = apply_pair(&steps, img, None, Some(vec![b]), &mut rng, true);
        assert_eq!((out.h, out.w), (20, 20));
        // Flipped: x 14..18; resized ×2: x 28..36, y 2..10; cropped at x offset 10: x 18..20 after clipping.
        assert_eq!(
            boxes,
            Some(vec![BoxLabel { class: 1, x0: 18.0, y0: 2.0, x1: 20.0, y1: 10.0, ..Default::default() }])
        );
    }

    #[test]
    fn random_steps_draw_the_same_for_image_and_boxes() {
        // A random crop of a marked pixel: the box around it must land where the pixel lands.
        let mut data = vec![0.0; 64];
        data[3 * 8 + 5] = 1.0; // y = 3, x = 5
        let img = Image { c: 1, h: 8, w: 8, data };
        let b = BoxLabel { class: 0, x0: 5.0, y0: 3.0, x1: 6.0, y1: 4.0, ..Default::default() };
        for seed in 0..20 {
            let steps = [
                Augment::Rotate { degrees: 0.0, p: 0.5 },
                Augment::RandomCrop { size: 8, padding: 2 },
                Augment::Hflip { p: 0.5 },
            ];
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (out, _, boxes) = apply_pair(&steps, img.clone(), None, Some(vec![b]), &mut rng, true);
            let at = out.data.iter().position(|v| *v == 1.0);
            match (at, boxes.as_deref()) {
                (Some(i), Some([moved])) => {
                    assert_eq!(((i / 8) as f32, (i % 8) as f32), (moved.y0, moved.x0), "seed {seed}")
                }
                (None, Some([])) => {}
                other => panic!("seed {seed}: pixel and box disagree: {other:?}"),
            }
        }
    }

    #[test]
    fn normalize_uses_mean_and_std() {
        let img = Image { c: 1, h: 1, w: 2, data: vec![0.5, 1.0] };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let out = apply(
            &[Augment::Normalize { stats: Normalization::Given { mean: vec![0.5], std: vec![0.5] } }],
            img,
            &mut rng,
            false,
        );
        assert_eq!(out.data, vec![0.0, 1.0]);
    }
}
