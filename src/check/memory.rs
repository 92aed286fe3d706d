//! How much memory one training step needs, estimated from the checked graph before anything
//! runs: a model that cannot fit is an error in `check`, not an out-of-memory kill an hour later.
//!
//! The estimate is what PyTorch users compute by hand: parameters, their gradients, the
//! optimizer's state (Adam's two moments, SGD's momentum), and the activations autodiff keeps
//! for the backward pass — every node's output at the training batch size — plus the largest
//! output twice over for the gradient buffers alive at the peak. It ignores the allocator's
//! slack, the data loader's queue and the framework itself, so the real peak is higher; the
//! README gives measured figures beside the estimate.
//!
//! Data parallelism cuts each batch into `shards` (the devices of a `--device` list times the
//! ranks a launcher started): every device keeps the whole model, its gradients and (the first)
//! the optimizer state, but the activations of its slice only, so the estimate is per device at
//! batch ÷ shards, which is what `--memory` (one GPU's size) is compared with.
//!
//! With `precision = bf16` or `f16` the weights, gradients and optimizer state stay f32 (master
//! weights); each node's output is counted in the type `exec::net` computes it in (2 bytes after
//! a convolution, linear layer or product, 4 after a normalisation or softmax, its inputs' type
//! otherwise), and the 16-bit copies of the weights those layers use are activations too.

use std::collections::HashMap;

use petgraph::stable_graph::NodeIndex;

use crate::ir::{ModelGraph, Op, Optimizer, Precision, TrainSpec};

use super::dim::Dim;

/// The estimate, in bytes, of one training step of the trained model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemoryEstimate {
    /// The batch one device trains on: the global batch ÷ `shards`, rounded up.
    pub batch: usize,
    /// How many devices share each global batch (1 without data parallelism).
    pub shards: usize,
    /// Bytes of one stored weight, gradient or optimizer value (4: master weights are f32).
    pub value_bytes: u64,
    /// The precision the activations are computed in.
    pub precision: Precision,
    pub parameters: u64,
    pub gradients: u64,
    pub optimizer: u64,
    pub activations: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.parameters + self.gradients + self.optimizer + self.activations
    }

    /// `≈ 71.9 MiB (parameters 4.6 MiB, gradients 4.6 MiB, optimizer state 9.2 MiB, activations 53.6 MiB)`.
    pub fn describe(&self) -> String {
        format!(
            "≈ {} (parameters {}, gradients {}, optimizer state {}, activations {})",
            bytes(self.total()),
            bytes(self.parameters),
            bytes(self.gradients),
            bytes(self.optimizer),
            bytes(self.activations)
        )
    }

    /// The summary's line: `≈ 71.9 MiB per training step at batch 64 (parameters …)`.
    pub fn per_step(&self) -> String {
        let text = self.describe();
        let (total, parts) = text.split_once(" (").unwrap_or((&text, ""));
        let precision = match self.precision {
            Precision::F32 => String::new(),
            other => format!(" in {}", other.name()),
        };
        let batch = match self.shards {
            1 => format!("batch {}", self.batch),
            n => format!("batch {} per device ({n} devices)", self.batch),
        };
        format!("{total} per training step at {batch}{precision} ({parts}")
    }
}

/// How much memory the training device has, and where that figure came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
    /// `this machine's memory`, `--memory 8GiB`.
    pub source: String,
}

/// The estimate for `graph` trained as `train` says with each batch cut into `shards`, or `None`
/// when a size is still symbolic.
pub fn estimate(graph: &ModelGraph, train: &TrainSpec, shards: usize) -> Option<MemoryEstimate> {
    let value_bytes = 4;
    let shards = shards.max(1);
    let batch = train.data.batch.div_ceil(shards);
    let bindings: HashMap<String, Dim> = [("B".to_string(), Dim::known(batch as i64))].into();
    let params = u64::try_from(graph.param_count().value()?).ok()?;
    let widths = output_bytes(graph, train.precision);
    let mut saved = 0u64;
    let mut largest = 0u64;
    let mut cast_weights = 0u64;
    for (index, node) in graph.graph.node_indices().map(|i| (i, &graph.graph[i])) {
        let mut elements = 1u64;
        for dim in &node.shape.subst(&bindings).0 {
            elements = elements.saturating_mul(u64::try_from(dim.value()?).ok()?);
        }
        let bytes = elements.saturating_mul(widths.get(&index).copied().unwrap_or(value_bytes));
        saved = saved.saturating_add(bytes);
        largest = largest.max(bytes);
        if train.precision != Precision::F32 && computes_low(&node.op) {
            let weights = u64::try_from(node.params.value().unwrap_or(0)).unwrap_or(0);
            cast_weights = cast_weights.saturating_add(weights * train.precision.activation_bytes());
        }
    }
    let values_per_param = optimizer_state(&train.optimizer);
    Some(MemoryEstimate {
        batch,
        shards,
        value_bytes,
        precision: train.precision,
        parameters: params * value_bytes,
        gradients: params * value_bytes,
        optimizer: params * value_bytes * values_per_param,
        activations: saved.saturating_add(2 * largest).saturating_add(cast_weights),
    })
}

/// Whether `exec::net` runs `op` in the 16-bit compute type.
fn computes_low(op: &Op) -> bool {
    matches!(op, Op::Conv2d { .. } | Op::ConvTranspose2d { .. } | Op::Linear { .. } | Op::Matmul)
}

/// Bytes of one value of each node's output under `precision`, following `exec::net`'s casts:
/// the compute type after convolutions, linear layers and products; f32 for inputs, parameters,
/// normalisations, softmax, PReLU and attention; otherwise the inputs' type (f32 when they differ).
fn output_bytes(graph: &ModelGraph, precision: Precision) -> HashMap<NodeIndex, u64> {
    let mut out = HashMap::new();
    let Ok(order) = petgraph::algo::toposort(&graph.graph, None) else { return out };
    let (low, full) = (precision.activation_bytes(), 4);
    for index in order {
        let bytes = match &graph.graph[index].op {
            op if computes_low(op) => low,
            Op::Input(_)
            | Op::Param { .. }
            | Op::BatchNorm { .. }
            | Op::GroupNorm { .. }
            | Op::LayerNorm { .. }
            | Op::Softmax { .. }
            | Op::Prelu { .. }
            | Op::Attention { .. } => full,
            _ => graph
                .graph
                .neighbors_directed(index, petgraph::Direction::Incoming)
                .map(|i| out.get(&i).copied().unwrap_or(full))
                .max()
                .unwrap_or(full),
        };
        out.insert(index, bytes);
    }
    out
}

/// Values of optimizer state per parameter.
fn optimizer_state(optimizer: &Optimizer) -> u64 {
    match optimizer {
        Optimizer::Sgd { momentum, .. } => u64::from(*momentum != 0.0),
        // Square averages, plus momentum and the centred mean when used.
        Optimizer::RmsProp { momentum, centered, .. } => 1 + u64::from(*momentum != 0.0) + u64::from(*centered),
        Optimizer::Lion { .. } => 1,
        Optimizer::Adam { .. } | Optimizer::AdamW { .. } | Optimizer::Lamb { .. } => 2,
    }
}

/// `512 B`, `3.4 KiB`, `1.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `16GiB`, `512 MiB`, `8G`, `1.5TB` → bytes (binary units; `G` and `GB` mean GiB, as `free -h` does).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("`{text}` is not a size; write e.g. `16GiB` or `512MiB`"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown unit `{other}` in `{text}`; use B, KiB, MiB, GiB or TiB")),
    };
    Ok((number * scale as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_in_binary_units() {
        assert_eq!(parse_bytes("16GiB"), Ok(16 << 30));
        assert_eq!(parse_bytes("1.5 G"), Ok(3 << 29));
        assert_eq!(parse_bytes("512mb"), Ok(512 << 20));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
    }
}
