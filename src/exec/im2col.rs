//! `conv2d` forward and backward on f32 slices in NCHW, as im2col columns and matrix products:
//! the kernel behind [`super::conv`] on burn-flex.
//!
//! # Why
//!
//! burn-flex lowers a convolution through channels-last copies of the input, of the columns and
//! of the output (`copy_2d_tiled`, 22 % of a Fashion-MNIST training step under `perf`), and its
//! input gradient is a transposed convolution whose scatter loop runs on one thread (6 %).
//! Here every product reads and writes NCHW directly, as Caffe's `im2col` does:
//!
//! - forward, per sample and group: `Y[O/g, OH·OW] = W[O/g, C/g·kh·kw] · cols[C/g·kh·kw, OH·OW]`;
//! - weight gradient: `dW += dY · colsᵀ`, summed over the samples;
//! - input gradient: `dcols = Wᵀ · dY`, then `col2im` adds each column back under its window.
//!
//! A column row `(c, i, j)` is channel `c` shifted by tap `(i, j)`: for stride 1 each output row
//! is one `copy_from_slice` of an input row, padded with zeros. A 1×1 convolution with stride 1
//! and no padding needs no columns at all: the input is its own column matrix.
//!
//! # Parallelism
//!
//! Samples are split into chunks ([`Chunks`]); the chunks run on rayon's pool, each with its own
//! scratch buffers and its own weight-gradient sum, and each product on one thread. On small maps
//! a chunk takes several samples, side by side in the columns, so that the products keep enough
//! columns (a 4×4 map has 16 per sample). When there are fewer chunks than threads (a batch of one
//! at inference) the chunks run in turn and each product uses every thread instead.

use std::mem::MaybeUninit;

use super::fused::{self, zeroed, zeroed_chunks_into};
use super::simd;
use std::ops::Range;

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use gemm::Parallelism;
use rayon::prelude::*;

/// Sizes of one `conv2d`, checked before any data is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub channels_in: usize,
    /// Input height and width.
    pub input: [usize; 2],
    pub channels_out: usize,
    pub groups: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// `(begin, end)` zero padding of height and width.
    pub padding: [(usize, usize); 2],
    /// Output height and width.
    pub out: [usize; 2],
}

impl Geometry {
    /// The geometry of `conv2d(x, weight)`, or `None` when the shapes do not form a convolution
    /// (the caller then leaves it to burn, which reports it).
    pub fn new(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Self> {
        let [batch, channels_in, height, width] = x;
        let [channels_out, channels_per_group, kh, kw] = weight;
        let groups = options.groups;
        let sizes = [batch, channels_out, channels_per_group, kh, kw, groups];
        if !sizes.iter().chain(&options.stride).chain(&options.dilation).all(|&n| n > 0)
            || channels_in != channels_per_group * groups
            || channels_out % groups != 0
        {
            return None;
        }
        let input = [height, width];
        let mut out = [0; 2];
        for axis in 0..2 {
            let (begin, end) = options.padding[axis];
            let padded = input[axis] + begin + end;
            let reach = ([kh, kw][axis] - 1) * options.dilation[axis] + 1;
            out[axis] = padded.checked_sub(reach)? / options.stride[axis] + 1;
        }
        Some(Self {
            batch,
            channels_in,
            input,
            channels_out,
            groups,
            kernel: [kh, kw],
            stride: options.stride,
            dilation: options.dilation,
            padding: options.padding,
            out,
        })
    }

    /// The convolution whose input gradient is `conv_transpose2d(x, weight)`: its input has the
    /// transposed convolution's output shape, its output `x`'s shape. `x` is `[B, C_in, H, W]`,
    /// `weight` `[C_in, C_out/g, kh, kw]`; `None` when that convolution would not give back
    /// `H × W`.
    pub fn transposed(x: [usize; 4], weight: [usize; 4], options: &ConvTransposeOptions<2>) -> Option<Self> {
        let [batch, channels_in, height, width] = x;
        let [_, channels_per_group, kh, kw] = weight;
        let mut size = [0; 2];
        for (axis, input) in [height, width].into_iter().enumerate() {
            let reach = options.dilation[axis] * ([kh, kw][axis].checked_sub(1)?);
            let grown = (input.checked_sub(1)? * options.stride[axis]) + reach + options.padding_out[axis] + 1;
            size[axis] = grown.checked_sub(2 * options.padding[axis])?;
        }
        let padding = [options.padding[0], options.padding[1]];
        let conv = ConvOptions::new(options.stride, padding, options.dilation, options.groups);
        let g = Geometry::new([batch, channels_per_group * options.groups, size[0], size[1]], weight, &conv)?;
        (g.out == [height, width] && g.channels_out == channels_in).then_some(g)
    }

    pub(super) fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Column rows of one group: `C/g · kh · kw`, the length of a weight row.
    fn rows_per_group(&self) -> usize {
        self.channels_in / self.groups * self.kernel[0] * self.kernel[1]
    }

    pub(super) fn input_len(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    pub(super) fn output_len(&self) -> usize {
        self.channels_out * self.positions()
    }

    /// A 1×1 convolution with stride 1 and no padding: the input is its own column matrix.
    fn columns_are_input(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [(0, 0); 2]
    }
}

/// How the batch is split: `samples` per chunk (the last may have fewer), and whether chunks run
/// in parallel (one thread per product) or in turn (every thread per product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunks {
    pub(super) samples: usize,
    pub(super) parallel: bool,
}

/// Fewest columns a chunk's products should have: below this, samples are grouped. Small maps
/// (ResNet-18's 4×4 and 1×1 stages) otherwise make products too thin for the micro-kernels and
/// give every sample a full weight-gradient update.
const MIN_COLUMNS: usize = 256;

impl Chunks {
    fn for_geometry(g: &Geometry, threads: usize) -> Self {
        Self::for_columns(g.batch, g.positions(), threads)
    }

    /// For `batch` samples of `columns` product columns each.
    pub(super) fn for_columns(batch: usize, columns: usize, threads: usize) -> Self {
        let wanted = MIN_COLUMNS.div_ceil(columns.max(1));
        // Never so many samples per chunk that a thread is left without one.
        let fair = batch.div_ceil(threads.max(1));
        let samples = wanted.min(fair).max(1);
        Chunks { samples, parallel: threads > 1 && batch.div_ceil(samples) >= threads }
    }

    pub(super) fn gemm_parallelism(&self) -> Parallelism {
        match self.parallel {
            true => Parallelism::None,
            false => Parallelism::Rayon(0),
        }
    }
}

/// Largest column buffer a band of one sample's output rows fills, in bytes: small enough to
/// stay in the L2 or L3 cache between `im2col` and the products that read it. A 256×256 map with
/// 64 input channels has 151 MB of columns a sample; written whole, then read, they made the
/// U-Net's convolutions slower than burn-flex's.
const BAND_BYTES: usize = 1 << 20;

impl Geometry {
    /// Output rows per band of one sample: at least one.
    fn band_rows(&self) -> usize {
        let columns = BAND_BYTES / (4 * self.groups * self.rows_per_group());
        (columns / self.out[1]).max(1)
    }

    /// The bands of output rows of one sample.
    fn bands(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        let (rows, step) = (self.out[0], self.band_rows());
        (0..rows).step_by(step).map(move |start| start..(start + step).min(rows))
    }
}

/// Buffers one worker reuses from chunk to chunk.
#[derive(Default)]
struct Scratch {
    columns: Vec<f32>,
    /// The chunk's outputs (or output gradients) side by side, `[O, samples · OH·OW]`.
    gathered: Vec<f32>,
    column_grads: Vec<f32>,
}

/// A matrix by its first element and row stride (columns are contiguous).
#[derive(Clone, Copy)]
pub(super) struct Mat {
    ptr: *mut f32,
    stride: usize,
}

impl Mat {
    pub(super) fn of(data: &[f32], stride: usize) -> Mat {
        Mat { ptr: data.as_ptr().cast_mut(), stride }
    }

    pub(super) fn of_mut(data: &mut [f32], stride: usize) -> Mat {
        Mat { ptr: data.as_mut_ptr(), stride }
    }

    /// The sub-matrix from row `row`, column `column`.
    pub(super) fn at(self, row: usize, column: usize) -> Mat {
        // SAFETY (for callers): offsets stay inside the slice the matrix was made from.
        Mat { ptr: self.ptr.wrapping_add(row * self.stride + column), stride: self.stride }
    }
}

/// `dst[m×n] = (dst +) lhs · rhs` with `lhs` `m×k` and `rhs` `k×n`; `lhs_t` / `rhs_t` read the
/// operand transposed (its rows are the product's columns).
///
/// # Safety
/// Each matrix must lie inside live memory for the rows and columns the product touches, and
/// `dst` must not overlap the operands.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn product(
    [m, n, k]: [usize; 3],
    dst: Mat,
    accumulate: bool,
    (lhs, lhs_t): (Mat, bool),
    (rhs, rhs_t): (Mat, bool),
    parallelism: Parallelism,
) {
    // gemm takes (column stride, row stride) per matrix.
    let strides = |mat: Mat, transposed: bool| match transposed {
        false => (1, mat.stride as isize),
        true => (mat.stride as isize, 1),
    };
    let ((lhs_cs, lhs_rs), (rhs_cs, rhs_rs)) = (strides(lhs, lhs_t), strides(rhs, rhs_t));
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.ptr,
            1,
            dst.stride as isize,
            accumulate,
            lhs.ptr,
            lhs_cs,
            lhs_rs,
            rhs.ptr,
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `conv2d(x, weight, bias)`, then `relu` when asked (fused: each band is rectified while it is
/// still in cache): `x` is `[B, C, H, W]`, `weight` `[O, C/g, kh, kw]`, `bias` `[O]`; returns
/// `[B, O, OH, OW]`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    // SAFETY: `forward_into` writes every value.
    unsafe { fused::filled(g.batch * g.output_len(), |out| forward_into(g, x, weight, bias, relu, out)) }.0
}

/// [`forward`] into `out` (`[B, O, OH, OW]`), which it writes in full.
pub fn forward_into(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    assert_eq!(out.len(), g.batch * g.output_len(), "conv2d output of {g:?}");
    let chunks = Chunks::for_geometry(g, rayon::current_num_threads());
    let run = |scratch: &mut Scratch, (index, out): (usize, &mut [f32])| {
        let first = index * chunks.samples;
        let samples = out.len() / g.output_len();
        let x = &x[first * g.input_len()..(first + samples) * g.input_len()];
        let job = Job { g, weight, parallelism: chunks.gemm_parallelism(), relu };
        simd::dispatch(
            #[inline(always)]
            || match samples {
                1 => job.forward_sample(x, bias, out, scratch),
                _ => job.forward_samples(x, bias, out, scratch),
            },
        )
    };
    zeroed_chunks_into(out, chunks.samples * g.output_len(), chunks.parallel, run)
}

/// `row = relu(row)`: the fused `relu`.
#[inline(always)]
fn rectify(row: &mut [f32]) {
    row.iter_mut().for_each(|v| *v = fused::relu(*v));
}

/// `dy` masked by the rectified output `y` ([`fused::relu_grad`]), into `masked`.
#[inline(always)]
fn mask_by_output<'b>(dy: &[f32], y: &[f32], masked: &'b mut Vec<f32>) -> &'b [f32] {
    masked.clear();
    masked.extend(dy.iter().zip(y).map(|(&d, &y)| fused::relu_grad(d, y)));
    masked
}

/// What every chunk of one convolution shares.
struct Job<'a> {
    g: &'a Geometry,
    weight: &'a [f32],
    parallelism: Parallelism,
    /// Rectify the output (the forward pass of a fused `conv2d |> relu`).
    relu: bool,
}

impl Job<'_> {
    /// One sample, band by band of output rows: its columns stay in cache.
    #[inline(always)]
    fn forward_sample(&self, x: &[f32], bias: Option<&[f32]>, out: &mut [f32], scratch: &mut Scratch) {
        let (g, p) = (self.g, self.g.positions());
        for rows in g.bands() {
            let (start, n) = (rows.start * g.out[1], rows.len() * g.out[1]);
            let dst = Mat::of_mut(out, p).at(0, start);
            if let Some(bias) = bias {
                for (row, &b) in out.chunks_mut(p).zip(bias) {
                    row[start..start + n].fill(b);
                }
            }
            let columns = match g.columns_are_input() {
                true => Mat::of(x, p).at(0, start),
                false => Mat::of(self.columns(x, rows, &mut scratch.columns), n),
            };
            self.output(columns, dst, n, bias.is_some());
            if self.relu {
                out.chunks_mut(p).for_each(|row| rectify(&mut row[start..start + n]));
            }
        }
    }

    /// Several samples side by side in one product, then spread out to `[samples, O, P]`.
    #[inline(always)]
    fn forward_samples(&self, x: &[f32], bias: Option<&[f32]>, out: &mut [f32], scratch: &mut Scratch) {
        let g = self.g;
        let width = out.len() / g.output_len() * g.positions();
        let columns = Mat::of(samples_columns(g, x, &mut scratch.columns), width);
        scratch.gathered.resize(g.channels_out * width, 0.0);
        if let Some(bias) = bias {
            for (row, &b) in scratch.gathered.chunks_mut(width).zip(bias) {
                row.fill(b);
            }
        }
        self.output(columns, Mat::of_mut(&mut scratch.gathered, width), width, bias.is_some());
        if self.relu {
            rectify(&mut scratch.gathered);
        }
        spread(g, &scratch.gathered, out);
    }

    /// The columns of output rows `rows` of one sample, in `buffer`.
    #[inline(always)]
    fn columns<'b>(&self, x: &[f32], rows: Range<usize>, buffer: &'b mut Vec<f32>) -> &'b [f32] {
        let n = rows.len() * self.g.out[1];
        buffer.resize(self.g.groups * self.g.rows_per_group() * n, 0.0);
        im2col(self.g, x, rows, buffer, n, 0);
        buffer
    }

    /// `dst[group] (+)= W[group] · columns[group]` over `n` columns.
    fn output(&self, columns: Mat, dst: Mat, n: usize, accumulate: bool) {
        let (og, rows) = (self.g.channels_out / self.g.groups, self.g.rows_per_group());
        let weight = Mat::of(self.weight, rows);
        for group in 0..self.g.groups {
            // SAFETY: group `group`'s rows of each matrix, `n` columns, inside the buffers the
            // callers sized for this geometry.
            unsafe {
                product(
                    [og, n, rows],
                    dst.at(group * og, 0),
                    accumulate,
                    (weight.at(group * og, 0), false),
                    (columns.at(group * rows, 0), false),
                    self.parallelism,
                );
            }
        }
    }

    /// `dW[group] += dY[group] · columns[group]ᵀ` over `n` columns.
    fn weight_grad(&self, dy: Mat, columns: Mat, dw: &mut [f32], n: usize) {
        let (og, rows) = (self.g.channels_out / self.g.groups, self.g.rows_per_group());
        let dw = Mat::of_mut(dw, rows);
        for group in 0..self.g.groups {
            // SAFETY: as in `output`; `dw` is `[O, rows]`.
            unsafe {
                product(
                    [og, rows, n],
                    dw.at(group * og, 0),
                    true,
                    (dy.at(group * og, 0), false),
                    (columns.at(group * rows, 0), true),
                    self.parallelism,
                );
            }
        }
    }

    /// `dcolumns[group] = W[group]ᵀ · dY[group]` over `n` columns.
    fn column_grad(&self, dy: Mat, dcolumns: Mat, n: usize) {
        let (og, rows) = (self.g.channels_out / self.g.groups, self.g.rows_per_group());
        let weight = Mat::of(self.weight, rows);
        for group in 0..self.g.groups {
            // SAFETY: as in `output`.
            unsafe {
                product(
                    [rows, n, og],
                    dcolumns.at(group * rows, 0),
                    false,
                    (weight.at(group * og, 0), true),
                    (dy.at(group * og, 0), false),
                    self.parallelism,
                );
            }
        }
    }

    /// One sample's gradients, band by band of output rows.
    #[inline(always)]
    fn backward_sample(&self, x: Option<&[f32]>, dy: &[f32], dx: Option<&mut [f32]>, sums: &mut Sums) {
        let (g, p) = (self.g, self.g.positions());
        let Scratch { columns: buffer, column_grads, .. } = &mut sums.scratch;
        let mut dx = dx;
        for rows in g.bands() {
            let (start, n) = (rows.start * g.out[1], rows.len() * g.out[1]);
            for (sum, row) in sums.bias.iter_mut().zip(dy.chunks(p)) {
                *sum += row[start..start + n].iter().sum::<f32>();
            }
            let dy_band = Mat::of(dy, p).at(0, start);
            if let Some(x) = x {
                let columns = match g.columns_are_input() {
                    true => Mat::of(x, p).at(0, start),
                    false => Mat::of(self.columns(x, rows.clone(), buffer), n),
                };
                self.weight_grad(dy_band, columns, &mut sums.weight, n);
            }
            match (&mut dx, g.columns_are_input()) {
                (Some(dx), true) => self.column_grad(dy_band, Mat::of_mut(dx, p).at(0, start), n),
                (Some(dx), false) => {
                    column_grads.resize(g.groups * g.rows_per_group() * n, 0.0);
                    self.column_grad(dy_band, Mat::of_mut(column_grads, n), n);
                    col2im(g, column_grads, n, 0, rows, dx);
                }
                (None, _) => {}
            }
        }
    }

    /// Several samples' gradients in one set of products.
    #[inline(always)]
    fn backward_samples(&self, x: Option<&[f32]>, dy: &[f32], dx: Option<&mut [f32]>, sums: &mut Sums) {
        let g = self.g;
        let width = dy.len() / g.output_len() * g.positions();
        let Scratch { columns: buffer, gathered, column_grads } = &mut sums.scratch;
        gathered.resize(g.channels_out * width, 0.0);
        gather(g, dy, gathered);
        for (sum, row) in sums.bias.iter_mut().zip(gathered.chunks(width)) {
            *sum += row.iter().sum::<f32>();
        }
        let dy = Mat::of(gathered, width);
        if let Some(x) = x {
            let columns = Mat::of(samples_columns(g, x, buffer), width);
            self.weight_grad(dy, columns, &mut sums.weight, width);
        }
        if let Some(dx) = dx {
            column_grads.resize(g.groups * g.rows_per_group() * width, 0.0);
            self.column_grad(dy, Mat::of_mut(column_grads, width), width);
            for (sample, dx) in dx.chunks_mut(g.input_len()).enumerate() {
                col2im(g, column_grads, width, sample * g.positions(), 0..g.out[0], dx);
            }
        }
    }
}

/// The gradients of [`forward`]'s inputs.
#[derive(Debug)]
pub struct Grads {
    /// `[B, C, H, W]`, when asked for.
    pub x: Option<Vec<f32>>,
    /// `[O, C/g, kh, kw]`.
    pub weight: Vec<f32>,
    /// `[O]`.
    pub bias: Vec<f32>,
}

/// Per worker: its share of the weight and bias gradients, and its buffers.
struct Sums {
    weight: Vec<f32>,
    bias: Vec<f32>,
    scratch: Scratch,
}

impl Sums {
    fn new(g: &Geometry) -> Self {
        let weight = vec![0.0; g.channels_out * g.rows_per_group()];
        Sums { weight, bias: vec![0.0; g.channels_out], scratch: Scratch::default() }
    }

    fn add(mut self, other: Sums) -> Sums {
        self.weight.iter_mut().zip(&other.weight).for_each(|(a, b)| *a += b);
        self.bias.iter_mut().zip(&other.bias).for_each(|(a, b)| *a += b);
        self
    }
}

/// Gradients of `conv2d(x, weight, bias)` given the output gradient `dy` (`[B, O, OH, OW]`);
/// the input gradient only when `want_x`. With `relu_output` (the output of a fused
/// `conv2d |> relu`) `dy` is first masked where that output is zero, chunk by chunk.
pub fn backward(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    want_x: bool,
    relu_output: Option<&[f32]>,
) -> Grads {
    with_input_grad(g, want_x, |dx| backward_into(g, x, weight, dy, dx, relu_output))
}

/// [`backward`] with the input gradient written into `dx` (`[B, C, H, W]`, in full) when given;
/// the result's `x` is `None`.
pub fn backward_into(
    g: &Geometry,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    dx: Option<&mut [MaybeUninit<f32>]>,
    relu_output: Option<&[f32]>,
) -> Grads {
    gradients(g, Some(x), weight, (dy, relu_output), dx)
}

/// The input gradient alone: `conv_transpose2d(dy, weight)` for the convolution `g` whose
/// adjoint it is (`dy` is `[B, O, OH, OW]`, the result `[B, C, H, W]`).
pub fn transposed(g: &Geometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    with_input_grad(g, true, |dx| gradients(g, None, weight, (dy, None), dx)).x.unwrap_or_default()
}

/// `backward_into`'s gradients, with the input gradient in a new `Vec` when `want_x`.
pub(super) fn with_input_grad(
    g: &Geometry,
    want_x: bool,
    backward_into: impl FnOnce(Option<&mut [MaybeUninit<f32>]>) -> Grads,
) -> Grads {
    if !want_x {
        return backward_into(None);
    }
    // SAFETY: `chunk_gradients` zeroes every chunk of the input gradient, then adds into it.
    let (dx, grads) = unsafe { fused::filled(g.batch * g.input_len(), |dx| backward_into(Some(dx))) };
    Grads { x: Some(dx), ..grads }
}

/// [`backward_into`], without the weight gradient when `x` is `None` (it is then all zeros).
fn gradients(
    g: &Geometry,
    x: Option<&[f32]>,
    weight: &[f32],
    (dy, relu_output): (&[f32], Option<&[f32]>),
    dx: Option<&mut [MaybeUninit<f32>]>,
) -> Grads {
    let chunks = Chunks::for_geometry(g, rayon::current_num_threads());
    let step = |sums: &mut Sums, chunk: Chunk| {
        let x = x.map(|x| &x[chunk.first * g.input_len()..(chunk.first + chunk.samples) * g.input_len()]);
        let job = Job { g, weight, parallelism: chunks.gemm_parallelism(), relu: false };
        simd::dispatch(
            #[inline(always)]
            || match chunk.samples {
                1 => job.backward_sample(x, chunk.dy, chunk.dx, sums),
                _ => job.backward_samples(x, chunk.dy, chunk.dx, sums),
            },
        )
    };
    let sums = chunk_gradients(g, chunks, (dy, relu_output), dx, (|| Sums::new(g), step, Sums::add));
    Grads { x: None, weight: sums.weight, bias: sums.bias }
}

/// One chunk of a backward step: samples `first..first + samples`, their output gradient and
/// their input gradient (zeroed), when asked for.
pub(super) struct Chunk<'a> {
    pub first: usize,
    pub samples: usize,
    pub dy: &'a [f32],
    pub dx: Option<&'a mut [f32]>,
}

/// Runs `step` on every chunk of the batch (in parallel when `chunks.parallel`), and folds the
/// workers' sums with `merge`; writes the input gradient into `dx` when given (`[B, C, H, W]`,
/// in full). Each chunk of `dx` is zeroed by its worker (see [`zeroed_chunks_into`]), and its
/// output gradient masked there by `relu_output`, the output of a fused `relu`.
pub(super) fn chunk_gradients<S: Send>(
    g: &Geometry,
    chunks: Chunks,
    (dy, relu_output): (&[f32], Option<&[f32]>),
    dx: Option<&mut [MaybeUninit<f32>]>,
    (init, step, merge): (
        impl Fn() -> S + Sync + Send,
        impl Fn(&mut S, Chunk) + Sync + Send,
        impl Fn(S, S) -> S + Sync + Send,
    ),
) -> S {
    let chunk_count = g.batch.div_ceil(chunks.samples);
    let items: Vec<(usize, Option<&mut [MaybeUninit<f32>]>)> = match dx {
        Some(dx) => {
            assert_eq!(dx.len(), g.batch * g.input_len(), "input gradient of {g:?}");
            dx.chunks_mut(chunks.samples * g.input_len()).map(Some).enumerate().collect()
        }
        None => (0..chunk_count).map(|index| (index, None)).collect(),
    };
    // Each worker's sums, and its buffer for the masked output gradient.
    let init = || (init(), Vec::new());
    let step = |(mut sums, mut masked): (S, Vec<f32>), (index, dx): (usize, Option<&mut [MaybeUninit<f32>]>)| {
        let first = index * chunks.samples;
        let samples = chunks.samples.min(g.batch - first);
        let outputs = first * g.output_len()..(first + samples) * g.output_len();
        let dy = match relu_output {
            Some(y) => simd::dispatch(
                #[inline(always)]
                || mask_by_output(&dy[outputs.clone()], &y[outputs], &mut masked),
            ),
            None => &dy[outputs],
        };
        step(&mut sums, Chunk { first, samples, dy, dx: dx.map(zeroed) });
        (sums, masked)
    };
    let (sums, _) = match chunks.parallel {
        true => items.into_par_iter().fold(init, step).reduce(init, |a, b| (merge(a.0, b.0), a.1)),
        false => items.into_iter().fold(init(), step),
    };
    sums
}

/// The column matrix of several samples side by side, `[C·kh·kw, samples · OH·OW]`, in `buffer`.
#[inline(always)]
fn samples_columns<'a>(g: &Geometry, x: &[f32], buffer: &'a mut Vec<f32>) -> &'a [f32] {
    let width = x.len() / g.input_len() * g.positions();
    buffer.resize(g.groups * g.rows_per_group() * width, 0.0);
    for (sample, x) in x.chunks(g.input_len()).enumerate() {
        im2col(g, x, 0..g.out[0], buffer, width, sample * g.positions());
    }
    buffer
}

/// Where kernel column `j` reads: the output columns `lo..hi` whose input column
/// `ox·stride + shift` lies inside the image (none when `lo == hi`: padding wider than the
/// image).
struct Tap {
    /// Input column of output column 0 (may be negative: padding).
    shift: isize,
    lo: usize,
    hi: usize,
}

impl Tap {
    fn new(g: &Geometry, j: usize) -> Tap {
        let (stride, width) = (g.stride[1] as isize, g.input[1] as isize);
        let shift = (j * g.dilation[1]) as isize - g.padding[1].0 as isize;
        // ox·stride + shift ≥ 0 and < width.
        let lo = if shift >= 0 { 0 } else { (-shift + stride - 1) / stride };
        let hi = if width > shift { (width - shift - 1) / stride + 1 } else { 0 };
        let hi = (hi as usize).min(g.out[1]);
        Tap { shift, lo: (lo as usize).min(hi), hi }
    }

    /// The input column under output column `ox`, for `ox` in `lo..hi`.
    fn column(&self, ox: usize, stride: usize) -> usize {
        (ox as isize * stride as isize + self.shift) as usize
    }
}

/// The input row under output row `oy` for kernel row `i`, if inside the image.
#[inline(always)]
fn input_row(g: &Geometry, oy: usize, i: usize) -> Option<usize> {
    let row = (oy * g.stride[0] + i * g.dilation[0]).checked_sub(g.padding[0].0)?;
    (row < g.input[0]).then_some(row)
}

/// Writes output rows `rows` of one sample `x` (`[C, H, W]`) into `columns` (rows of `width`),
/// from column `first`.
#[inline(always)]
fn im2col(g: &Geometry, x: &[f32], rows: Range<usize>, columns: &mut [f32], width: usize, first: usize) {
    let ([h, w], [kh, kw], ow) = (g.input, g.kernel, g.out[1]);
    for (c, plane) in x.chunks(h * w).enumerate() {
        for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
            let tap = Tap::new(g, j);
            let row = &mut columns[((c * kh + i) * kw + j) * width + first..][..rows.len() * ow];
            for (oy, out) in rows.clone().zip(row.chunks_mut(ow)) {
                let Some(y) = input_row(g, oy, i) else {
                    out.fill(0.0);
                    continue;
                };
                let src = &plane[y * w..][..w];
                out[..tap.lo].fill(0.0);
                out[tap.hi..].fill(0.0);
                if tap.lo == tap.hi {
                    continue;
                }
                if g.stride[1] == 1 {
                    let start = tap.column(tap.lo, 1);
                    out[tap.lo..tap.hi].copy_from_slice(&src[start..start + tap.hi - tap.lo]);
                } else {
                    for ox in tap.lo..tap.hi {
                        out[ox] = src[tap.column(ox, g.stride[1])];
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds the column gradients of output rows `rows` of one sample
/// (from column `first` of rows of `width`) into its input gradient `dx` (`[C, H, W]`).
#[inline(always)]
fn col2im(g: &Geometry, columns: &[f32], width: usize, first: usize, rows: Range<usize>, dx: &mut [f32]) {
    let ([h, w], [kh, kw], ow) = (g.input, g.kernel, g.out[1]);
    for (c, plane) in dx.chunks_mut(h * w).enumerate() {
        for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
            let tap = Tap::new(g, j);
            let row = &columns[((c * kh + i) * kw + j) * width + first..][..rows.len() * ow];
            for (oy, grad) in rows.clone().zip(row.chunks(ow)) {
                let Some(y) = input_row(g, oy, i) else { continue };
                let dst = &mut plane[y * w..][..w];
                if tap.lo == tap.hi {
                    continue;
                }
                if g.stride[1] == 1 {
                    let start = tap.column(tap.lo, 1);
                    let dst = &mut dst[start..start + tap.hi - tap.lo];
                    dst.iter_mut().zip(&grad[tap.lo..tap.hi]).for_each(|(d, s)| *d += s);
                } else {
                    for ox in tap.lo..tap.hi {
                        dst[tap.column(ox, g.stride[1])] += grad[ox];
                    }
                }
            }
        }
    }
}

/// `[O, samples · P]` side by side → `[samples, O, P]`.
#[inline(always)]
fn spread(g: &Geometry, gathered: &[f32], out: &mut [f32]) {
    let (p, width) = (g.positions(), gathered.len() / g.channels_out);
    for (sample, out) in out.chunks_mut(g.output_len()).enumerate() {
        for (o, row) in out.chunks_mut(p).enumerate() {
            row.copy_from_slice(&gathered[o * width + sample * p..][..p]);
        }
    }
}

/// `[samples, O, P]` → `[O, samples · P]` side by side: the inverse of [`spread`].
#[inline(always)]
fn gather(g: &Geometry, dy: &[f32], gathered: &mut [f32]) {
    let (p, width) = (g.positions(), gathered.len() / g.channels_out);
    for (sample, dy) in dy.chunks(g.output_len()).enumerate() {
        for (o, row) in dy.chunks(p).enumerate() {
            gathered[o * width + sample * p..][..p].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(batch: usize, map: usize, channels: [usize; 2]) -> Geometry {
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        Geometry::new([batch, channels[0], map, map], [channels[1], channels[0], 3, 3], &options).expect("valid")
    }

    #[test]
    fn large_maps_take_one_sample_per_chunk_and_run_chunks_in_parallel() {
        let chunks = Chunks::for_geometry(&geometry(64, 26, [32, 64]), 2);
        assert_eq!(chunks, Chunks { samples: 1, parallel: true });
    }

    #[test]
    fn small_maps_group_samples_but_leave_every_thread_a_chunk() {
        // 4×4 maps: 16 columns a sample, 16 samples make 256.
        assert_eq!(Chunks::for_geometry(&geometry(128, 4, [256, 512]), 2), Chunks { samples: 16, parallel: true });
        // Only 8 samples on 2 threads: 4 each.
        assert_eq!(Chunks::for_geometry(&geometry(8, 4, [256, 512]), 2), Chunks { samples: 4, parallel: true });
    }

    #[test]
    fn a_single_sample_runs_its_products_on_every_thread() {
        assert_eq!(Chunks::for_geometry(&geometry(1, 256, [32, 32]), 2), Chunks { samples: 1, parallel: false });
    }

    #[test]
    fn wide_maps_with_many_channels_are_split_into_bands_of_rows() {
        let g = geometry(1, 200, [64, 2]);
        assert_eq!(g.band_rows(), 2);
        assert_eq!(g.bands().collect::<Vec<_>>().len(), 100);
        assert_eq!(geometry(1, 8, [4, 2]).bands().collect::<Vec<_>>(), vec![0..8], "small maps are one band");
    }

    #[test]
    fn a_transposed_convolution_is_the_adjoint_of_the_convolution_back() {
        // The U-Net's upsampling: k 2, stride 2 doubles the map.
        let options = ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
        let g = Geometry::transposed([4, 256, 32, 32], [256, 128, 2, 2], &options).expect("valid");
        assert_eq!((g.channels_in, g.input, g.channels_out, g.out), (128, [64, 64], 256, [32, 32]));
        // k 3, stride 2, padding 1, output padding 1: also doubles.
        let options = ConvTransposeOptions::new([2, 2], [1, 1], [1, 1], [1, 1], 1);
        assert_eq!(Geometry::transposed([1, 8, 5, 5], [8, 4, 3, 3], &options).map(|g| g.input), Some([10, 10]));
    }

    #[test]
    fn shapes_that_are_no_convolution_have_no_geometry() {
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert_eq!(Geometry::new([1, 3, 2, 2], [4, 3, 3, 3], &options), None, "kernel larger than the image");
        assert_eq!(Geometry::new([1, 3, 8, 8], [4, 2, 3, 3], &options), None, "channels do not match");
    }
}
