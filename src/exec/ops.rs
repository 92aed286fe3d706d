//! The plan steps on [`Act`]s of any rank that `net.rs` dispatches to: NumPy broadcasting for
//! the element-wise ops, reductions, reshapes and permutations, `matmul`, `select`, the
//! batch-sized regularisers `dropout2d` and `drop_path`, and `concat` with a parameter whose
//! batch is 1. Each works on the runtime dimensions, so the batch axis stays dynamic.

use burn::nn::Dropout;
use burn::tensor::{Distribution, Tensor};

use super::net::Act;
use crate::ir::Reduce;

impl Act {
    /// The runtime dimensions.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Act::D2(t) => t.dims().to_vec(),
            Act::D3(t) => t.dims().to_vec(),
            Act::D4(t) => t.dims().to_vec(),
        }
    }
}

fn reshape_to<const D: usize>(t: Tensor<D>, dims: &[usize]) -> Act {
    match dims.len() {
        2 => Act::D2(t.reshape([dims[0], dims[1]])),
        3 => Act::D3(t.reshape([dims[0], dims[1], dims[2]])),
        _ => Act::D4(t.reshape([dims[0], dims[1], dims[2], dims[3]])),
    }
}

/// The same elements in `dims` (rank 2 to 4, the checker's promise).
pub fn reshape(x: Act, dims: &[usize]) -> Act {
    match x {
        Act::D2(t) => reshape_to(t, dims),
        Act::D3(t) => reshape_to(t, dims),
        Act::D4(t) => reshape_to(t, dims),
    }
}

/// `x` repeated along its axes of size 1 to `dims` (same rank).
fn expand(x: Act, dims: &[usize]) -> Act {
    if x.dims() == dims {
        return x;
    }
    match x {
        Act::D2(t) => Act::D2(t.expand([dims[0], dims[1]])),
        Act::D3(t) => Act::D3(t.expand([dims[0], dims[1], dims[2]])),
        Act::D4(t) => Act::D4(t.expand([dims[0], dims[1], dims[2], dims[3]])),
    }
}

/// Both operands at their NumPy broadcast shape: leading axes of 1 first, then every axis of
/// size 1 repeated to the other's.
fn broadcast(a: Act, b: Act) -> (Act, Act) {
    let (da, db) = (a.dims(), b.dims());
    let rank = da.len().max(db.len());
    let pad = |d: &[usize]| [vec![1; rank - d.len()], d.to_vec()].concat();
    let (pa, pb) = (pad(&da), pad(&db));
    let target: Vec<usize> = pa.iter().zip(&pb).map(|(x, y)| *x.max(y)).collect();
    let a = expand(reshape(a, &pa), &target);
    let b = expand(reshape(b, &pb), &target);
    (a, b)
}

/// Which element-wise op of two tensors.
#[derive(Clone, Copy, Debug)]
pub enum Binary {
    Add,
    Sub,
    Mul,
}

pub fn binary(op: Binary, a: Act, b: Act) -> Act {
    macro_rules! apply {
        ($x:expr, $y:expr) => {
            match op {
                Binary::Add => $x + $y,
                Binary::Sub => $x - $y,
                Binary::Mul => $x * $y,
            }
        };
    }
    let mut same = super::precision::common(vec![a, b]);
    let (a, b) = (same.remove(0), same.remove(0));
    match broadcast(a, b) {
        (Act::D2(x), Act::D2(y)) => Act::D2(apply!(x, y)),
        (Act::D3(x), Act::D3(y)) => Act::D3(apply!(x, y)),
        (Act::D4(x), Act::D4(y)) => Act::D4(apply!(x, y)),
        _ => unreachable!("broadcast gives equal ranks"),
    }
}

/// `[…, n, k] × […, k, m]`, the leading axes broadcast.
pub fn matmul(a: Act, b: Act) -> Act {
    let (da, db) = (a.dims(), b.dims());
    let r = da.len();
    let lead: Vec<usize> = da[..r - 2].iter().zip(&db[..r - 2]).map(|(x, y)| *x.max(y)).collect();
    let a = expand(a, &[lead.clone(), da[r - 2..].to_vec()].concat());
    let b = expand(b, &[lead, db[r - 2..].to_vec()].concat());
    match (a, b) {
        (Act::D2(x), Act::D2(y)) => Act::D2(x.matmul(y)),
        (Act::D3(x), Act::D3(y)) => Act::D3(x.matmul(y)),
        (Act::D4(x), Act::D4(y)) => Act::D4(x.matmul(y)),
        _ => unreachable!("the checker guarantees equal ranks for matmul"),
    }
}

/// `x` as 4-D, trailing axes of 1 added (a reshape, so the values do not move).
fn four(x: Act) -> Tensor<4> {
    let mut dims = x.dims();
    dims.resize(4, 1);
    match reshape(x, &dims) {
        Act::D4(t) => t,
        _ => unreachable!("four dims"),
    }
}

/// A reduction over sorted axes `dims`, kept as 1 or removed.
pub fn reduce(how: Reduce, dims: &[usize], keepdim: bool, x: Act) -> Act {
    let before = x.dims();
    let mut t = four(x);
    for &d in dims {
        t = match how {
            Reduce::Mean => t.mean_dim(d),
            Reduce::Sum => t.sum_dim(d),
            Reduce::Max => t.max_dim(d),
        };
    }
    let mut out = Vec::new();
    for (i, n) in before.iter().enumerate() {
        if !dims.contains(&i) {
            out.push(*n);
        } else if keepdim {
            out.push(1);
        }
    }
    reshape(Act::D4(t), &out)
}

/// The axes in the order `perm` (the checker's permutation of `0..rank`).
pub fn permute(x: Act, perm: &[usize]) -> Act {
    match x {
        Act::D2(t) => Act::D2(t.permute([perm[0], perm[1]])),
        Act::D3(t) => Act::D3(t.permute([perm[0], perm[1], perm[2]])),
        Act::D4(t) => Act::D4(t.permute([perm[0], perm[1], perm[2], perm[3]])),
    }
}

/// Axes `start..=end` merged into one.
pub fn flatten(x: Act, start: usize, end: usize) -> Act {
    let d = x.dims();
    let mut dims = d[..start].to_vec();
    dims.push(d[start..=end].iter().product());
    dims.extend_from_slice(&d[end + 1..]);
    reshape(x, &dims)
}

/// Index `index` of axis `dim`, which is removed.
pub fn select(x: Act, dim: usize, index: usize) -> Act {
    let mut dims = x.dims();
    let one = match x {
        Act::D2(t) => Act::D2(t.narrow(dim, index, 1)),
        Act::D3(t) => Act::D3(t.narrow(dim, index, 1)),
        Act::D4(t) => Act::D4(t.narrow(dim, index, 1)),
    };
    dims.remove(dim);
    reshape(one, &dims)
}

/// Concatenation along `dim`; inputs with a batch of 1 (parameters) are repeated to the batch.
pub fn concat(args: Vec<Act>, dim: usize) -> Act {
    let args = super::precision::common(args);
    let batch = args.iter().map(|a| a.dims()[0]).max().unwrap_or(1);
    let args: Vec<Act> = args
        .into_iter()
        .map(|a| {
            let mut d = a.dims();
            if d[0] == 1 && dim != 0 {
                d[0] = batch;
            }
            expand(a, &d)
        })
        .collect();
    macro_rules! cat {
        ($variant:ident) => {
            Act::$variant(Tensor::cat(
                args.into_iter().map(|a| if let Act::$variant(t) = a { t } else { unreachable!() }).collect(),
                dim,
            ))
        };
    }
    match &args[0] {
        Act::D2(_) => cat!(D2),
        Act::D3(_) => cat!(D3),
        Act::D4(_) => cat!(D4),
    }
}

/// Multiplies `x` by a mask of shape `mask` (a prefix of `x`'s dims, 1 after) drawn with keep
/// probability `1 − p`, scaled by `1 / (1 − p)`; only while training (`m`'s flag and an
/// autodiff device, as burn's `Dropout`).
fn masked(m: &Dropout, x: Act, keep_axes: usize) -> Act {
    let on = match &x {
        Act::D2(t) => t.device().is_autodiff(),
        Act::D3(t) => t.device().is_autodiff(),
        Act::D4(t) => t.device().is_autodiff(),
    };
    if !m.training.is_enabled() || !on || m.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - m.prob;
    let dims = x.dims();
    let mut mask_dims = vec![1; dims.len()];
    mask_dims[..keep_axes].copy_from_slice(&dims[..keep_axes]);
    let device = match &x {
        Act::D2(t) => t.device(),
        Act::D3(t) => t.device(),
        Act::D4(t) => t.device(),
    };
    let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
    let mask = Tensor::<4>::random(four_dims(&mask_dims), Distribution::Bernoulli(keep), &device).mul_scalar(scale);
    // In the value's own type: a 16-bit activation stays 16-bit.
    let mask = super::precision::like(mask, x.dtype());
    binary(Binary::Mul, x, reshape(Act::D4(mask), &mask_dims))
}

fn four_dims(d: &[usize]) -> [usize; 4] {
    let mut out = [1; 4];
    out[..d.len()].copy_from_slice(d);
    out
}

/// Zeroes whole channels (`[B, C, 1, 1]` mask).
pub fn dropout2d(m: &Dropout, x: Act) -> Act {
    masked(m, x, 2)
}

/// Zeroes whole samples (`[B, 1, …]` mask): stochastic depth.
pub fn drop_path(m: &Dropout, x: Act) -> Act {
    masked(m, x, 1)
}
