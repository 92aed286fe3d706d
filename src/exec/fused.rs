//! What the fused kernels share: buffers that their workers zero, and `relu`'s arithmetic.
//!
//! `relu` and its gradient are burn-flex's to the bit, NaN included (a NaN output passes, and
//! keeps its gradient, as in PyTorch), so a fused `conv2d |> relu` or `batch_norm |> relu`
//! computes what the two ops compute apart.

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A buffer of `len` zeros, in chunks of `chunk_len` that `fill` then writes with its own scratch
/// state, in parallel when `parallel`: [`zeroed_chunks_into`] a new `Vec`.
pub(super) fn zeroed_chunks<S: Default + Send>(
    len: usize,
    chunk_len: usize,
    parallel: bool,
    fill: impl Fn(&mut S, (usize, &mut [f32])) + Sync,
) -> Vec<f32> {
    // SAFETY: `zeroed_chunks_into` writes every value.
    unsafe { filled(len, |out| zeroed_chunks_into(out, chunk_len, parallel, fill)) }.0
}

/// `out` in chunks of `chunk_len`, each zeroed and then written by `fill` with its own scratch
/// state, in parallel when `parallel`. Each chunk is zeroed by the worker that fills it, while it
/// is in that worker's cache: a buffer zeroed up front is a serial `memset` on the calling thread
/// (burn keeps freed memory, so `calloc` rarely gets fresh zero pages), which was 2 % of a
/// Fashion-MNIST step with the other core idle. `out` may be another library's memory (a libtorch
/// tensor's, `exec/tch_ops.rs`), so that the result is not copied there afterwards.
pub(super) fn zeroed_chunks_into<S: Default + Send>(
    out: &mut [MaybeUninit<f32>],
    chunk_len: usize,
    parallel: bool,
    fill: impl Fn(&mut S, (usize, &mut [f32])) + Sync,
) {
    let chunk_len = chunk_len.max(1);
    match parallel {
        true => out
            .par_chunks_mut(chunk_len)
            .enumerate()
            .for_each_init(S::default, |state, (index, chunk)| fill(state, (index, zeroed(chunk)))),
        false => {
            let mut state = S::default();
            out.chunks_mut(chunk_len).enumerate().for_each(|(index, chunk)| fill(&mut state, (index, zeroed(chunk))));
        }
    }
}

/// A `Vec` of `len` values written by `fill`, and what `fill` returns.
///
/// # Safety
/// `fill` must write every one of the `len` values it is given.
pub(super) unsafe fn filled<R>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>]) -> R) -> (Vec<f32>, R) {
    let mut out = Vec::with_capacity(len);
    let result = fill(&mut out.spare_capacity_mut()[..len]);
    // SAFETY: the caller promises that `fill` wrote all `len` values.
    unsafe { out.set_len(len) };
    (out, result)
}

/// `chunk`, every element set to zero.
pub(super) fn zeroed(chunk: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    chunk.fill(MaybeUninit::new(0.0));
    // SAFETY: every element was just initialised, and `MaybeUninit<f32>` has `f32`'s layout.
    unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// `relu(v)` as burn-flex's: NaN passes.
pub(super) fn relu(v: f32) -> f32 {
    if v.is_nan() || v > 0.0 { v } else { 0.0 }
}

/// The gradient `g` through a `relu` whose output is `y`, as burn-flex's `relu_backward`: kept
/// where `y` is positive or NaN, zero elsewhere.
pub(super) fn relu_grad(g: f32, y: f32) -> f32 {
    if y.is_nan() || y > 0.0 { g } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NaN passes `relu` and keeps its gradient, as burn-flex's `relu` and `relu_backward`.
    #[test]
    fn relu_lets_nan_through_as_burn_flex_does() {
        assert!(relu(f32::NAN).is_nan());
        assert_eq!((relu(-1.0), relu(0.0), relu(2.0)), (0.0, 0.0, 2.0));
        assert_eq!((relu_grad(3.0, f32::NAN), relu_grad(3.0, 0.0), relu_grad(3.0, 1.0)), (3.0, 0.0, 3.0));
    }
}
