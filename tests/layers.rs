//! Every layer builtin is complete: it has a shape rule, a one-layer model calling it with its
//! defaults checks and infers a node of that layer, and (with the `train` feature) the executor
//! compiles that node and runs it with the shapes the checker inferred. Its highlighter entries are
//! tested, with every other builtin's, in `tests/editors.rs`.
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

use trainc::check::builtins::{BUILTINS, Builtin, Kind, Ty};
use trainc::frontend::{self, Options, Outcome};
use trainc::host::MemHost;
use trainc::ir::ModelGraph;

/// The input every one-layer model takes: enough channels for `group_norm`'s 32 groups, enough
/// pixels for a 3×3 kernel.
const INPUT: [usize; 4] = [2, 32, 8, 8];

/// Calls that exercise more than the defaults.
const VARIANTS: &[&str] = &[
    "conv2d(x, 8, k = 3, padding = same)",
    "conv2d(x, 8, k = 1, stride = 2, groups = 4, bias = false)",
    "conv_transpose2d(x, 8, k = 2, stride = 2)",
    "maxpool(x, k = 3, stride = 1, padding = 1)",
    "softmax(x, dim = -1)",
    "concat([x, x], dim = 2)",
    "upsample(x, scale = 2, mode = bilinear)",
    "linear(flatten(x), 10, bias = false)",
    "x * 0.5 - x / 4 + 2 * x",
    "x * mean(x, [2, 3], keepdim = true)",
    "x - max(x, 1, keepdim = true)",
    "sum(x, [1, -1])",
    "gelu(x, approximate = tanh)",
    "prelu(x, per_channel = true)",
    "prelu(flatten(x, start = 2), per_channel = true, init = 0.1)",
    "flatten(x, start = 2)",
    "flatten(x, start = 1, end = 2)",
    "transpose(flatten(x, start = 2), 1, 2)",
    "permute(x, [0, 3, 1, 2])",
    "select(flatten(x, start = 2), dim = 1, index = 3)",
    "layer_norm(x, axis = 1)",
    "layer_norm(transpose(flatten(x, start = 2)))",
    "dropout2d(x, 0.3)",
    "drop_path(x, p = 0.2)",
    "matmul(flatten(x, start = 2), transpose(flatten(x, start = 2)))",
    "attention(transpose(flatten(x, start = 2)), 8, dropout = 0.1)",
    "linear(transpose(flatten(x, start = 2)), 16) |> relu6 |> dropout(0.1)",
];

/// Layers whose required arguments need values that fit the 4-D input.
const SAMPLES: &[(&str, &str)] = &[
    ("scale", "scale(x, 0.5)"),
    ("reshape", "reshape(x, [2, 32, 64])"),
    ("permute", "permute(x, [0, 2, 3, 1])"),
    ("mean", "mean(x, [2, 3])"),
    ("sum", "sum(x, 1, keepdim = true)"),
    ("max", "max(x, [1, -1])"),
    ("attention", "attention(reshape(x, [2, 32, 64]), 4)"),
];

fn layers() -> impl Iterator<Item = &'static Builtin> {
    BUILTINS.iter().filter(|b| b.kind == Kind::Layer)
}

/// `name(x, 4)`: the layer called with its required arguments only.
fn default_call(b: &Builtin) -> String {
    if let Some((_, call)) = SAMPLES.iter().find(|(n, _)| *n == b.name) {
        return call.to_string();
    }
    let args: Vec<&str> = b
        .params
        .iter()
        .filter(|p| p.default.is_none())
        .map(|p| match p.ty {
            Ty::Tensor => "x",
            Ty::Tensors => "[x, x]",
            Ty::Int => "4",
            other => panic!("`{}`: no sample value for a required {}", b.name, other.describe()),
        })
        .collect();
    format!("{}({})", b.name, args.join(", "))
}

/// Checks `model m(x) { return <call> }` and returns its graph.
fn one_layer_model(call: &str) -> ModelGraph {
    let [n, c, h, w] = INPUT;
    let text = format!("model m(x: Tensor[{n}, {c}, {h}, {w}]) {{\n  return {call}\n}}\n");
    let outcome: Outcome = frontend::check_text(&MemHost::new(), "layer.train", &text, &Options::default());
    assert!(!outcome.has_errors(), "`{call}` does not check:\n{}", outcome.render(false));
    outcome.checked.models.get("m").cloned().unwrap_or_else(|| panic!("`{call}`: no model inferred"))
}

#[test]
fn every_layer_has_a_shape_rule() {
    let missing: Vec<&str> = layers().filter(|b| b.rule.is_none()).map(|b| b.name).collect();
    assert!(missing.is_empty(), "layers without a shape rule (see src/check/layers/): {missing:?}");
}

#[test]
fn every_layer_infers_a_node_of_its_own() {
    for b in layers() {
        let call = default_call(b);
        let graph = one_layer_model(&call);
        let ops: Vec<&str> = graph.graph.node_weights().map(|n| n.op.name()).collect();
        assert!(ops.contains(&b.name), "`{call}` inferred the ops {ops:?}, none of them `{}`", b.name);
    }
    for call in VARIANTS {
        one_layer_model(call);
    }
}

#[cfg(feature = "train")]
mod exec {
    use burn::tensor::{Device, Distribution, Tensor};
    use trainc::exec::Net;
    use trainc::ir::ModelGraph;

    use super::{INPUT, VARIANTS, default_call, layers, one_layer_model};

    /// Compiles the graph on the CPU and runs it; every node's runtime shape is the inferred one.
    fn compiles_and_runs(call: &str, graph: &ModelGraph) {
        let device = Device::flex();
        let net = Net::build(graph, &device).unwrap_or_else(|e| panic!("`{call}` does not compile: {e}"));
        let runtime = net.shapes(vec![Tensor::<4>::random(INPUT, Distribution::Default, &device)]);
        assert_eq!(runtime.len(), graph.graph.node_count(), "`{call}`: every node is a step");
        for node in graph.graph.node_weights() {
            let expected: Vec<usize> =
                node.shape.0.iter().map(|d| d.value().expect("concrete input") as usize).collect();
            let found = runtime.iter().find(|(p, _)| *p == node.path).map(|(_, dims)| dims);
            assert_eq!(Some(&expected), found, "`{call}`, node `{}`", node.path);
        }
    }

    /// Learned parameters in a body: a class token concatenated with the tokens (its batch of
    /// 1 repeated), a position embedding added, a layer scale multiplied.
    #[test]
    fn params_concat_and_broadcast_with_the_tokens() {
        let text = "model m(x: Tensor[2, 32, 8, 8]) {
  t = x |> flatten(start = 2) |> transpose(1, 2)
  param cls: [1, 1, 32] = zeros
  param pos: [1, 65, 32] = trunc_normal(std = 0.02)
  param gamma: [1, 32] = full(1e-6)
  h = concat([cls, t], dim = 1) + pos
  h = h + drop_path(attention(layer_norm(h), 4), p = 0.1)
  return select(h, dim = 1, index = 0) * gamma
}
";
        let outcome = trainc::frontend::check_text(
            &trainc::host::MemHost::new(),
            "params.train",
            text,
            &trainc::frontend::Options::default(),
        );
        assert!(!outcome.has_errors(), "{}", outcome.render(false));
        let graph = &outcome.checked.models["m"];
        assert_eq!(graph.param_count().value(), Some(32 + 65 * 32 + 32 + 2 * 32 + 4 * 32 * 32 + 4 * 32));
        let paths: Vec<&str> = graph.graph.node_weights().map(|n| n.path.as_str()).collect();
        assert!(paths.contains(&"cls") && paths.contains(&"pos"), "{paths:?}");
        compiles_and_runs("params", graph);
    }

    #[test]
    fn every_layer_compiles_and_runs_with_the_inferred_shapes() {
        for b in layers() {
            let call = default_call(b);
            compiles_and_runs(&call, &one_layer_model(&call));
        }
        for call in VARIANTS {
            compiles_and_runs(call, &one_layer_model(call));
        }
    }
}
