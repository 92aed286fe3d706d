//! Augmentations drawn up front: `random_resized_crop`, `random_affine`, `gaussian_blur`,
//! `grayscale`, `one_of`, `rand_augment` and `trivial_augment` first draw everything random
//! about themselves into a list of concrete [`Op`]s ([`drawn`]), and only then touch pixels. The
//! image, its mask and its boxes follow the same list, so they agree whatever was drawn:
//!
//! - a [`Warp`] is an affine map of the plane (pixel `i` covers `[i, i + 1)`): the image samples
//!   it backwards (bilinear or nearest, zeros outside), the mask by nearest neighbour (the
//!   ignore label outside, so the fill never trains as background), boxes go forwards (the
//!   bounding box of their mapped corners, clipped to the image);
//! - [`Pixels`] change values only: the image alone;
//! - [`Op::Step`] is one of the older steps (`one_of([hflip(), …])`), applied to all three with
//!   a generator of its own seed, drawn here.
//!
//! RandAugment's and TrivialAugment's op lists and magnitude tables are torchvision 0.24's
//! (`transforms/autoaugment.py`), on float images in [0, 1]: thresholds in 8-bit units are
//! divided by 255, and posterize and equalize work on the image rounded to 8 bits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::augment::{self, BoxLabel, Image};
use crate::formats::IGNORE;
use crate::ir::Augment;

/// One concrete, fully drawn operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Warp(Warp),
    Pixels(Pixels),
    /// An older step with the seed of its own generator.
    Step(Augment, u64),
}

/// `(x, y) ↦ (m[0]·x + m[1]·y + m[2], m[3]·x + m[4]·y + m[5])` from the input plane to an output
/// of `size` (height, width).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warp {
    pub m: [f32; 6],
    pub size: (usize, usize),
    pub nearest: bool,
}

/// A change of pixel values (torchvision's functional ops on float images).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pixels {
    /// Blend with black.
    Brightness(f32),
    /// Blend with the grayscale image ("Color").
    Saturation(f32),
    /// Blend with the grayscale image's mean.
    Contrast(f32),
    /// Blend with a 3×3 smoothed image (torchvision's `adjust_sharpness`).
    Sharpness(f32),
    /// Keep the top `bits` bits of each 8-bit value.
    Posterize(u32),
    /// Invert values at or above the threshold.
    Solarize(f32),
    /// Stretch each channel to [0, 1].
    AutoContrast,
    /// Histogram-equalise each channel (8 bits).
    Equalize,
    Blur { kernel: usize, sigma: f32 },
    Grayscale,
}

/// torchvision's op names, in its order (`_augmentation_space`'s keys).
pub const AUTO_OPS: [&str; 14] = [
    "Identity",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
    "Brightness",
    "Color",
    "Contrast",
    "Sharpness",
    "Posterize",
    "Solarize",
    "AutoContrast",
    "Equalize",
];

/// Which table: RandAugment's or TrivialAugmentWide's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Rand,
    TrivialWide,
}

/// torchvision's magnitude of op `op` at bin `bin` of `bins` for an `h × w` image, and whether
/// it takes a random sign; `None` for ops without a magnitude.
pub fn magnitude(space: Space, op: &str, bin: usize, bins: usize, (h, w): (usize, usize)) -> Option<(f64, bool)> {
    let linspace = |a: f64, b: f64| a + (b - a) * bin as f64 / (bins - 1).max(1) as f64;
    let wide = space == Space::TrivialWide;
    Some(match op {
        "ShearX" | "ShearY" => (linspace(0.0, if wide { 0.99 } else { 0.3 }), true),
        "TranslateX" => (linspace(0.0, if wide { 32.0 } else { 150.0 / 331.0 * w as f64 }), true),
        "TranslateY" => (linspace(0.0, if wide { 32.0 } else { 150.0 / 331.0 * h as f64 }), true),
        "Rotate" => (linspace(0.0, if wide { 135.0 } else { 30.0 }), true),
        "Brightness" | "Color" | "Contrast" | "Sharpness" => (linspace(0.0, if wide { 0.99 } else { 0.9 }), true),
        "Posterize" => {
            let span = if wide { 6.0 } else { 4.0 };
            // torch's `round` is half to even, and the table is cast to int.
            (8.0 - (bin as f64 / ((bins - 1).max(1) as f64 / span)).round_ties_even(), false)
        }
        "Solarize" => (linspace(255.0, 0.0), false),
        _ => return None,
    })
}

/// The concrete ops of torchvision's op `op` at `magnitude` for an `h × w` image.
fn auto_op(op: &str, magnitude: f64, (h, w): (usize, usize)) -> Option<Op> {
    let m = magnitude as f32;
    let warp = |a: Affine| Some(Op::Warp(a.warp((h, w), true)));
    let still = Affine { shear: (0.0, 0.0), ..Affine::identity((h, w)) };
    match op {
        // Shears about the top-left corner, as torchvision's `center=[0, 0]`.
        "ShearX" => warp(Affine { shear: (m, 0.0), center: (0.0, 0.0), ..still }),
        "ShearY" => warp(Affine { shear: (0.0, m), center: (0.0, 0.0), ..still }),
        // Python's `int()` truncates.
        "TranslateX" => warp(Affine { translate: (m.trunc(), 0.0), ..still }),
        "TranslateY" => warp(Affine { translate: (0.0, m.trunc()), ..still }),
        "Rotate" => warp(Affine { degrees: m, ..still }),
        "Brightness" => Some(Op::Pixels(Pixels::Brightness(1.0 + m))),
        "Color" => Some(Op::Pixels(Pixels::Saturation(1.0 + m))),
        "Contrast" => Some(Op::Pixels(Pixels::Contrast(1.0 + m))),
        "Sharpness" => Some(Op::Pixels(Pixels::Sharpness(1.0 + m))),
        "Posterize" => Some(Op::Pixels(Pixels::Posterize(m as u32))),
        "Solarize" => Some(Op::Pixels(Pixels::Solarize(m / 255.0))),
        "AutoContrast" => Some(Op::Pixels(Pixels::AutoContrast)),
        "Equalize" => Some(Op::Pixels(Pixels::Equalize)),
        _ => None,
    }
}

/// A rotation (degrees), shear factors (x, y), zoom and shift about `center`.
#[derive(Clone, Copy, Debug)]
struct Affine {
    degrees: f32,
    shear: (f32, f32),
    scale: f32,
    translate: (f32, f32),
    center: (f32, f32),
}

impl Affine {
    fn identity((h, w): (usize, usize)) -> Affine {
        Affine { degrees: 0.0, shear: (0.0, 0.0), scale: 1.0, translate: (0.0, 0.0), center: (w as f32 / 2.0, h as f32 / 2.0) }
    }

    /// `p' = s·R·Sh·(p − c) + c + t`, with `Sh = [[1, shx], [shy, 1]]`.
    fn warp(self, size: (usize, usize), nearest: bool) -> Warp {
        let (sin, cos) = self.degrees.to_radians().sin_cos();
        let (shx, shy) = self.shear;
        let s = self.scale;
        let a = [s * (cos - sin * shy), s * (cos * shx - sin), s * (sin + cos * shy), s * (sin * shx + cos)];
        let (cx, cy) = self.center;
        let (tx, ty) = self.translate;
        let m = [a[0], a[1], cx + tx - a[0] * cx - a[1] * cy, a[2], a[3], cy + ty - a[2] * cx - a[3] * cy];
        Warp { m, size, nearest }
    }
}

/// What `step` does to an `h × w` image this time, drawn from `rng`. Evaluation draws nothing:
/// a resized crop resizes the whole image, `one_of` takes its first choice, the rest do nothing.
pub fn drawn(step: &Augment, (h, w): (usize, usize), rng: &mut ChaCha8Rng, train: bool) -> Vec<Op> {
    let hit = |rng: &mut ChaCha8Rng| train && rng.random::<f64>() < step.p();
    match step {
        &Augment::RandomResizedCrop { size, scale, ratio } => {
            let (top, left, ch, cw) = if train { resized_crop_box((h, w), scale, ratio, rng) } else { (0, 0, h, w) };
            let (sx, sy) = (size as f32 / cw as f32, size as f32 / ch as f32);
            let m = [sx, 0.0, -(left as f32) * sx, 0.0, sy, -(top as f32) * sy];
            vec![Op::Warp(Warp { m, size: (size, size), nearest: false })]
        }
        &Augment::RandomAffine { degrees, translate, scale, shear, .. } if hit(rng) => {
            let mut uniform = |a: f64, b: f64| if a < b { rng.random_range(a..=b) as f32 } else { a as f32 };
            let affine = Affine {
                degrees: uniform(-degrees, degrees),
                translate: (
                    uniform(-translate, translate) * w as f32,
                    uniform(-translate, translate) * h as f32,
                ),
                scale: uniform(scale[0], scale[1]),
                shear: (uniform(-shear, shear).to_radians().tan(), 0.0),
                ..Affine::identity((h, w))
            };
            vec![Op::Warp(affine.warp((h, w), false))]
        }
        &Augment::GaussianBlur { kernel, sigma, .. } if hit(rng) => {
            let sigma = if sigma[0] < sigma[1] { rng.random_range(sigma[0]..=sigma[1]) } else { sigma[0] };
            vec![Op::Pixels(Pixels::Blur { kernel, sigma: sigma as f32 })]
        }
        Augment::Grayscale { .. } if hit(rng) => vec![Op::Pixels(Pixels::Grayscale)],
        Augment::OneOf { steps } => {
            let Some(first) = steps.first() else { return Vec::new() };
            let chosen = if train { &steps[rng.random_range(0..steps.len())] } else { first };
            if chosen.is_drawn() {
                drawn(chosen, (h, w), rng, train)
            } else {
                vec![Op::Step(chosen.clone(), rng.random())]
            }
        }
        &Augment::RandAugment { n, magnitude: bin, bins } if train => {
            (0..n).filter_map(|_| auto_augment(Space::Rand, Some(bin), bins, (h, w), rng)).collect()
        }
        &Augment::TrivialAugment { bins } if train => {
            auto_augment(Space::TrivialWide, None, bins, (h, w), rng).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// One op of torchvision's list, drawn as `RandAugment` (at bin `bin`) or `TrivialAugmentWide`
/// (at a random bin) draw it: the op, then the bin, then the sign where signed.
fn auto_augment(
    space: Space,
    bin: Option<usize>,
    bins: usize,
    size: (usize, usize),
    rng: &mut ChaCha8Rng,
) -> Option<Op> {
    let op = AUTO_OPS[rng.random_range(0..AUTO_OPS.len())];
    let value = match magnitude(space, op, 0, bins, size) {
        Some(_) => {
            let bin = bin.unwrap_or_else(|| rng.random_range(0..bins));
            let (m, signed) = magnitude(space, op, bin.min(bins - 1), bins, size)?;
            if signed && rng.random::<bool>() { -m } else { m }
        }
        None => 0.0,
    };
    auto_op(op, value, size)
}

/// torchvision's `RandomResizedCrop.get_params`: ten tries at a random area share and
/// log-uniform aspect ratio that fit, else the central crop with the ratio clamped.
fn resized_crop_box(
    (h, w): (usize, usize),
    scale: [f64; 2],
    ratio: [f64; 2],
    rng: &mut ChaCha8Rng,
) -> (usize, usize, usize, usize) {
    let area = (h * w) as f64;
    let (lr0, lr1) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * if scale[0] < scale[1] { rng.random_range(scale[0]..=scale[1]) } else { scale[0] };
        let aspect = (if lr0 < lr1 { rng.random_range(lr0..=lr1) } else { lr0 }).exp();
        let cw = (target * aspect).sqrt().round() as usize;
        let ch = (target / aspect).sqrt().round() as usize;
        if 0 < cw && cw <= w && 0 < ch && ch <= h {
            return (rng.random_range(0..=h - ch), rng.random_range(0..=w - cw), ch, cw);
        }
    }
    let in_ratio = w as f64 / h as f64;
    let (cw, ch) = if in_ratio < ratio[0] {
        (w, ((w as f64 / ratio[0]).round() as usize).max(1))
    } else if in_ratio > ratio[1] {
        (((h as f64 * ratio[1]).round() as usize).max(1), h)
    } else {
        (w, h)
    };
    ((h - ch.min(h)) / 2, (w - cw.min(w)) / 2, ch.min(h), cw.min(w))
}

/// The image through `ops`.
pub fn on_image(mut img: Image, ops: &[Op], train: bool) -> Image {
    for op in ops {
        img = match op {
            Op::Warp(warp) => warp_image(&img, warp, 0.0, warp.nearest),
            Op::Pixels(p) => pixels(img, *p),
            Op::Step(step, seed) => {
                augment::apply(std::slice::from_ref(step), img, &mut ChaCha8Rng::seed_from_u64(*seed), train)
            }
        };
    }
    img
}

/// A mask through `ops`: warps by nearest neighbour with the ignore label outside, value
/// changes skipped.
pub fn on_mask(mut mask: Image, ops: &[Op], train: bool) -> Image {
    for op in ops {
        mask = match op {
            Op::Warp(warp) => warp_image(&mask, warp, IGNORE as f32, true),
            Op::Pixels(_) => mask,
            Op::Step(step, seed) => {
                augment::step_on_mask(step, mask, &mut ChaCha8Rng::seed_from_u64(*seed), train)
            }
        };
    }
    mask
}

/// Boxes of an `h × w` image through `ops`: clipped to the image after each warp, dropped when
/// less than a pixel is left.
pub fn on_boxes(mut boxes: Vec<BoxLabel>, ops: &[Op], (mut h, mut w): (usize, usize), train: bool) -> Vec<BoxLabel> {
    for op in ops {
        match op {
            Op::Warp(warp) => {
                boxes = boxes.into_iter().map(|b| warp_box(b, &warp.m)).collect();
                (h, w) = warp.size;
                boxes = augment::clip_boxes(boxes, (h, w));
            }
            Op::Pixels(_) => {}
            Op::Step(step, seed) => {
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                boxes = augment::move_boxes(step, boxes, (h, w), &mut rng, train);
                (h, w) = step.output_size().unwrap_or((h, w));
            }
        }
    }
    boxes
}

/// The bounding box of a box's mapped corners.
fn warp_box(b: BoxLabel, m: &[f32; 6]) -> BoxLabel {
    let at = |x: f32, y: f32| (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]);
    let corners = [at(b.x0, b.y0), at(b.x1, b.y0), at(b.x0, b.y1), at(b.x1, b.y1)];
    let (xs, ys): (Vec<f32>, Vec<f32>) = corners.into_iter().unzip();
    let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
    let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    BoxLabel { x0: min(&xs), x1: max(&xs), y0: min(&ys), y1: max(&ys), ..b }
}

/// Samples the image at every output pixel's centre mapped back through the warp: nearest or
/// bilinear (edge pixels extended by half a pixel, as PyTorch's resize), `fill` outside.
fn warp_image(img: &Image, warp: &Warp, fill: f32, nearest: bool) -> Image {
    let m = warp.m;
    let det = m[0] * m[4] - m[1] * m[3];
    let det = if det.abs() < 1e-12 { 1e-12 } else { det };
    let inv = [
        m[4] / det,
        -m[1] / det,
        (m[1] * m[5] - m[2] * m[4]) / det,
        -m[3] / det,
        m[0] / det,
        (m[2] * m[3] - m[0] * m[5]) / det,
    ];
    let (oh, ow) = warp.size;
    let (ih, iw) = (img.h, img.w);
    let mut data = vec![fill; img.c * oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
            let (u, v) = (inv[0] * cx + inv[1] * cy + inv[2], inv[3] * cx + inv[4] * cy + inv[5]);
            if !(0.0..iw as f32).contains(&u) || !(0.0..ih as f32).contains(&v) {
                continue;
            }
            for c in 0..img.c {
                let plane = &img.data[c * ih * iw..(c + 1) * ih * iw];
                data[(c * oh + y) * ow + x] = if nearest {
                    plane[v as usize * iw + u as usize]
                } else {
                    bilinear(plane, (ih, iw), u - 0.5, v - 0.5)
                };
            }
        }
    }
    Image { c: img.c, h: oh, w: ow, data }
}

/// A plane's value at pixel coordinates `(x, y)`, clamped to its edge.
fn bilinear(plane: &[f32], (h, w): (usize, usize), x: f32, y: f32) -> f32 {
    let (x, y) = (x.clamp(0.0, (w - 1) as f32), y.clamp(0.0, (h - 1) as f32));
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (x - x0 as f32, y - y0 as f32);
    let at = |yy: usize, xx: usize| plane[yy * w + xx];
    let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * tx;
    let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * tx;
    top + (bottom - top) * ty
}

/// The luma of each pixel (torchvision's `rgb_to_grayscale` weights), or the plane itself.
fn luma(img: &Image) -> Vec<f32> {
    let plane = img.h * img.w;
    if img.c != 3 {
        return img.data[..plane].to_vec();
    }
    (0..plane).map(|i| 0.2989 * img.data[i] + 0.587 * img.data[plane + i] + 0.114 * img.data[2 * plane + i]).collect()
}

/// `ratio·img + (1 − ratio)·other` clamped to [0, 1]; `other` of one plane is shared by the
/// channels.
fn blend(mut img: Image, other: &[f32], ratio: f32) -> Image {
    let n = other.len();
    for (i, v) in img.data.iter_mut().enumerate() {
        *v = (ratio * *v + (1.0 - ratio) * other[i % n]).clamp(0.0, 1.0);
    }
    img
}

fn pixels(img: Image, op: Pixels) -> Image {
    let plane = img.h * img.w;
    match op {
        Pixels::Brightness(f) => blend(img, &[0.0], f),
        Pixels::Saturation(f) if img.c == 3 => {
            let gray = luma(&img);
            blend(img, &gray, f)
        }
        Pixels::Saturation(_) => img,
        Pixels::Contrast(f) => {
            let gray = luma(&img);
            let mean = gray.iter().sum::<f32>() / gray.len().max(1) as f32;
            blend(img, &[mean], f)
        }
        Pixels::Sharpness(f) if img.h > 2 && img.w > 2 => {
            let smooth = degenerate(&img);
            blend(img, &smooth.data, f)
        }
        Pixels::Sharpness(_) => img,
        Pixels::Posterize(bits) => {
            let mask = !((1u32 << (8 - bits.min(8))) - 1) as u8;
            map_values(img, |v| (to_u8(v) & mask) as f32 / 255.0)
        }
        Pixels::Solarize(t) => map_values(img, |v| if v >= t { 1.0 - v } else { v }),
        Pixels::AutoContrast => per_channel(img, |values| {
            let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if hi > lo {
                values.iter_mut().for_each(|v| *v = ((*v - lo) / (hi - lo)).clamp(0.0, 1.0));
            }
        }),
        Pixels::Equalize => per_channel(img, equalize),
        Pixels::Blur { kernel, sigma } => blur(img, kernel, sigma),
        Pixels::Grayscale if img.c == 3 => {
            let gray = luma(&img);
            let mut out = img;
            for c in 0..3 {
                out.data[c * plane..(c + 1) * plane].copy_from_slice(&gray);
            }
            out
        }
        Pixels::Grayscale => img,
    }
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn map_values(mut img: Image, f: impl Fn(f32) -> f32) -> Image {
    img.data.iter_mut().for_each(|v| *v = f(*v));
    img
}

fn per_channel(mut img: Image, f: impl Fn(&mut [f32])) -> Image {
    let plane = img.h * img.w;
    img.data.chunks_mut(plane.max(1)).for_each(f);
    img
}

/// torchvision's `_scale_channel`: the 8-bit histogram's cumulative lookup table, the last
/// non-empty bin left out of the step.
fn equalize(values: &mut [f32]) {
    let mut hist = [0usize; 256];
    values.iter().for_each(|v| hist[to_u8(*v) as usize] += 1);
    let nonzero: Vec<usize> = hist.iter().copied().filter(|n| *n > 0).collect();
    let step = nonzero[..nonzero.len().saturating_sub(1)].iter().sum::<usize>() / 255;
    if step == 0 {
        return;
    }
    let mut lut = [0usize; 256];
    let mut cum = 0;
    for (i, n) in hist.iter().enumerate() {
        // lut[i] = (cumsum[i − 1] + step / 2) / step, shifted by one as torchvision pads it.
        lut[i] = ((cum + step / 2) / step).min(255);
        cum += n;
    }
    values.iter_mut().for_each(|v| *v = lut[to_u8(*v) as usize] as f32 / 255.0);
}

/// torchvision's `_blurred_degenerate_image`: a 3×3 kernel (centre 5, the rest 1, over 13) on
/// the inner pixels, the border kept.
fn degenerate(img: &Image) -> Image {
    let (h, w) = (img.h, img.w);
    let mut out = img.clone();
    for c in 0..img.c {
        let plane = &img.data[c * h * w..(c + 1) * h * w];
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let mut sum = 4.0 * plane[y * w + x];
                for dy in 0..3 {
                    for dx in 0..3 {
                        sum += plane[(y + dy - 1) * w + x + dx - 1];
                    }
                }
                out.data[(c * h + y) * w + x] = sum / 13.0;
            }
        }
    }
    out
}

/// A separable Gaussian blur as torchvision's (`kernel` taps at offsets `−(k−1)/2 … (k−1)/2`,
/// reflected borders).
fn blur(img: Image, kernel: usize, sigma: f32) -> Image {
    let half = (kernel as isize - 1) / 2;
    let weights: Vec<f32> = (-half..=half).map(|i| (-0.5 * (i as f32 / sigma).powi(2)).exp()).collect();
    let total: f32 = weights.iter().sum();
    let weights: Vec<f32> = weights.iter().map(|w| w / total).collect();
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let mut i = i;
        if n == 1 {
            return 0;
        }
        while i < 0 || i >= n {
            i = if i < 0 { -i } else { 2 * (n - 1) - i };
        }
        i as usize
    };
    let (h, w) = (img.h, img.w);
    let mut out = img.clone();
    for c in 0..img.c {
        let plane = &img.data[c * h * w..(c + 1) * h * w];
        let mut rows = vec![0.0; h * w];
        for y in 0..h {
            for x in 0..w {
                rows[y * w + x] =
                    weights.iter().enumerate().map(|(k, wt)| wt * plane[y * w + reflect(x as isize + k as isize - half, w)]).sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                out.data[(c * h + y) * w + x] =
                    weights.iter().enumerate().map(|(k, wt)| wt * rows[reflect(y as isize + k as isize - half, h) * w + x]).sum();
            }
        }
    }
    out
}
