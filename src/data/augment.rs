//! Augmentations on planar float images in [0, 1] (before `normalize`).
//!
//! Each step draws from the sample's own generator. Probabilities can be scaled live (watch mode
//! changes them between steps) through [`Live`].

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::drawn;
use crate::ir::{Augment, Normalization};

/// A `C×H×W` image, planar, `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Image {
    /// The image in `channels` channels, as floats: 8- and 16-bit pixels divided by their type's
    /// maximum (255, 65535), float pixels (32-bit TIFF) as stored. Grayscale, grayscale with
    /// alpha, RGBA and palette images (the `png` decoder expands palettes) are converted: RGB to
    /// gray by luma, gray to RGB by repeating it, alpha dropped.
    pub fn from_dynamic(img: &image::DynamicImage, channels: usize) -> Image {
        if channels == 1 {
            let g = img.to_luma32f();
            let (w, h) = g.dimensions();
            return Image { c: 1, h: h as usize, w: w as usize, data: g.into_raw() };
        }
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut data = vec![0.0; 3 * h * w];
        let (r, rest) = data.split_at_mut(h * w);
        let (g, b) = rest.split_at_mut(h * w);
        // 8-bit RGB (every JPEG) without an intermediate float image.
        if let image::DynamicImage::ImageRgb8(rgb) = img {
            for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
                (r[i], g[i], b[i]) = (px[0] as f32 / 255.0, px[1] as f32 / 255.0, px[2] as f32 / 255.0);
            }
        } else {
            for (i, px) in img.to_rgb32f().as_raw().chunks_exact(3).enumerate() {
                (r[i], g[i], b[i]) = (px[0], px[1], px[2]);
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
        // Bilinear with half-pixel centres (PyTorch's align_corners=False). The source columns and
        // weights of every output column are computed once, then each output row blends two
        // source rows: the loader spends most of its time here.
        let taps = |out: usize, len: usize| -> Vec<(usize, usize, f32)> {
            let scale = len as f32 / out as f32;
            (0..out)
                .map(|i| {
                    let f = ((i as f32 + 0.5) * scale - 0.5).clamp(0.0, (len - 1) as f32);
                    let i0 = f.floor() as usize;
                    (i0, (i0 + 1).min(len - 1), f.fract())
                })
                .collect()
        };
        let (ys, xs) = (taps(h, self.h), taps(w, self.w));
        let mut data = vec![0.0; self.c * h * w];
        for c in 0..self.c {
            let plane = &self.data[c * self.h * self.w..(c + 1) * self.h * self.w];
            for (y, &(y0, y1, ty)) in ys.iter().enumerate() {
                let (top, bottom) = (&plane[y0 * self.w..(y0 + 1) * self.w], &plane[y1 * self.w..(y1 + 1) * self.w]);
                let out = &mut data[(c * h + y) * w..(c * h + y + 1) * w];
                for (o, &(x0, x1, tx)) in out.iter_mut().zip(&xs) {
                    let t = top[x0] + (top[x1] - top[x0]) * tx;
                    let b = bottom[x0] + (bottom[x1] - bottom[x0]) * tx;
                    *o = t + (b - t) * ty;
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

impl BoxLabel {
    /// Kept out of training and of the metric's counts (difficult or crowd).
    pub fn ignored(&self) -> bool {
        self.ignore != Ignore::No
    }
}

/// Where an image's pixels went through the evaluation pipeline: a point `(x, y)` of the
/// original image is at `(x·sx + dx, y·sy + dy)` in the model's input. Every step that runs in
/// evaluation (resize, letterbox, crops) is such a map, so it inverts exactly; `predict` and
/// `eval` use it to give boxes and masks back in the original image's pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub sx: f32,
    pub sy: f32,
    pub dx: f32,
    pub dy: f32,
    /// The original image's height and width.
    pub original: (usize, usize),
    /// The height and width after the pipeline.
    pub size: (usize, usize),
}

impl Frame {
    /// The frame of an untouched `h × w` image.
    pub fn identity((h, w): (usize, usize)) -> Frame {
        Frame { sx: 1.0, sy: 1.0, dx: 0.0, dy: 0.0, original: (h, w), size: (h, w) }
    }

    /// This frame followed by a scale and then a shift, ending at `size`.
    fn then(self, (sx, sy): (f32, f32), (dx, dy): (f32, f32), size: (usize, usize)) -> Frame {
        Frame { sx: self.sx * sx, sy: self.sy * sy, dx: self.dx * sx + dx, dy: self.dy * sy + dy, size, ..self }
    }

    /// This frame followed by a plain resize to `h × w`.
    pub fn resized(self, (h, w): (usize, usize)) -> Frame {
        let (ph, pw) = self.size;
        self.then((w as f32 / pw as f32, h as f32 / ph as f32), (0.0, 0.0), (h, w))
    }

    /// A point of the model's input in the original image's pixels.
    pub fn to_original(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.dx) / self.sx, (y - self.dy) / self.sy)
    }

    /// A box `[x0, y0, x1, y1]` of the model's input in the original image's pixels, clipped to
    /// the image (a box over letterbox padding ends at the image's edge).
    pub fn box_to_original(&self, [x0, y0, x1, y1]: [f32; 4]) -> [f32; 4] {
        let (h, w) = (self.original.0 as f32, self.original.1 as f32);
        let (a, b) = (self.to_original(x0, y0), self.to_original(x1, y1));
        [a.0.clamp(0.0, w), a.1.clamp(0.0, h), b.0.clamp(0.0, w), b.1.clamp(0.0, h)]
    }

    /// A labelled box in the original image's pixels.
    pub fn label_to_original(&self, b: BoxLabel) -> BoxLabel {
        let [x0, y0, x1, y1] = self.box_to_original([b.x0, b.y0, b.x1, b.y1]);
        BoxLabel { x0, y0, x1, y1, ..b }
    }
}

/// The frame of an `h × w` image through `steps` as evaluation applies them (no random step is
/// drawn; a random crop is a centre crop), ending with a resize to `input` when given and the
/// pipeline ends elsewhere (as `predict` does).
pub fn eval_frame(steps: &[Augment], (h, w): (usize, usize), input: Option<(usize, usize)>) -> Frame {
    let mut f = Frame::identity((h, w));
    for step in steps {
        let (ph, pw) = f.size;
        f = match *step {
            Augment::Resize { height, width } => f.resized((height, width)),
            Augment::Letterbox { height, width } => {
                let fit = letterbox_fit((ph, pw), (height, width));
                let scale = (fit.w as f32 / pw as f32, fit.h as f32 / ph as f32);
                f.then(scale, (fit.left as f32, fit.top as f32), (height, width))
            }
            Augment::RandomCrop { size, padding } => {
                let (oy, ox) = crop_offset((ph + 2 * padding, pw + 2 * padding), size, None);
                let shift = (padding as f32 - ox as f32, padding as f32 - oy as f32);
                f.then((1.0, 1.0), shift, (size, size))
            }
            Augment::CenterCrop { size } => {
                let (oy, ox) = crop_offset((ph, pw), size, None);
                f.then((1.0, 1.0), (-(ox as f32), -(oy as f32)), (size, size))
            }
            Augment::Tile { size, overlap } => {
                let (oy, ox) = tile_origin((ph, pw), size, overlap, None);
                f.then((1.0, 1.0), (-(ox as f32), -(oy as f32)), (size, size))
            }
            Augment::RandomResizedCrop { size, .. } => f.resized((size, size)),
            Augment::OneOf { ref steps } => {
                let g = eval_frame(&steps[..steps.len().min(1)], (ph, pw), None);
                f.then((g.sx, g.sy), (g.dx, g.dy), g.size)
            }
            // Random steps do not run in evaluation; photometric ones move nothing.
            Augment::RandomAffine { .. }
            | Augment::GaussianBlur { .. }
            | Augment::Grayscale { .. }
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. }
            | Augment::Hflip { .. }
            | Augment::Vflip { .. }
            | Augment::Rotate { .. }
            | Augment::Normalize { .. }
            | Augment::ColorJitter { .. }
            | Augment::RandomErasing { .. } => f,
        };
    }
    match input {
        Some(size) if size != f.size => f.resized(size),
        _ => f,
    }
}

/// Tiles `(y, x, height, width)` of at most `tile` pixels covering an `h × w` image, neighbours
/// overlapping by at least `overlap` pixels; the last tile of a row or column ends at the
/// image's edge, so every pixel is in a tile and no tile is smaller than the model's input
/// unless the image is.
pub fn tiles((h, w): (usize, usize), (th, tw): (usize, usize), overlap: usize) -> Vec<(usize, usize, usize, usize)> {
    let starts = |len: usize, tile: usize| -> Vec<usize> {
        if len <= tile {
            return vec![0];
        }
        let stride = tile.saturating_sub(overlap).max(1);
        let mut out: Vec<usize> = (0..len - tile).step_by(stride).collect();
        out.push(len - tile);
        out
    };
    let (ys, xs) = (starts(h, th), starts(w, tw));
    ys.iter().flat_map(|&y| xs.iter().map(move |&x| (y, x, th.min(h), tw.min(w)))).collect()
}

/// The top-left corner of a `tile` step's tile: one of [`tiles`] drawn at random with a
/// generator, else the centre one of the grid.
fn tile_origin((h, w): (usize, usize), size: usize, overlap: usize, rng: Option<&mut ChaCha8Rng>) -> (usize, usize) {
    let grid = tiles((h, w), (size, size), overlap);
    let pick = match rng {
        Some(rng) => rng.random_range(0..grid.len()),
        None => {
            // Row-major grid: the middle row's middle column.
            let cols = grid.iter().filter(|t| t.0 == grid[0].0).count();
            let rows = grid.len() / cols.max(1);
            (rows / 2) * cols + cols / 2
        }
    };
    let (y, x, _, _) = grid[pick.min(grid.len() - 1)];
    (y, x)
}

/// A `size × size` tile at `(oy, ox)`, zeros past the image's edge (an image smaller than a tile).
fn tile(img: &Image, size: usize, (oy, ox): (usize, usize)) -> Image {
    let (h, w) = (img.h, img.w);
    img.map_coords(size, size, |y, x| (y + oy < h && x + ox < w).then_some((y + oy, x + ox)))
}

/// Where a letterboxed image lies in its `height × width` canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Fit {
    h: usize,
    w: usize,
    top: usize,
    left: usize,
}

/// The largest size with the image's aspect ratio inside `height × width`, centred.
fn letterbox_fit((h, w): (usize, usize), (height, width): (usize, usize)) -> Fit {
    let scale = (height as f64 / h as f64).min(width as f64 / w as f64);
    let fh = ((h as f64 * scale).round() as usize).clamp(1, height);
    let fw = ((w as f64 * scale).round() as usize).clamp(1, width);
    Fit { h: fh, w: fw, top: (height - fh) / 2, left: (width - fw) / 2 }
}

/// Letterboxes an image: bilinear resize for pixels, nearest for masks (`mask`), zeros around
/// pixels and the ignore label (255) around masks, so the padding never trains as background.
fn letterbox(img: &Image, (height, width): (usize, usize), mask: bool) -> Image {
    let fit = letterbox_fit((img.h, img.w), (height, width));
    let inner = if mask {
        let (ih, iw) = (img.h, img.w);
        img.map_coords(fit.h, fit.w, |y, x| Some(((y * ih) / fit.h, (x * iw) / fit.w)))
    } else {
        img.resize(fit.h, fit.w)
    };
    let inside = |y: usize, x: usize| {
        let (iy, ix) = (y.checked_sub(fit.top)?, x.checked_sub(fit.left)?);
        (iy < fit.h && ix < fit.w).then_some((iy, ix))
    };
    let mut out = inner.map_coords(height, width, inside);
    if mask {
        let plane = height * width;
        for (i, v) in out.data.iter_mut().enumerate() {
            let (y, x) = ((i % plane) / width, i % width);
            if inside(y, x).is_none() {
                *v = crate::formats::IGNORE as f32;
            }
        }
    }
    out
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
        Augment::Resize { .. } | Augment::Letterbox { .. } => {
            // Deterministic steps: their frame says where every point goes.
            let f = eval_frame(std::slice::from_ref(step), (h, w), None);
            let at = |x: f32, y: f32| (x * f.sx + f.dx, y * f.sy + f.dy);
            let moved = boxes.into_iter().map(|b| {
                let ((x0, y0), (x1, y1)) = (at(b.x0, b.y0), at(b.x1, b.y1));
                BoxLabel { x0, y0, x1, y1, ..b }
            });
            (moved.collect(), (f.size.0 as f32, f.size.1 as f32))
        }
        Augment::RandomCrop { size, padding } => crop_boxes(boxes, (h, w), size, padding, train.then_some(rng)),
        Augment::CenterCrop { size } => crop_boxes(boxes, (h, w), size, 0, None),
        Augment::Tile { size, overlap } => {
            let (oy, ox) = tile_origin((h, w), size, overlap, train.then_some(rng));
            let (dx, dy) = (-(ox as f32), -(oy as f32));
            let moved =
                boxes.into_iter().map(|b| BoxLabel { x0: b.x0 + dx, x1: b.x1 + dx, y0: b.y0 + dy, y1: b.y1 + dy, ..b });
            (moved.collect(), (size as f32, size as f32))
        }
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
        Augment::RandomResizedCrop { .. }
        | Augment::RandomAffine { .. }
        | Augment::GaussianBlur { .. }
        | Augment::Grayscale { .. }
        | Augment::OneOf { .. }
        | Augment::RandAugment { .. }
        | Augment::TrivialAugment { .. } => {
            let ops = drawn::drawn(step, (h, w), rng, train);
            return drawn::on_boxes(boxes, &ops, (h, w), train);
        }
    };
    clip_boxes(moved, (out_h as usize, out_w as usize))
}

/// Boxes clipped to an `h × w` image; those left less than a pixel wide or tall are dropped.
pub(super) fn clip_boxes(boxes: Vec<BoxLabel>, (h, w): (usize, usize)) -> Vec<BoxLabel> {
    let (out_h, out_w) = (h as f32, w as f32);
    boxes
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
        if step.is_drawn() {
            // Drawn once; image, mask and boxes follow the same ops.
            let ops = drawn::drawn(step, (img.h, img.w), rng, train);
            boxes = boxes.map(|b| drawn::on_boxes(b, &ops, (img.h, img.w), train));
            mask = mask.map(|m| drawn::on_mask(m, &ops, train));
            img = drawn::on_image(img, &ops, train);
            continue;
        }
        if step.is_geometric() {
            boxes = boxes.map(|b| move_boxes(step, b, (img.h, img.w), &mut rng.clone(), train));
            mask = mask.map(|m| step_on_mask(step, m, &mut rng.clone(), train));
        }
        img = apply(std::slice::from_ref(step), img, rng, train);
    }
    (img, mask, boxes)
}

/// A mask through one geometric step, drawing from `rng` what [`apply`] draws for the image:
/// resized by nearest neighbour so class ids stay class ids, letterboxed with the ignore label.
pub(super) fn step_on_mask(step: &Augment, m: Image, rng: &mut ChaCha8Rng, train: bool) -> Image {
    match *step {
        Augment::Resize { height: h, width: w } => {
            let (mh, mw) = (m.h, m.w);
            m.map_coords(h, w, |y, x| Some(((y * mh) / h, (x * mw) / w)))
        }
        Augment::Letterbox { height, width } => letterbox(&m, (height, width), true),
        _ if step.is_drawn() => drawn::on_mask(m.clone(), &drawn::drawn(step, (m.h, m.w), rng, train), train),
        _ if step.is_geometric() => apply(std::slice::from_ref(step), m, rng, train),
        // Photometric steps leave class ids alone.
        _ => m,
    }
}

/// Applies a pipeline. `train` is false for evaluation, where random steps are skipped unless
/// they change the size (a random crop becomes a centre crop).
pub fn apply(steps: &[Augment], mut img: Image, rng: &mut ChaCha8Rng, train: bool) -> Image {
    for step in steps {
        let p = step.p();
        let hit = |rng: &mut ChaCha8Rng| train && rng.random::<f64>() < p;
        img = match step {
            Augment::Normalize { stats } => normalize(img, stats),
            &Augment::Resize { height, width } => img.resize(height, width),
            &Augment::Letterbox { height, width } => letterbox(&img, (height, width), false),
            &Augment::RandomCrop { size, padding } => crop(&img, size, padding, train.then_some(&mut *rng)),
            &Augment::CenterCrop { size } => crop(&img, size, 0, None),
            &Augment::Tile { size, overlap } => {
                let origin = tile_origin((img.h, img.w), size, overlap, train.then_some(&mut *rng));
                tile(&img, size, origin)
            }
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
            Augment::RandomResizedCrop { .. }
            | Augment::RandomAffine { .. }
            | Augment::GaussianBlur { .. }
            | Augment::Grayscale { .. }
            | Augment::OneOf { .. }
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. } => {
                let ops = drawn::drawn(step, (img.h, img.w), rng, train);
                drawn::on_image(img, &ops, train)
            }
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

/// `(x − mean) / std` per channel, with the given statistics or each image's own.
fn normalize(mut img: Image, stats: &Normalization) -> Image {
    let plane = img.h * img.w;
    for c in 0..img.c {
        let values = &mut img.data[c * plane..(c + 1) * plane];
        let (m, s) = match stats.mean_std() {
            Some((mean, std)) => (mean[c % mean.len()] as f32, std[c % std.len()] as f32),
            None => {
                let n = values.len().max(1) as f64;
                let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n;
                let var = values.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n;
                // A flat channel stays flat (0) instead of dividing by zero.
                (mean as f32, var.sqrt().max(1e-6) as f32)
            }
        };
        for v in values {
            *v = (*v - m) / s;
        }
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
    fn letterbox_keeps_the_aspect_and_boxes_map_back() {
        // A 10×40 image into 32×32: scaled by 0.8 to 8×32, padded 12 rows above and below.
        let img = Image { c: 1, h: 10, w: 40, data: vec![1.0; 400] };
        let b = BoxLabel { class: 0, x0: 5.0, y0: 0.0, x1: 15.0, y1: 10.0, ..Default::default() };
        let steps = [Augment::Letterbox { height: 32, width: 32 }];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (out, _, boxes) = apply_pair(&steps, img, None, Some(vec![b]), &mut rng, false);
        assert_eq!((out.h, out.w), (32, 32));
        let rows: Vec<f32> = (0..32).map(|y| out.data[y * 32 + 16]).collect();
        assert!(rows[..12].iter().all(|v| *v == 0.0) && rows[12..20].iter().all(|v| *v == 1.0), "{rows:?}");
        assert!(rows[20..].iter().all(|v| *v == 0.0), "{rows:?}");
        let moved = boxes.expect("boxes")[0];
        assert_eq!([moved.x0, moved.y0, moved.x1, moved.y1], [4.0, 12.0, 12.0, 20.0]);
        let frame = eval_frame(&steps, (10, 40), None);
        assert_eq!(frame.box_to_original([4.0, 12.0, 12.0, 20.0]), [5.0, 0.0, 15.0, 10.0]);
        // Padding maps outside the image and is clipped to its edge.
        assert_eq!(frame.box_to_original([0.0, 0.0, 32.0, 32.0]), [0.0, 0.0, 40.0, 10.0]);
        // A mask's padding is the ignore label, not background.
        let img = Image { c: 1, h: 10, w: 40, data: vec![0.0; 400] };
        let mask = Image { c: 1, h: 10, w: 40, data: vec![2.0; 400] };
        let (_, mask, _) = apply_pair(&steps, img, Some(mask), None, &mut rng, false);
        let rows: Vec<f32> = (0..32).map(|y| mask.as_ref().expect("mask").data[y * 32 + 16]).collect();
        assert!(rows[..12].iter().chain(&rows[20..]).all(|v| *v == 255.0), "{rows:?}");
        assert!(rows[12..20].iter().all(|v| *v == 2.0), "{rows:?}");
    }

    #[test]
    fn frames_compose_resize_and_crops() {
        // 100×200 → resize 50×50 (sx 0.25, sy 0.5) → centre crop 40 (shift −5, −5).
        let steps = [Augment::Resize { height: 50, width: 50 }, Augment::CenterCrop { size: 40 }];
        let f = eval_frame(&steps, (100, 200), None);
        assert_eq!((f.sx, f.sy, f.dx, f.dy, f.size), (0.25, 0.5, -5.0, -5.0, (40, 40)));
        assert_eq!(f.to_original(15.0, 5.0), (80.0, 20.0));
        // A final resize to the model's input when the pipeline ends elsewhere.
        let g = eval_frame(&[], (100, 200), Some((50, 100)));
        assert_eq!((g.sx, g.sy), (0.5, 0.5));
    }

    #[test]
    fn tiles_cover_the_image_with_overlap() {
        let t = tiles((100, 250), (64, 64), 16);
        let xs: Vec<usize> = t.iter().filter(|t| t.0 == 0).map(|t| t.1).collect();
        assert_eq!(xs, [0, 48, 96, 144, 186]);
        let ys: Vec<usize> = t.iter().filter(|t| t.1 == 0).map(|t| t.0).collect();
        assert_eq!(ys, [0, 36]);
        assert_eq!(tiles((30, 40), (64, 64), 16), [(0, 0, 30, 40)]);
    }

    #[test]
    fn tiles_move_boxes_with_the_pixels_and_evaluation_takes_the_centre_tile() {
        // A 40×100 scene, 32×32 tiles overlapping by 8: a marked pixel and its box land together.
        let mut data = vec![0.0; 4000];
        data[20 * 100 + 50] = 1.0;
        let img = Image { c: 1, h: 40, w: 100, data };
        let b = BoxLabel { class: 0, x0: 50.0, y0: 20.0, x1: 51.0, y1: 21.0, ..Default::default() };
        let steps = [Augment::Tile { size: 32, overlap: 8 }];
        let mut origins = std::collections::BTreeSet::new();
        for seed in 0..40 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (out, _, boxes) = apply_pair(&steps, img.clone(), None, Some(vec![b]), &mut rng, true);
            assert_eq!((out.h, out.w), (32, 32));
            let at = out.data.iter().position(|v| *v == 1.0);
            match (at, boxes.as_deref()) {
                (Some(i), Some([moved])) => assert_eq!(((i / 32) as f32, (i % 32) as f32), (moved.y0, moved.x0)),
                (None, Some([])) => {}
                other => panic!("seed {seed}: pixel and box disagree: {other:?}"),
            }
            origins.insert(tile_origin((40, 100), 32, 8, Some(&mut ChaCha8Rng::seed_from_u64(seed))));
        }
        // Rows 0 and 8, columns 0, 24, 48, 68: every tile is drawn.
        assert_eq!(origins.len(), 8, "{origins:?}");
        let f = eval_frame(&steps, (40, 100), None);
        assert_eq!((f.dx, f.dy, f.size), (-48.0, -8.0, (32, 32)));
    }

    #[test]
    fn per_image_normalisation_centres_each_channel() {
        let img = Image { c: 2, h: 1, w: 2, data: vec![0.0, 2.0, 5.0, 5.0] };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let out = apply(&[Augment::Normalize { stats: Normalization::PerImage }], img, &mut rng, false);
        assert_eq!(out.data, vec![-1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn sixteen_bit_pixels_keep_their_precision() {
        let px: Vec<u16> = vec![0, 1, 32768, 65535];
        let buf = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(4, 1, px).expect("buffer");
        let img = Image::from_dynamic(&image::DynamicImage::ImageLuma16(buf), 1);
        assert_eq!(img.data[1], 1.0 / 65535.0);
        assert_eq!(img.data[3], 1.0);
        let rgb = Image::from_dynamic(
            &image::DynamicImage::ImageLuma16(image::ImageBuffer::from_raw(1, 1, vec![65535u16]).expect("buffer")),
            3,
        );
        assert_eq!(rgb.data, vec![1.0, 1.0, 1.0]);
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
