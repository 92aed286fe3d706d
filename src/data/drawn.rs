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
    Blur {
        kernel: usize,
        sigma: f32,
    },
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
        Affine {
            degrees: 0.0,
            shear: (0.0, 0.0),
            scale: 1.0,
            translate: (0.0, 0.0),
            center: (w as f32 / 2.0, h as f32 / 2.0),
        }
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
                translate: (uniform(-translate, translate) * w as f32, uniform(-translate, translate) * h as f32),
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
            Op::Step(step, seed) => augment::step_on_mask(step, mask, &mut ChaCha8Rng::seed_from_u64(*seed), train),
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
                rows[y * w + x] = weights
                    .iter()
                    .enumerate()
                    .map(|(k, wt)| wt * plane[y * w + reflect(x as isize + k as isize - half, w)])
                    .sum();
            }
        }
        for y in 0..h {
            for x in 0..w {
                out.data[(c * h + y) * w + x] = weights
                    .iter()
                    .enumerate()
                    .map(|(k, wt)| wt * rows[reflect(y as isize + k as isize - half, h) * w + x])
                    .sum();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    fn gray(h: usize, w: usize, values: &[u8]) -> Image {
        Image { c: 1, h, w, data: values.iter().map(|v| *v as f32 / 255.0).collect() }
    }

    fn bytes(img: &Image) -> Vec<u8> {
        img.data.iter().map(|v| to_u8(*v)).collect()
    }

    /// torchvision 0.24's `_augmentation_space` at bin 9 of 31 (RandAugment, 224×160) and bins
    /// 0, 12, 30 (TrivialAugmentWide), printed by torchvision itself.
    #[test]
    fn magnitude_tables_are_torchvisions() {
        let ra = |op| magnitude(Space::Rand, op, 9, 31, (224, 160)).map(|m| m.0);
        assert!(close(ra("ShearX").expect("shear"), 0.09));
        assert!(close(ra("TranslateX").expect("tx"), 21.75226593017578));
        assert!(close(ra("TranslateY").expect("ty"), 30.45317268371582));
        assert!(close(ra("Rotate").expect("rotate"), 9.0));
        assert!(close(ra("Brightness").expect("brightness"), 0.27));
        assert_eq!(ra("Posterize"), Some(7.0));
        assert!(close(ra("Solarize").expect("solarize"), 178.5));
        assert_eq!(ra("Equalize"), None);
        let ta = |op, bin| magnitude(Space::TrivialWide, op, bin, 31, (224, 160)).map(|m| m.0).expect("op");
        for (bin, shear, shift, angle, bits, threshold) in
            [(0, 0.0, 0.0, 0.0, 8.0, 255.0), (12, 0.396, 12.8, 54.0, 6.0, 153.0), (30, 0.99, 32.0, 135.0, 2.0, 0.0)]
        {
            assert!(close(ta("ShearY", bin), shear) && close(ta("TranslateY", bin), shift), "bin {bin}");
            assert!(close(ta("Rotate", bin), angle) && close(ta("Contrast", bin), shear), "bin {bin}");
            assert_eq!((ta("Posterize", bin), ta("Solarize", bin)), (bits, threshold), "bin {bin}");
        }
        let signed: Vec<&str> = AUTO_OPS
            .iter()
            .copied()
            .filter(|op| magnitude(Space::Rand, op, 1, 31, (8, 8)).is_some_and(|m| m.1))
            .collect();
        assert_eq!(
            signed,
            ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast", "Sharpness"]
        );
    }

    /// The value ops against torchvision's functional ops on the same 8-bit image.
    #[test]
    fn pixel_ops_match_torchvision() {
        let img = gray(3, 3, &[10, 20, 30, 40, 200, 60, 70, 80, 250]);
        assert_eq!(bytes(&pixels(img.clone(), Pixels::Posterize(3))), [0, 0, 0, 32, 192, 32, 64, 64, 224]);
        assert_eq!(bytes(&pixels(img.clone(), Pixels::Solarize(128.0 / 255.0))), [10, 20, 30, 40, 55, 60, 70, 80, 5]);
        // torchvision's 8-bit result [0, 10, 21, 31, 201, 53, 63, 74, 255] truncates; floats keep the fraction.
        let stretched = pixels(img.clone(), Pixels::AutoContrast);
        let expected = [0.0, 10.625, 21.25, 31.875, 201.875, 53.125, 63.75, 74.375, 255.0];
        assert!(stretched.data.iter().zip(expected).all(|(a, b)| (a * 255.0 - b).abs() < 1e-3), "{stretched:?}");
        assert_eq!(bytes(&pixels(img.clone(), Pixels::Sharpness(2.0))), [10, 20, 30, 40, 255, 60, 70, 80, 250]);
        let blurred: Vec<f32> =
            pixels(img, Pixels::Blur { kernel: 3, sigma: 1.0 }).data.iter().map(|v| v * 255.0).collect();
        let torch = [76.99366, 73.59654, 86.03091, 82.6338, 92.64518, 111.48567, 104.10543, 120.52293, 145.81148];
        assert!(blurred.iter().zip(torch).all(|(a, b)| (a - b).abs() < 1e-3), "{blurred:?}");
        let ramp: Vec<u8> = (0..600usize).map(|i| ((i * i) % 97) as u8).collect();
        let eq = bytes(&pixels(gray(20, 30, &ramp), Pixels::Equalize));
        assert_eq!(eq[..12], [0, 4, 23, 42, 60, 85, 122, 153, 190, 239, 17, 79]);
        assert_eq!(eq.iter().map(|v| *v as u64).sum::<u64>(), 86541);
    }

    /// RandAugment on a scene with one marked pixel inside a box: for every draw, the warps put
    /// the pixel inside the moved box, and value ops move neither.
    #[test]
    fn rand_augment_moves_boxes_with_the_pixels() {
        let (h, w) = (24, 32);
        let mut data = vec![0.0; h * w];
        data[10 * w + 13] = 1.0;
        let img = Image { c: 1, h, w, data };
        let b = BoxLabel { class: 3, x0: 12.0, y0: 9.0, x1: 15.0, y1: 12.0, ..Default::default() };
        let step = Augment::RandAugment { n: 2, magnitude: 9, bins: 31 };
        let (mut warps, mut values) = (0, 0);
        for seed in 0..200 {
            let ops = drawn(&step, (h, w), &mut ChaCha8Rng::seed_from_u64(seed), true);
            // Two ops; an identity adds nothing to the list.
            assert!(ops.len() <= 2, "seed {seed}: {ops:?}");
            // Pixel positions only: the warps alone, on the marked pixel.
            let geometric: Vec<Op> = ops.iter().filter(|o| matches!(o, Op::Warp(_))).cloned().collect();
            warps += geometric.len();
            values += ops.iter().filter(|o| matches!(o, Op::Pixels(_))).count();
            let moved = on_image(img.clone(), &geometric, true);
            let boxes = on_boxes(vec![b], &ops, (h, w), true);
            assert_eq!(boxes, on_boxes(vec![b], &geometric, (h, w), true), "seed {seed}: value ops moved a box");
            match (moved.data.iter().position(|v| *v == 1.0), boxes.as_slice()) {
                (Some(i), [m]) => {
                    let (y, x) = ((i / w) as f32 + 0.5, (i % w) as f32 + 0.5);
                    assert!(m.x0 <= x && x <= m.x1 && m.y0 <= y && y <= m.y1, "seed {seed}: {x},{y} outside {m:?}");
                    assert_eq!(m.class, 3);
                }
                // The pixel left the image; the box may keep a sliver.
                (None, _) => {}
                (Some(_), []) => panic!("seed {seed}: the pixel stayed but the box was dropped"),
                other => panic!("seed {seed}: {other:?}"),
            }
        }
        assert!(warps > 50 && values > 150, "both kinds drawn: {warps} warps, {values} value ops");
        // The same draws give the same image whatever is carried along, and evaluation draws nothing.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (a, _, _) =
            augment::apply_pair(std::slice::from_ref(&step), img.clone(), None, Some(vec![b]), &mut rng, true);
        let alone = augment::apply(std::slice::from_ref(&step), img.clone(), &mut ChaCha8Rng::seed_from_u64(7), true);
        assert_eq!(a, alone);
        assert!(drawn(&step, (h, w), &mut rng, false).is_empty());
    }

    #[test]
    fn masks_follow_warps_with_the_ignore_label_outside() {
        let mask = Image { c: 1, h: 4, w: 4, data: (0..16).map(|v| (v % 3) as f32).collect() };
        let shift = Affine { translate: (1.0, 0.0), ..Affine::identity((4, 4)) }.warp((4, 4), true);
        let out = on_mask(mask.clone(), &[Op::Warp(shift), Op::Pixels(Pixels::Brightness(0.1))], true);
        assert_eq!(out.data[..4], [255.0, 0.0, 1.0, 2.0]);
        // An hflip inside `one_of` runs as the old step, on image, mask and boxes alike.
        let one_of = Augment::OneOf { steps: vec![Augment::Hflip { p: 1.0 }] };
        let img = Image { c: 1, h: 1, w: 4, data: vec![0.0, 0.25, 0.5, 1.0] };
        let b = BoxLabel { x0: 0.0, y0: 0.0, x1: 1.0, y1: 1.0, ..Default::default() };
        let m = Image { c: 1, h: 1, w: 4, data: vec![1.0, 2.0, 3.0, 4.0] };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (img, m, boxes) = augment::apply_pair(&[one_of], img, Some(m), Some(vec![b]), &mut rng, true);
        assert_eq!((img.data, m.expect("mask").data), (vec![1.0, 0.5, 0.25, 0.0], vec![4.0, 3.0, 2.0, 1.0]));
        assert_eq!(boxes.expect("boxes")[0].x0, 3.0);
    }

    #[test]
    fn random_resized_crop_fits_the_image_and_evaluation_resizes_it_whole() {
        let step = Augment::RandomResizedCrop { size: 8, scale: [0.08, 1.0], ratio: [0.75, 4.0 / 3.0] };
        for seed in 0..50 {
            let (top, left, ch, cw) =
                resized_crop_box((40, 60), [0.08, 1.0], [0.75, 4.0 / 3.0], &mut ChaCha8Rng::seed_from_u64(seed));
            assert!(top + ch <= 40 && left + cw <= 60 && ch > 0 && cw > 0, "seed {seed}");
            let area = (ch * cw) as f64 / 2400.0;
            assert!((0.06..=1.0).contains(&area), "seed {seed}: area share {area}");
        }
        // Evaluation: the whole 16×16 ramp to 8×8, as a bilinear resize.
        let img = Image { c: 1, h: 16, w: 16, data: (0..256).map(|v| v as f32).collect() };
        let ops = drawn(&step, (16, 16), &mut ChaCha8Rng::seed_from_u64(0), false);
        assert_eq!(on_image(img.clone(), &ops, false), img.resize(8, 8));
        let frame = augment::eval_frame(&[step], (16, 16), None);
        assert_eq!((frame.sx, frame.sy, frame.size), (0.5, 0.5, (8, 8)));
    }
}
