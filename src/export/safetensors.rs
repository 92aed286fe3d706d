//! The safetensors export in PyTorch's layout, so `model.load_state_dict(load_file(…))` works:
//! linear weights transposed to `[out, in]`, norm `gamma`/`beta` as `weight`/`bias`, batch norm
//! with `running_mean`, `running_var` and an int64 scalar `num_batches_tracked` (which a strict
//! load of a torchvision model requires). Keys are the module path plus the PyTorch parameter
//! name (`resnet180.basic_block0.conv2d0.weight`), or torchvision's names for a stdlib backbone
//! ([`super::names`]), then `--rename` rules.
//!
//! Written with the `safetensors` crate, which burn-store already builds: it validates the
//! header and orders the tensors as every other writer does, at no build cost.

use std::path::Path;

use burn::tensor::Tensor;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::ExportError;
use crate::exec::Net;
use crate::exec::net::Layer;

/// One tensor in PyTorch's layout.
pub struct Entry {
    pub key: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

fn f32_entry<const D: usize>(key: String, t: Tensor<D>) -> Result<Entry, ExportError> {
    let shape = t.dims().to_vec();
    let v = super::f32s(&key, &t.into_data())?;
    Ok(Entry { key, dtype: Dtype::F32, shape, bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect() })
}

/// The PyTorch state dict of one layer, keyed `<path>.<name>`.
fn layer_entries(path: &str, layer: &Layer) -> Result<Vec<Entry>, ExportError> {
    let key = |name: &str| format!("{path}.{name}");
    let mut out = Vec::new();
    let bias = |out: &mut Vec<Entry>, b: Option<Tensor<1>>| -> Result<(), ExportError> {
        if let Some(b) = b {
            out.push(f32_entry(key("bias"), b)?);
        }
        Ok(())
    };
    match layer {
        Layer::Conv(m) => {
            out.push(f32_entry(key("weight"), m.weight.val())?);
            bias(&mut out, m.bias.as_ref().map(|b| b.val()))?;
        }
        Layer::ConvT(m) => {
            out.push(f32_entry(key("weight"), m.weight.val())?);
            bias(&mut out, m.bias.as_ref().map(|b| b.val()))?;
        }
        // burn keeps `[in, out]`; PyTorch `[out, in]`.
        Layer::Linear(m) => {
            out.push(f32_entry(key("weight"), m.weight.val().transpose())?);
            bias(&mut out, m.bias.as_ref().map(|b| b.val()))?;
        }
        Layer::BatchNorm(m) => {
            out.push(f32_entry(key("weight"), m.gamma.val())?);
            out.push(f32_entry(key("bias"), m.beta.val())?);
            out.push(f32_entry(key("running_mean"), m.running_mean.value())?);
            out.push(f32_entry(key("running_var"), m.running_var.value())?);
            let zero = 0i64.to_le_bytes().to_vec();
            out.push(Entry { key: key("num_batches_tracked"), dtype: Dtype::I64, shape: vec![], bytes: zero });
        }
        Layer::GroupNorm(m) => {
            if let Some(g) = &m.gamma {
                out.push(f32_entry(key("weight"), g.val())?);
            }
            bias(&mut out, m.beta.as_ref().map(|b| b.val()))?;
        }
        Layer::LayerNorm(m) | Layer::ChannelNorm(m) => {
            out.push(f32_entry(key("weight"), m.gamma.val())?);
            bias(&mut out, m.beta.as_ref().map(|b| b.val()))?;
        }
        Layer::Prelu(m) => out.push(f32_entry(key("weight"), m.alpha.val())?),
        // `nn.MultiheadAttention`: q, k and v packed into `in_proj_*`, `[out, in]` each.
        Layer::Attention(m) => {
            let w = [&m.query, &m.key, &m.value].map(|l| l.weight.val().transpose());
            out.push(f32_entry(key("in_proj_weight"), Tensor::cat(w.to_vec(), 0))?);
            let b: Option<Vec<Tensor<1>>> =
                [&m.query, &m.key, &m.value].iter().map(|l| l.bias.as_ref().map(|b| b.val())).collect();
            if let Some(b) = b {
                out.push(f32_entry(key("in_proj_bias"), Tensor::cat(b, 0))?);
            }
            out.push(f32_entry(key("out_proj.weight"), m.output.weight.val().transpose())?);
            bias(&mut out, m.output.bias.as_ref().map(|b| b.val())).map(|_| ())?;
            if let Some(last) = out.last_mut().filter(|e| e.key == key("bias")) {
                last.key = key("out_proj.bias");
            }
        }
        // A parameter is its own module path (`vit0.cls`).
        Layer::Param2(p) => out.push(f32_entry(path.to_string(), p.val())?),
        Layer::Param3(p) => out.push(f32_entry(path.to_string(), p.val())?),
        Layer::Param4(p) => out.push(f32_entry(path.to_string(), p.val())?),
        Layer::Dropout(_)
        | Layer::Dropout2d(_)
        | Layer::DropPath(_)
        | Layer::MaxPool(_)
        | Layer::AvgPool(_)
        | Layer::AdaptivePool(_)
        | Layer::Upsample(_) => {}
    }
    Ok(out)
}

/// Every tensor of `net` in PyTorch's layout, keyed `<module name>.<param>` where `module`
/// gives each layer path's module name; `rename` then maps each key.
pub fn entries(
    net: &Net,
    module: &dyn Fn(&str) -> String,
    rename: &dyn Fn(&str) -> String,
) -> Result<Vec<Entry>, ExportError> {
    let mut out = Vec::new();
    for (path, layer) in net.layers.names().iter().zip(net.layers.iter()) {
        for mut e in layer_entries(&module(path), layer)? {
            e.key = rename(&e.key);
            out.push(e);
        }
    }
    Ok(out)
}

/// Writes `entries` as a safetensors file with `metadata` in its header.
pub fn write(
    entries: &[Entry],
    metadata: std::collections::HashMap<String, String>,
    path: &Path,
) -> Result<(), ExportError> {
    let fail = |message: String| ExportError::Safetensors { path: path.to_path_buf(), message };
    let views = entries
        .iter()
        .map(|e| TensorView::new(e.dtype, e.shape.clone(), &e.bytes).map(|v| (e.key.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    safetensors::tensor::serialize_to_file(views, Some(metadata), path).map_err(|e| fail(e.to_string()))
}
