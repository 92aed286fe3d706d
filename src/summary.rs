//! The one-screen summary `trainc check` prints on success, and the `--shapes` table.

use std::fmt::Write;

use petgraph::visit::Topo;

use crate::frontend::Outcome;
use crate::ir::{ModelGraph, Op, SplitSource};

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

pub fn summary(outcome: &Outcome, path: &str, shapes: bool) -> String {
    let mut out = String::new();
    let warnings = outcome.diags.len();
    let _ = writeln!(
        out,
        "✓ {path}: no errors{}",
        if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() }
    );
    if let Some(train) = &outcome.checked.train {
        let ds = &train.data.dataset;
        let _ = writeln!(
            out,
            "  train     {} on `{}` for {} epoch(s), batch {}",
            train.model, ds.name, train.epochs, train.data.batch
        );
        let size = ds
            .image_size
            .map(|(h, w)| format!("{}×{h}×{w}", ds.channels))
            .unwrap_or_else(|| format!("{} channel(s)", ds.channels));
        let splits: Vec<String> = ds
            .splits
            .iter()
            .map(|(name, src)| match (src, ds.counts.get(name)) {
                (SplitSource::Stored(_) | SplitSource::Own(_), Some(n)) => format!("{name} {}", thousands(*n as i64)),
                (SplitSource::Carve { of, fraction, .. }, _) => {
                    format!("{name} {}% of {of}", (fraction * 100.0).round())
                }
                _ => name.clone(),
            })
            .collect();
        let _ = writeln!(out, "  data      {:?}, {} classes, {size}; {}", ds.task, ds.classes.len(), splits.join(", "));
        let loss: Vec<String> = train
            .loss
            .iter()
            .map(|t| if t.weight == 1.0 { t.loss.name().into() } else { format!("{} × {}", t.weight, t.loss.name()) })
            .collect();
        let schedule: Vec<&str> = train.schedule.iter().map(|c| c.name()).collect();
        let _ = writeln!(
            out,
            "  optimize  {} with {} (lr {}), schedule {}",
            loss.join(" + "),
            train.optimizer.name(),
            train.optimizer.lr(),
            schedule.join(" then ")
        );
        let _ = writeln!(
            out,
            "  metrics   {}; checkpoint on {} ({:?})",
            train.metrics.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
            train.checkpoint.monitor,
            train.checkpoint.mode
        );
    }
    for model in outcome.checked.models.values() {
        let params = model.param_count();
        let count = params.value().map_or(format!("{params}"), thousands);
        let outputs: Vec<String> =
            model.outputs.iter().map(|(n, i)| format!("{n} {}", model.graph[*i].shape)).collect();
        let _ = writeln!(
            out,
            "  model     {}: {} parameters, {} layers → {}",
            model.name,
            count,
            model.graph.node_count() - model.inputs.len(),
            outputs.join(", ")
        );
        if let Some(memory) = outcome.checked.memory.filter(|_| is_trained(outcome, &model.name)) {
            let _ = writeln!(out, "  memory    {}", memory.per_step());
        }
        if shapes {
            out.push_str(&shape_table(model));
        }
    }
    out
}

fn is_trained(outcome: &Outcome, model: &str) -> bool {
    outcome.checked.train.as_ref().is_some_and(|t| t.model == model)
}

/// Every node in evaluation order: path, layer, output shape, parameters.
pub fn shape_table(model: &ModelGraph) -> String {
    let mut rows = vec![("node".to_string(), "layer".to_string(), "shape".to_string(), "params".to_string())];
    let mut topo = Topo::new(&model.graph);
    while let Some(n) = topo.next(&model.graph) {
        let node = &model.graph[n];
        let params = match &node.op {
            Op::Input(_) => String::new(),
            _ => node.params.value().map_or(node.params.to_string(), thousands),
        };
        rows.push((node.path.clone(), node.op.name().to_string(), node.shape.to_string(), params));
    }
    let w = |f: fn(&(String, String, String, String)) -> &String| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0)
    };
    let (w0, w1, w2) = (w(|r| &r.0), w(|r| &r.1), w(|r| &r.2));
    let mut out = String::new();
    for (a, b, c, d) in &rows {
        let _ = writeln!(out, "    {a:<w0$}  {b:<w1$}  {c:<w2$}  {d:>10}");
    }
    out
}
