//! What data parallelism does to a model: the gradients averaged over the ranks before every
//! optimizer step, the weights checked equal at the start, and a checksum of the weights that a
//! test compares across ranks.
//!
//! Gradients travel as one flat `f32` buffer, parameters in the module's visiting order (the same
//! on every rank, the model being the same): each parameter's values, then one presence count
//! per parameter, then the caller's extra values. A parameter with no gradient on a rank adds
//! zeros; one with no gradient anywhere (frozen) stays without one, so the optimizer leaves it
//! alone as on one process.

use std::io::Write;
use std::path::PathBuf;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use sha2::{Digest, Sha256};

use super::{DistError, Group, Wait};
use crate::exec::Net;

/// Where a parameter's gradient sits in the flat buffer.
struct Slot {
    id: ParamId,
    dims: Vec<usize>,
    offset: usize,
}

/// Takes each parameter's gradient out of `grads`, flattened, in visiting order.
struct Flatten<'a> {
    grads: &'a mut GradientsParams,
    parts: Vec<Option<Tensor<1>>>,
    slots: Vec<Slot>,
    len: usize,
}

impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let dims = param.shape().to_vec();
        let numel: usize = dims.iter().product();
        self.parts.push(self.grads.remove::<D>(param.id).map(|g| g.reshape([numel])));
        self.slots.push(Slot { id: param.id, dims, offset: self.len });
        self.len += numel;
    }
}

/// The gradients averaged over the ranks of `group` (the sum ÷ the number of ranks, as PyTorch's
/// DDP), and `extra` summed in the same collective. Nothing happens on one rank. The buffer is
/// built on the gradients' device, so through NCCL it never leaves the GPU.
pub fn average_gradients(group: &Group, net: &Net, mut grads: GradientsParams, extra: &mut [f32]) -> GradientsParams {
    if !group.is_distributed() {
        return grads;
    }
    let mut flat = Flatten { grads: &mut grads, parts: Vec::new(), slots: Vec::new(), len: 0 };
    net.visit(&mut flat);
    let Flatten { parts, slots, len: counts_at, .. } = flat;
    let device = parts.iter().flatten().map(Tensor::device).next();
    let Some(device) = device.or_else(|| net.devices().into_iter().next().map(|d| d.inner())) else { return grads };
    let mut tail: Vec<f32> = parts.iter().map(|p| if p.is_some() { 1.0 } else { 0.0 }).collect();
    tail.extend_from_slice(extra);
    let tail_len = tail.len();
    let mut columns: Vec<Tensor<1>> =
        parts.into_iter().zip(&slots).map(|(p, s)| p.unwrap_or_else(|| zeros(s, &device))).collect();
    columns.push(Tensor::from_data(TensorData::new(tail, [tail_len]), &device));
    let summed = group.sum_tensor(Tensor::cat(columns, 0), "averaging the gradients", Wait::Step);
    let tail = summed.clone().slice(counts_at..counts_at + tail_len).into_data().convert::<f32>();
    let tail = tail.try_into_vec::<f32>().unwrap_or_default();
    extra.copy_from_slice(&tail[slots.len()..]);
    let mean = summed.mul_scalar(1.0 / group.world.size as f32);
    let mut averaged = GradientsParams::new();
    for (slot, count) in slots.iter().zip(&tail) {
        // A parameter no rank has a gradient for (frozen) stays without one.
        if *count > 0.0 {
            let numel: usize = slot.dims.iter().product();
            register(&mut averaged, slot, mean.clone().slice(slot.offset..slot.offset + numel));
        }
    }
    averaged
}

fn zeros(slot: &Slot, device: &Device) -> Tensor<1> {
    Tensor::zeros([slot.dims.iter().product::<usize>()], device)
}

/// Registers a flat gradient with the rank its dims say (parameters have rank 1 to 6 here).
fn register(grads: &mut GradientsParams, slot: &Slot, flat: Tensor<1>) {
    fn shaped<const D: usize>(flat: Tensor<1>, dims: &[usize]) -> Tensor<D> {
        flat.reshape(<[usize; D]>::try_from(dims).unwrap_or([1; D]))
    }
    let dims = &slot.dims[..];
    match dims.len() {
        1 => grads.register::<1>(slot.id, flat),
        2 => grads.register::<2>(slot.id, shaped(flat, dims)),
        3 => grads.register::<3>(slot.id, shaped(flat, dims)),
        4 => grads.register::<4>(slot.id, shaped(flat, dims)),
        5 => grads.register::<5>(slot.id, shaped(flat, dims)),
        _ => grads.register::<6>(slot.id, shaped(flat, dims)),
    }
}

/// Hashes every float parameter's values, in visiting order.
struct Hash(Sha256);

impl ModuleVisitor for Hash {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        for v in data.iter::<f32>() {
            self.0.update(v.to_le_bytes());
        }
    }
}

/// A SHA-256 of the weights (first 16 hex digits): equal on two ranks only when every weight is
/// bit for bit equal.
pub fn checksum(net: &Net) -> String {
    let mut hash = Hash(Sha256::new());
    net.visit(&mut hash);
    hash.0.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Fails on every rank when any rank's weights differ from rank 0's (`what`: "at the start").
/// Ranks seed their initialisation identically and load the same files, so they agree unless
/// a rank read another file.
pub fn assert_same_weights(group: &Group, net: &Net, what: &str) -> Result<(), DistError> {
    if !group.is_distributed() {
        return Ok(());
    }
    let mine = checksum(net);
    let mut leader = mine.clone().into_bytes();
    group.broadcast(&mut leader, "comparing the initial weights", Wait::Leader);
    let expected = String::from_utf8_lossy(&leader).into_owned();
    let mut differ = [if mine == expected { 0.0 } else { 1.0 }];
    group.sum(&mut differ, "comparing the initial weights", Wait::Step);
    if differ[0] == 0.0 {
        return Ok(());
    }
    let ranks = differ[0] as usize;
    Err(DistError::Diverged { ranks, what: what.into(), rank: group.world.rank, found: mine, expected })
}

/// `TRAINC_DIST_CHECKSUMS=DIR`: every rank appends `step checksum` to `DIR/rank<N>.checksums`
/// after every optimizer step, so a test can compare the ranks' weights step by step.
pub struct ChecksumLog {
    path: PathBuf,
}

impl ChecksumLog {
    /// The log of `rank` when the variable asks for one.
    pub fn from_env(rank: usize) -> Option<ChecksumLog> {
        let dir = PathBuf::from(std::env::var_os("TRAINC_DIST_CHECKSUMS")?);
        Some(ChecksumLog { path: dir.join(format!("rank{rank}.checksums")) })
    }

    /// Appends a line; a log that cannot be written is reported once per step on stderr, never fatal.
    pub fn record(&self, step: usize, net: &Net) {
        let line = format!("{step} {}\n", checksum(net));
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = appended {
            eprintln!("warning: cannot append to {}: {e}", self.path.display());
        }
    }
}
