//! `conv2d` with 3×3 kernels and stride 1 as Winograd's minimal filtering F(2×2, 3×3) (Lavin and
//! Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), forward and backward, on f32
//! slices in NCHW: the kernel behind [`super::conv`] on burn-flex for those convolutions.
//!
//! # Why
//!
//! A 3×3 convolution through [`super::im2col`] multiplies 9 taps per output and channel. Here
//! each 2×2 tile of outputs takes 16 products per channel instead of 36, 2.25× fewer, and the
//! backward step saves the same on both of its products. 3×3 convolutions are most of the work
//! of a Fashion-MNIST CNN, a ResNet and a U-Net.
//!
//! # How
//!
//! A 2×2 output tile `y` comes from the 4×4 input tile `d` under it, with `g` the 3×3 kernel:
//! `y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`. Summed over the input channels the element-wise product is
//! 16 matrix products, one per point `ξ` of the 4×4 transformed tile, over the `T` tiles of a
//! block: `M[ξ] (O×T) = U[ξ] (O×C) · V[ξ] (C×T)`, where `U = G g Gᵀ` are the transformed weights
//! and `V = Bᵀ d B` the transformed input tiles.
//!
//! The backward step runs the same linear maps the other way: with `dM = A dy Aᵀ`,
//! - weight gradient: `dU[ξ] += dM[ξ] · V[ξ]ᵀ`, then `dg = Gᵀ dU G`;
//! - input gradient: `dV[ξ] = U[ξ]ᵀ · dM[ξ]`, then `B dV Bᵀ` added under each tile
//!   (neighbouring input tiles overlap by two rows and two columns).
//!
//! Layouts: `U` and `dU` are `[16, O, C]`, `V` and `dV` `[16, C, T]`, `M` and `dM` `[16, O, T]`.
//! The transforms read the padded input split by row and column parity, so a tile's four rows
//! and four columns are rows `r`, `r + 1` and columns `k`, `k + 1` of the even and odd parts; with
//! one phantom tile per tile row (see [`Block`]) every step of every transform is then one flat,
//! vectorised loop over all of a sample's tiles. Samples run in parallel as in
//! [`super::im2col`] ([`Chunks`]); a large map is split into bands of tile rows (see
//! [`BAND_BYTES`]).
//!
//! F(2×2, 3×3)'s transforms are additions and halvings, so its rounding stays that of a direct
//! convolution (F(4×4, 3×3) saves more but loses about two digits in f32, which is why it is not
//! used here); the tests compare it with im2col to 1e-4 of the largest value.

use std::mem::MaybeUninit;
use std::ops::Range;

use gemm::Parallelism;

use super::fused::{self, zeroed_chunks_into};
use super::im2col::{Chunk, Chunks, Geometry, Grads, Mat, chunk_gradients, product, with_input_grad};
use super::simd;

/// Points of a transformed tile (4×4).
const POINTS: usize = 16;

/// Fewest input and output channels: below, the products are too thin for the transforms to
/// pay (a first layer on a grey image has one input channel, and im2col's single product with 9
/// rows beats 16 products with one). 16 is a choice, not a tuned value: every Winograd-shaped
/// layer of the benchmark models has 32 or more, and each of those measured faster here.
const MIN_CHANNELS: usize = 16;

/// Largest `V` plus `M` of a block, in bytes (see [`Job::blocks`]). Smaller blocks keep them in
/// the L2 cache but make the products thin: at 256 KiB the Fashion-MNIST CNN's layer ran in
/// blocks of 39 tiles and no faster than im2col; 2 MiB measured best on every benchmark shape
/// (`cargo bench --bench ops -- kernels`, 1, 2 and 4 MiB).
const BAND_BYTES: usize = 1 << 21;

/// Fewest output columns: a map one or two wide is one tile wide, and its phantom tile (see
/// [`Block`]) would double the products (ResNet-18's 2×2 stage at 32×32 took 1.1–1.2× im2col's
/// time, `cargo bench --bench ops -- kernels`).
const MIN_WIDTH: usize = 3;

/// Whether [`forward`] and [`backward`] compute this convolution: 3×3, stride 1, no dilation,
/// one group, any padding, enough channels (see [`MIN_CHANNELS`]) and a wide enough output
/// (see [`MIN_WIDTH`]).
pub fn applies(g: &Geometry) -> bool {
    computes(g) && g.channels_in >= MIN_CHANNELS && g.channels_out >= MIN_CHANNELS && g.out[1] >= MIN_WIDTH
}

/// Whether F(2×2, 3×3) computes this convolution at all (any channels and width; [`applies`]
/// adds where it pays): 3×3, stride 1, no dilation, one group.
fn computes(g: &Geometry) -> bool {
    g.kernel == [3, 3] && g.stride == [1, 1] && g.dilation == [1, 1] && g.groups == 1
}

/// Whether trainc runs this convolution here: it [`applies`], and `TRAINC_WINOGRAD=0` is not
/// set (which leaves every convolution to im2col, to compare).
pub fn chosen(g: &Geometry) -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    applies(g) && !*OFF.get_or_init(|| std::env::var("TRAINC_WINOGRAD").is_ok_and(|v| v == "0"))
}

/// `conv2d(x, weight, bias)`, then `relu` when asked: `x` is `[B, C, H, W]`, `weight`
/// `[O, C, 3, 3]`, `bias` `[O]`; returns `[B, O, OH, OW]`. Panics unless `g` is 3×3 with
/// stride 1, no dilation and one group ([`applies`] says where it is worth calling).
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
    assert!(computes(g), "Winograd F(2×2, 3×3) cannot compute {g:?}");
    assert_eq!(out.len(), g.batch * g.output_len(), "conv2d output of {g:?}");
    let u = transform_weights(g, weight);
    let job = Job::new(g, &u);
    let run = |scratch: &mut Scratch, (index, out): (usize, &mut [f32])| {
        let first = index * job.chunks.samples;
        let samples = out.len() / g.output_len();
        let x = &x[first * g.input_len()..(first + samples) * g.input_len()];
        simd::dispatch(
            #[inline(always)]
            || {
                for block in job.blocks(samples) {
                    job.forward_block(x, &block, out, (bias, relu), scratch);
                }
            },
        )
    };
    zeroed_chunks_into(out, job.chunks.samples * g.output_len(), job.chunks.parallel, run)
}

/// Gradients of `conv2d(x, weight, bias)` given the output gradient `dy` (`[B, O, OH, OW]`);
/// the input gradient only when `want_x`. With `relu_output` (the output of a fused
/// `conv2d |> relu`) `dy` is first masked where that output is zero. Panics as [`forward`].
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
    assert!(computes(g), "Winograd F(2×2, 3×3) cannot compute {g:?}");
    let u = transform_weights(g, weight);
    let job = Job::new(g, &u);
    let step = |sums: &mut Sums, chunk: Chunk| {
        let x = &x[chunk.first * g.input_len()..(chunk.first + chunk.samples) * g.input_len()];
        let mut dx = chunk.dx;
        simd::dispatch(
            #[inline(always)]
            || {
                for block in job.blocks(chunk.samples) {
                    job.backward_block(x, chunk.dy, dx.as_deref_mut(), &block, sums);
                }
            },
        );
        let positions = g.positions();
        for (plane, dy) in chunk.dy.chunks(positions).enumerate() {
            sums.bias[plane % g.channels_out] += dy.iter().sum::<f32>();
        }
    };
    let init = || Sums::new(g);
    let sums = chunk_gradients(g, job.chunks, (dy, relu_output), dx, (init, step, Sums::add));
    Grads { x: None, weight: weight_grad(g, &sums.u), bias: sums.bias }
}

/// Tile rows and columns of one sample's output (the last row or column of tiles may reach one
/// past an odd map: those outputs are not written, and their gradients are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tiles {
    rows: usize,
    cols: usize,
}

impl Tiles {
    /// Tiles per tile row in the products: one more than `cols`, see [`Block`].
    fn stride(&self) -> usize {
        self.cols + 1
    }
}

/// Tile rows `rows` of the samples `samples` of a chunk (indices within the chunk): the `T`
/// columns of one set of 16 products, numbered sample by sample, tile row by tile row.
///
/// Each tile row has one phantom tile after its last: with `cols + 1` tiles a row, every
/// transform is one flat loop over a sample's tiles (a tile reads its right neighbour's columns,
/// and the phantom reads the next row's first), where rows of `cols` tiles would make it
/// `rows` loops of a few values each (12 on a 26×26 map, where that overhead made the
/// transforms cost more than the products). Phantom tiles cost `1 / cols` more product
/// columns; their outputs are dropped and their gradients are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    samples: Range<usize>,
    rows: Range<usize>,
}

impl Block {
    /// `T`, the block's columns.
    fn len(&self, tiles: Tiles) -> usize {
        self.samples.len() * self.sample_len(tiles)
    }

    /// The columns of one sample of the block.
    fn sample_len(&self, tiles: Tiles) -> usize {
        self.rows.len() * tiles.stride()
    }

    /// `(T, tiles a row, one sample's columns)`: the sizes every transform works with.
    fn sizes(&self, tiles: Tiles) -> (usize, usize, usize) {
        (self.len(tiles), tiles.stride(), self.sample_len(tiles))
    }

    /// Every `(sample, the column of its first tile, channel)` of the block, for `channels`
    /// channels: what each transform loops over (samples are indices within the chunk).
    fn planes(&self, tiles: Tiles, channels: usize) -> impl Iterator<Item = (usize, usize, usize)> + use<> {
        let (first, len) = (self.samples.start, self.sample_len(tiles));
        self.samples.clone().flat_map(move |s| (0..channels).map(move |c| (s, (s - first) * len, c)))
    }
}

/// What every chunk of one convolution shares.
struct Job<'a> {
    g: &'a Geometry,
    tiles: Tiles,
    /// The transformed weights `U`, `[16, O, C]`.
    u: &'a [f32],
    chunks: Chunks,
    parallelism: Parallelism,
}

/// Buffers one worker reuses from block to block: `V` (or `dV`), `M` (or `dM`) and the
/// transforms' rows.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    lines: Lines,
}

/// The transforms' working rows: the padded input (or its gradient) split by row and column
/// parity, and the row combinations.
#[derive(Default)]
struct Lines {
    split: Vec<f32>,
    temps: Vec<f32>,
}

/// Per worker: its share of `dU` and of the bias gradient, and its buffers.
struct Sums {
    u: Vec<f32>,
    bias: Vec<f32>,
    scratch: Scratch,
}

impl Sums {
    fn new(g: &Geometry) -> Self {
        let u = vec![0.0; POINTS * g.channels_out * g.channels_in];
        Sums { u, bias: vec![0.0; g.channels_out], scratch: Scratch::default() }
    }

    fn add(mut self, other: Sums) -> Sums {
        self.u.iter_mut().zip(&other.u).for_each(|(a, b)| *a += b);
        self.bias.iter_mut().zip(&other.bias).for_each(|(a, b)| *a += b);
        self
    }
}

impl<'a> Job<'a> {
    fn new(g: &'a Geometry, u: &'a [f32]) -> Self {
        let tiles = Tiles { rows: g.out[0].div_ceil(2), cols: g.out[1].div_ceil(2) };
        let chunks = Chunks::for_columns(g.batch, tiles.rows * tiles.cols, rayon::current_num_threads());
        Job { g, tiles, u, chunks, parallelism: chunks.gemm_parallelism() }
    }

    /// The blocks of a chunk of `samples` samples, each with at most [`BAND_BYTES`] of `V` and
    /// `M` (at least one tile row): as many whole samples as fit when a sample's tiles do, else
    /// bands of tile rows of one sample at a time.
    fn blocks(&self, samples: usize) -> Vec<Block> {
        let rows = self.tiles.rows;
        let row_bytes = 4 * POINTS * (self.g.channels_in + self.g.channels_out) * self.tiles.stride();
        let band = BAND_BYTES.max(row_bytes) / row_bytes;
        if band >= rows {
            let per_block = (band / rows).max(1);
            let starts = (0..samples).step_by(per_block);
            return starts.map(|s| Block { samples: s..(s + per_block).min(samples), rows: 0..rows }).collect();
        }
        let bands =
            |s: usize| (0..rows).step_by(band).map(move |r| Block { samples: s..s + 1, rows: r..(r + band).min(rows) });
        (0..samples).flat_map(bands).collect()
    }

    /// The 16 products `dst[ξ] (+)= lhs[ξ] · rhs[ξ]`, each `m × n` over `k`, when `accumulate`
    /// adding to `dst`. Each buffer holds its 16 matrices back to back, row-major; a transposed
    /// operand is stored as its transpose (`k × m` for `lhs`, `n × k` for `rhs`).
    fn products(
        &self,
        [m, n, k]: [usize; 3],
        (dst, accumulate): (&mut [f32], bool),
        (lhs, lhs_t): (&[f32], bool),
        (rhs, rhs_t): (&[f32], bool),
    ) {
        let (dst_len, lhs_len, rhs_len) = (m * n, m * k, k * n);
        assert!(dst.len() >= POINTS * dst_len && lhs.len() >= POINTS * lhs_len && rhs.len() >= POINTS * rhs_len);
        for p in 0..POINTS {
            let lhs = Mat::of(&lhs[p * lhs_len..][..lhs_len], if lhs_t { m } else { k });
            let rhs = Mat::of(&rhs[p * rhs_len..][..rhs_len], if rhs_t { k } else { n });
            let dst = Mat::of_mut(&mut dst[p * dst_len..][..dst_len], n);
            // SAFETY: each matrix is the `p`-th of its buffer, a slice of exactly its size
            // (checked above), and `dst` is a separate buffer.
            unsafe { product([m, n, k], dst, accumulate, (lhs, lhs_t), (rhs, rhs_t), self.parallelism) };
        }
    }

    /// The outputs of one block: transform the input, 16 products, transform back.
    #[inline(always)]
    fn forward_block(
        &self,
        x: &[f32],
        block: &Block,
        out: &mut [f32],
        (bias, relu): (Option<&[f32]>, bool),
        scratch: &mut Scratch,
    ) {
        let (c, o, t) = (self.g.channels_in, self.g.channels_out, block.len(self.tiles));
        scratch.v.resize(POINTS * c * t, 0.0);
        scratch.m.resize(POINTS * o * t, 0.0);
        transform_input(self.g, self.tiles, x, block, &mut scratch.v, &mut scratch.lines);
        self.products([o, t, c], (&mut scratch.m, false), (self.u, false), (&scratch.v, false));
        transform_output(self.g, self.tiles, &scratch.m, block, out, (bias, relu), &mut scratch.lines);
    }

    /// One block's share of `dU` and, when `dx` is given, of the input gradient.
    #[inline(always)]
    fn backward_block(&self, x: &[f32], dy: &[f32], dx: Option<&mut [f32]>, block: &Block, sums: &mut Sums) {
        let (c, o, t) = (self.g.channels_in, self.g.channels_out, block.len(self.tiles));
        let Scratch { v, m, lines } = &mut sums.scratch;
        v.resize(POINTS * c * t, 0.0);
        m.resize(POINTS * o * t, 0.0);
        transform_output_grad(self.g, self.tiles, dy, block, m, lines);
        transform_input(self.g, self.tiles, x, block, v, lines);
        // dU[ξ] += dM[ξ] · V[ξ]ᵀ.
        self.products([o, c, t], (&mut sums.u, true), (m, false), (v, true));
        let Some(dx) = dx else { return };
        // dV[ξ] = U[ξ]ᵀ · dM[ξ], overwriting `V`, which is no longer needed.
        self.products([c, t, o], (v, false), (self.u, true), (m, false));
        add_input_grad(self.g, self.tiles, v, block, dx, lines);
    }
}

// The transforms of F(2×2, 3×3), written out in the loops below:
// `Bᵀ d = [d0 - d2, d1 + d2, d2 - d1, d1 - d3]`, `B e = [e0, e1 - e2 + e3, e1 + e2 - e0, -e3]`,
// `Aᵀ m = [m0 + m1 + m2, m1 - m2 - m3]`, `A u = [u0, u0 + u1, u0 - u1, -u1]`, each applied to a
// tile's rows, then to its columns.

/// `G v` for a column (or row) `v` of a 3×3 kernel.
fn gv([g0, g1, g2]: [f32; 3]) -> [f32; 4] {
    [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2]
}

/// `Gᵀ v`, the adjoint of [`gv`].
fn gt([u0, u1, u2, u3]: [f32; 4]) -> [f32; 3] {
    [u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3]
}

/// `U = G g Gᵀ` for every kernel `g` of `weight` (`[O, C, 3, 3]`): `[16, O, C]`.
fn transform_weights(g: &Geometry, weight: &[f32]) -> Vec<f32> {
    let pairs = g.channels_out * g.channels_in;
    let mut u = vec![0.0; POINTS * pairs];
    for (pair, k) in weight.chunks_exact(9).enumerate() {
        // G over the kernel's columns (one per kernel column j), then over the rows.
        let cols: [[f32; 4]; 3] = std::array::from_fn(|j| gv([k[j], k[3 + j], k[6 + j]]));
        for i in 0..4 {
            let row = gv([cols[0][i], cols[1][i], cols[2][i]]);
            for (j, value) in row.into_iter().enumerate() {
                u[(i * 4 + j) * pairs + pair] = value;
            }
        }
    }
    u
}

/// `dg = Gᵀ dU G` for every kernel: the weight gradient `[O, C, 3, 3]` from `dU` (`[16, O, C]`).
fn weight_grad(g: &Geometry, du: &[f32]) -> Vec<f32> {
    let pairs = g.channels_out * g.channels_in;
    let mut dw = vec![0.0; 9 * pairs];
    for (pair, k) in dw.chunks_exact_mut(9).enumerate() {
        let point = |i: usize, j: usize| du[(i * 4 + j) * pairs + pair];
        // Gᵀ over each row of dU (one per point row i), then over the columns.
        let rows: [[f32; 3]; 4] = std::array::from_fn(|i| gt(std::array::from_fn(|j| point(i, j))));
        for j in 0..3 {
            let col = gt([rows[0][j], rows[1][j], rows[2][j], rows[3][j]]);
            for (i, value) in col.into_iter().enumerate() {
                k[i * 3 + j] = value;
            }
        }
    }
    dw
}

/// Where padded columns `left` and `left + 1` lie in a row split by column parity (see
/// [`deinterleave`]): whether `left` is odd, its index in its half, and the next one's index in
/// the other half.
#[inline(always)]
fn split_at_column(left: usize) -> (bool, usize, usize) {
    match left % 2 {
        0 => (false, left / 2, left / 2),
        _ => (true, left / 2, left / 2 + 1),
    }
}

/// `src`, placed from padded column `left` on, split by column parity: padded column `2k` into
/// `even[k]` and `2k + 1` into `odd[k]`; every other value of both is set to zero.
#[inline(always)]
fn deinterleave(src: &[f32], left: usize, even: &mut [f32], odd: &mut [f32]) {
    let (odd_first, i, j) = split_at_column(left);
    let (first, second) = if odd_first { (odd, even) } else { (even, odd) };
    let (first_len, second_len) = (src.len().div_ceil(2), src.len() / 2);
    first[..i].fill(0.0);
    first[i + first_len..].fill(0.0);
    second[..j].fill(0.0);
    second[j + second_len..].fill(0.0);
    let pairs = src.chunks_exact(2);
    if let [last] = pairs.remainder() {
        first[i + first_len - 1] = *last;
    }
    for ((pair, a), b) in pairs.zip(&mut first[i..]).zip(&mut second[j..]) {
        (*a, *b) = (pair[0], pair[1]);
    }
}

/// `dst[x] +=` padded column `x + left` of a row split as [`deinterleave`] writes it.
#[inline(always)]
fn add_interleaved(even: &[f32], odd: &[f32], left: usize, dst: &mut [f32]) {
    let (first, second) = match split_at_column(left) {
        (false, i, j) => (&even[i..], &odd[j..]),
        (true, i, j) => (&odd[i..], &even[j..]),
    };
    let middle = dst.len() / 2;
    let mut pairs = dst.chunks_exact_mut(2);
    for ((pair, a), b) in (&mut pairs).zip(first).zip(second) {
        pair[0] += a;
        pair[1] += b;
    }
    if let [last] = pairs.into_remainder() {
        *last += first[middle];
    }
}

/// `dst[2k] = first[k]`, `dst[2k + 1] = second[k]`: a row of outputs from its tiles' two columns.
#[inline(always)]
fn interleave(first: &[f32], second: &[f32], dst: &mut [f32]) {
    let middle = dst.len() / 2;
    let mut pairs = dst.chunks_exact_mut(2);
    for ((pair, &a), &b) in (&mut pairs).zip(first).zip(second) {
        pair.copy_from_slice(&[a, b]);
    }
    if let [last] = pairs.into_remainder() {
        *last = first[middle];
    }
}

/// `dst[k] = f(a[k], b[k])` along `dst`.
#[inline(always)]
fn combine(dst: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    let n = dst.len();
    let (a, b) = (&a[..n], &b[..n]);
    for k in 0..n {
        dst[k] = f(a[k], b[k]);
    }
}

/// `dst[k] = f(a[k], b[k], c[k], d[k])` along `dst`.
#[inline(always)]
fn combine4(dst: &mut [f32], [a, b, c, d]: [&[f32]; 4], f: impl Fn(f32, f32, f32, f32) -> f32) {
    let n = dst.len();
    let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
    for k in 0..n {
        dst[k] = f(a[k], b[k], c[k], d[k]);
    }
}

/// `len` values of `buffer` from `part · len`.
#[inline(always)]
fn part(buffer: &[f32], part: usize, len: usize) -> &[f32] {
    &buffer[part * len..][..len]
}

/// `len` values of `buffer` from `part · len`, mutable.
#[inline(always)]
fn part_mut(buffer: &mut [f32], part: usize, len: usize) -> &mut [f32] {
    &mut buffer[part * len..][..len]
}

/// The padded input rows that tile rows `rows` read (`2·rows.start` to `2·rows.end + 1`), split by
/// row and column parity into part `2·py + px` of `q` (parts of `(rows + 1)·s` values): padded
/// row `2·(rows.start + r) + py`, column `2k + px` at `r·s + k`; zero outside the image.
#[inline(always)]
fn split_plane(g: &Geometry, plane: &[f32], rows: &Range<usize>, s: usize, q: &mut [f32]) {
    let ([h, w], top, left) = (g.input, g.padding[0].0, g.padding[1].0);
    let part_len = (rows.len() + 1) * s;
    for row in 0..2 * (rows.len() + 1) {
        let (py, r) = (row % 2, row / 2);
        let (even, odd) = q[2 * py * part_len..][..2 * part_len].split_at_mut(part_len);
        let (even, odd) = (&mut even[r * s..][..s], &mut odd[r * s..][..s]);
        match (2 * rows.start + row).checked_sub(top).filter(|&y| y < h) {
            Some(y) => deinterleave(&plane[y * w..][..w], left, even, odd),
            None => [even, odd].into_iter().for_each(|half| half.fill(0.0)),
        }
    }
}

/// `V = Bᵀ d B` for every tile of `block` and input channel, from the chunk's input `x`: `v` is
/// `[16, C, T]`.
///
/// Per sample and channel, on rows split by parity ([`split_plane`]) every step is a flat loop
/// over all of the block's tiles: tile `(r, k)` reads padded rows `2r..2r + 4`, which are rows
/// `r` and `r + 1` of the even and odd parts, and in each its even and odd columns `k`, `k + 1`.
#[inline(always)]
fn transform_input(g: &Geometry, tiles: Tiles, x: &[f32], block: &Block, v: &mut [f32], lines: &mut Lines) {
    let (channels, (t, s, len)) = (g.channels_in, block.sizes(tiles));
    let plane_len = g.input[0] * g.input[1];
    // One value past the tiles: the phantom tile of the last row reads it.
    let (q_len, c_len) = (len + s, len + 1);
    let Lines { split: q, temps: c } = lines;
    q.resize(4 * q_len, 0.0);
    c.resize(8 * c_len, 0.0);
    (0..8).for_each(|part| c[part * c_len + len] = 0.0);
    for (sample, base, ch) in block.planes(tiles, channels) {
        split_plane(g, &x[(sample * channels + ch) * plane_len..][..plane_len], &block.rows, s, q);
        // Bᵀ over each tile's four rows, into part `2i + px` of `c`.
        for px in 0..2 {
            let (e, o) = (part(q, px, q_len), part(q, 2 + px, q_len));
            combine(&mut part_mut(c, px, c_len)[..len], e, &e[s..], |d0, d2| d0 - d2);
            combine(&mut part_mut(c, 2 + px, c_len)[..len], o, &e[s..], |d1, d2| d1 + d2);
            combine(&mut part_mut(c, 4 + px, c_len)[..len], o, &e[s..], |d1, d2| d2 - d1);
            combine(&mut part_mut(c, 6 + px, c_len)[..len], o, &o[s..], |d1, d3| d1 - d3);
        }
        // B over each tile's four columns.
        for i in 0..4 {
            let (e, o) = (part(c, 2 * i, c_len), part(c, 2 * i + 1, c_len));
            let point = |j: usize| ((i * 4 + j) * channels + ch) * t + base;
            combine(&mut v[point(0)..][..len], e, &e[1..], |d0, d2| d0 - d2);
            combine(&mut v[point(1)..][..len], o, &e[1..], |d1, d2| d1 + d2);
            combine(&mut v[point(2)..][..len], o, &e[1..], |d1, d2| d2 - d1);
            combine(&mut v[point(3)..][..len], o, &o[1..], |d1, d3| d1 - d3);
        }
    }
}

/// `y = Aᵀ M A` for every tile of `block` and output channel, plus the bias, rectified when
/// `relu`, into the chunk's output `out` (`[samples, O, OH, OW]`); `m` is `[16, O, T]`.
#[inline(always)]
fn transform_output(
    g: &Geometry,
    tiles: Tiles,
    m: &[f32],
    block: &Block,
    out: &mut [f32],
    (bias, relu): (Option<&[f32]>, bool),
    lines: &mut Lines,
) {
    let (channels, (t, s, len)) = (g.channels_out, block.sizes(tiles));
    let [oh, ow] = g.out;
    let Lines { split: y, temps: c } = lines;
    c.resize(8 * len, 0.0);
    y.resize(4 * len, 0.0);
    for (sample, base, o) in block.planes(tiles, channels) {
        // Aᵀ over each tile's columns: part 2i is point row i's first column, 2i + 1 its second.
        for i in 0..4 {
            let point = |j: usize| &m[((i * 4 + j) * channels + o) * t + base..][..len];
            let points = [point(0), point(1), point(2), point(3)];
            combine4(part_mut(c, 2 * i, len), points, |m0, m1, m2, _| m0 + m1 + m2);
            combine4(part_mut(c, 2 * i + 1, len), points, |_, m1, m2, m3| m1 - m2 - m3);
        }
        // Aᵀ over each tile's rows, plus the bias: part 2r + column of `y`.
        let b = bias.map_or(0.0, |bias| bias[o]);
        let finish = |v: f32| if relu { fused::relu(v + b) } else { v + b };
        for column in 0..2 {
            let rows = [0, 1, 2, 3].map(|i| part(c, 2 * i + column, len));
            combine4(part_mut(y, column, len), rows, |t0, t1, t2, _| finish(t0 + t1 + t2));
            combine4(part_mut(y, 2 + column, len), rows, |_, t1, t2, t3| finish(t1 - t2 - t3));
        }
        let plane = &mut out[(sample * channels + o) * oh * ow..][..oh * ow];
        for (r, ty) in block.rows.clone().enumerate() {
            for dy in 0..2.min(oh - 2 * ty) {
                let (first, second) = (part(y, 2 * dy, len), part(y, 2 * dy + 1, len));
                interleave(&first[r * s..], &second[r * s..], &mut plane[(2 * ty + dy) * ow..][..ow]);
            }
        }
    }
}

/// `dM = A dy Aᵀ` for every tile of `block` and output channel, from the chunk's output
/// gradient `dy`: `m` is `[16, O, T]`. Phantom tiles get zeros, so they add nothing to `dU`
/// and `dV`.
#[inline(always)]
fn transform_output_grad(g: &Geometry, tiles: Tiles, dy: &[f32], block: &Block, m: &mut [f32], lines: &mut Lines) {
    let (channels, (t, s, len)) = (g.channels_out, block.sizes(tiles));
    let [oh, ow] = g.out;
    let Lines { split: u, temps: c } = lines;
    u.resize(4 * len, 0.0);
    c.resize(8 * len, 0.0);
    for (sample, base, o) in block.planes(tiles, channels) {
        // Each tile's gradient: part 2·row + column of `u`, zero past the map.
        let plane = &dy[(sample * channels + o) * oh * ow..][..oh * ow];
        for (r, ty) in block.rows.clone().enumerate() {
            for dy in 0..2 {
                let (first, second) = u[2 * dy * len..][..2 * len].split_at_mut(len);
                let (first, second) = (&mut first[r * s..][..s], &mut second[r * s..][..s]);
                match 2 * ty + dy < oh {
                    true => deinterleave(&plane[(2 * ty + dy) * ow..][..ow], 0, first, second),
                    false => [first, second].into_iter().for_each(|half| half.fill(0.0)),
                }
            }
        }
        // A over each tile's rows: part 2i + column of `c`.
        for column in 0..2 {
            let (u0, u1) = (part(u, column, len), part(u, 2 + column, len));
            part_mut(c, column, len).copy_from_slice(u0);
            combine(part_mut(c, 2 + column, len), u0, u1, |u0, u1| u0 + u1);
            combine(part_mut(c, 4 + column, len), u0, u1, |u0, u1| u0 - u1);
            combine(part_mut(c, 6 + column, len), u0, u1, |_, u1| -u1);
        }
        // A over each tile's columns.
        for i in 0..4 {
            let (first, second) = (part(c, 2 * i, len), part(c, 2 * i + 1, len));
            let point = |j: usize| ((i * 4 + j) * channels + o) * t + base;
            m[point(0)..][..len].copy_from_slice(first);
            combine(&mut m[point(1)..][..len], first, second, |u0, u1| u0 + u1);
            combine(&mut m[point(2)..][..len], first, second, |u0, u1| u0 - u1);
            combine(&mut m[point(3)..][..len], first, second, |_, u1| -u1);
        }
    }
}

/// `B dV Bᵀ` for every tile of `block` and input channel, added into the chunk's input gradient
/// `dx` (`[samples, C, H, W]`) under each tile; `dv` is `[16, C, T]`. The steps of
/// [`transform_input`] backwards: tiles that share padded rows and columns add into them.
#[inline(always)]
fn add_input_grad(g: &Geometry, tiles: Tiles, dv: &[f32], block: &Block, dx: &mut [f32], lines: &mut Lines) {
    let (channels, (t, s, len)) = (g.channels_in, block.sizes(tiles));
    let ([h, w], top, left) = (g.input, g.padding[0].0, g.padding[1].0);
    let q_len = len + s;
    let Lines { split: q, temps: c } = lines;
    q.resize(4 * q_len, 0.0);
    c.resize(8 * len, 0.0);
    for (sample, base, ch) in block.planes(tiles, channels) {
        // B over each tile's columns: tile k adds to even k, odd k, even k + 1 and odd k + 1
        // (part 2i + parity of `c`). Tile k - 1 of a row's first k is the phantom one before.
        for i in 0..4 {
            let point = |j: usize| &dv[((i * 4 + j) * channels + ch) * t + base..][..len];
            let [e0, e1, e2, e3] = [point(0), point(1), point(2), point(3)];
            let (even, odd) = c[2 * i * len..][..2 * len].split_at_mut(len);
            even[0] = e0[0];
            combine4(&mut even[1..], [&e0[1..], e1, e2, e0], |e0, e1, e2, p0| e0 + e1 + e2 - p0);
            odd[0] = e1[0] - e2[0] + e3[0];
            combine4(&mut odd[1..], [&e1[1..], &e2[1..], &e3[1..], e3], |e1, e2, e3, p3| e1 - e2 + e3 - p3);
        }
        // B over each tile's rows: rows r and r + 1 of the even and odd parts of `q` (the
        // first `len` values are set, the last row only added to).
        (0..4).for_each(|p| part_mut(q, p, q_len)[len..].fill(0.0));
        for px in 0..2 {
            let rows = [0, 1, 2, 3].map(|i| part(c, 2 * i + px, len));
            let (even_rows, odd_rows) = q.split_at_mut(2 * q_len);
            let (even, odd) = (part_mut(even_rows, px, q_len), part_mut(odd_rows, px, q_len));
            combine4(&mut even[..len], rows, |s0, _, _, _| s0);
            combine4(&mut odd[..len], rows, |_, s1, s2, s3| s1 - s2 + s3);
            add4(&mut even[s..], rows, |s0, s1, s2, _| s1 + s2 - s0);
            add4(&mut odd[s..], rows, |_, _, _, s3| -s3);
        }
        let plane = &mut dx[(sample * channels + ch) * h * w..][..h * w];
        for row in 0..2 * (block.rows.len() + 1) {
            let Some(y) = (2 * block.rows.start + row).checked_sub(top).filter(|&y| y < h) else { continue };
            let (py, r) = (row % 2, row / 2);
            let (even, odd) = (part(q, 2 * py, q_len), part(q, 2 * py + 1, q_len));
            add_interleaved(&even[r * s..][..s], &odd[r * s..][..s], left, &mut plane[y * w..][..w]);
        }
    }
}

/// `dst[k] += f(a[k], b[k], c[k], d[k])` along the shorter of `dst` and the four.
#[inline(always)]
fn add4(dst: &mut [f32], [a, b, c, d]: [&[f32]; 4], f: impl Fn(f32, f32, f32, f32) -> f32) {
    let n = dst.len().min(a.len());
    let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
    for k in 0..n {
        dst[k] += f(a[k], b[k], c[k], d[k]);
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::ops::ConvOptions;

    use super::*;
    use crate::exec::im2col;

    /// A deterministic input of `len` values in about `[-1, 1)`.
    fn values(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn assert_close(name: &str, ours: &[f32], theirs: &[f32]) {
        assert_eq!(ours.len(), theirs.len(), "{name}: lengths");
        let scale = theirs.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert!((a - b).abs() <= 1e-4 * scale, "{name}[{i}]: winograd {a}, im2col {b} (scale {scale})");
        }
    }

    /// Winograd against im2col (itself tested against burn's conv2d in `conv.rs`): output with
    /// and without the fused relu, and every gradient.
    fn check(batch: usize, [c, o]: [usize; 2], [h, w]: [usize; 2], padding: [(usize, usize); 2]) {
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let mut g = Geometry::new([batch, c, h + 2, w + 2], [o, c, 3, 3], &options).expect("valid");
        g.input = [h, w];
        g.padding = padding;
        g.out = [h + padding[0].0 + padding[0].1 - 2, w + padding[1].0 + padding[1].1 - 2];
        assert!(applies(&g));
        let x = values(g.batch * g.input_len(), 1);
        let weight = values(o * c * 9, 2);
        let bias = values(o, 3);
        for relu in [false, true] {
            let ours = forward(&g, &x, &weight, Some(&bias), relu);
            let theirs = im2col::forward(&g, &x, &weight, Some(&bias), relu);
            assert_close("output", &ours, &theirs);
            let dy = values(ours.len(), 4);
            let relu_output = relu.then_some(theirs.as_slice());
            let ours = backward(&g, &x, &weight, &dy, true, relu_output);
            let theirs = im2col::backward(&g, &x, &weight, &dy, true, relu_output);
            assert_close("input grad", ours.x.as_deref().expect("asked for"), theirs.x.as_deref().expect("asked for"));
            assert_close("weight grad", &ours.weight, &theirs.weight);
            assert_close("bias grad", &ours.bias, &theirs.bias);
        }
    }

    #[test]
    fn same_padding_on_even_maps_matches_im2col() {
        check(3, [16, 24], [8, 8], [(1, 1); 2]);
    }

    #[test]
    fn odd_maps_and_no_padding_match_im2col() {
        // The Fashion-MNIST CNN's second layer, smaller: 26×26 → 24×24, and odd outputs.
        check(4, [16, 16], [26, 26], [(0, 0); 2]);
        check(2, [16, 17], [9, 7], [(0, 0); 2]);
    }

    #[test]
    fn asymmetric_padding_matches_im2col() {
        check(1, [16, 16], [7, 10], [(2, 0), (0, 1)]);
    }

    #[test]
    fn large_maps_split_into_bands_match_im2col() {
        // One sample of 64×64 with 64 channels takes several bands of tile rows.
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let g = Geometry::new([1, 64, 64, 64], [64, 64, 3, 3], &options).expect("valid");
        let u = vec![0.0; POINTS * 64 * 64];
        assert!(Job::new(&g, &u).blocks(1).len() > 1);
        check(1, [64, 64], [64, 64], [(1, 1); 2]);
    }

    #[test]
    fn thin_or_strided_convolutions_are_left_to_im2col() {
        let geometry = |c: usize, stride: usize| {
            let options = ConvOptions::new([stride; 2], [1, 1], [1, 1], 1);
            Geometry::new([1, c, 8, 8], [32, c, 3, 3], &options).expect("valid")
        };
        assert!(applies(&geometry(32, 1)));
        assert!(!applies(&geometry(1, 1)), "one input channel");
        assert!(!applies(&geometry(32, 2)), "stride 2");
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let narrow = Geometry::new([1, 32, 2, 2], [32, 32, 3, 3], &options).expect("valid");
        assert!(!applies(&narrow), "one tile wide");
    }
}
