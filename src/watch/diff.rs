//! What an edit changed, and when it can take effect. Both `train` blocks are serialized to
//! JSON and compared by path (`optimizer.lr`, `data.augment.1.p`), so the rules are
//! prefixes of those paths and do not depend on how each setting is typed. The model is compared
//! node by node (module path, layer and shape).

use std::collections::BTreeMap;

use petgraph::visit::EdgeRef;
use serde::Serialize;
use serde_json::Value;

use crate::ir::{ModelGraph, TrainSpec};

/// When a change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// At the next step.
    Live,
    /// When the next epoch starts (data pipeline, batch size, metrics, `freeze`, `groups`).
    NextEpoch,
    /// A new optimizer, with fresh state, at the next step.
    NewOptimizer,
    /// The model is rebuilt at the next epoch boundary; matching weights are kept.
    Rebuild,
    /// Not applied: the run must be restarted.
    Restart,
}

impl When {
    pub fn label(self) -> &'static str {
        match self {
            When::Live => "live",
            When::NextEpoch => "at the next epoch",
            When::NewOptimizer => "new optimizer with fresh state at the next step",
            When::Rebuild => "model rebuilt at the next epoch boundary",
            When::Restart => "needs a restart",
        }
    }
}

/// One changed setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub old: Value,
    pub new: Value,
    pub when: When,
}

impl Change {
    /// `optimizer.lr 0.0003 → 0.0001 (live)`
    pub fn line(&self) -> String {
        format!("{} {} → {} ({})", self.path, show(&self.old), show(&self.new), self.when.label())
    }
}

/// A value as the user wrote it, roughly: `adam(lr = 0.001)` for a call, `[a, b]`, `-` for absent.
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => match (map.get("name"), map.get("args")) {
            // A dataset source, recorded as the call it was written as.
            (Some(Value::String(name)), Some(Value::Object(args))) => {
                let args: Vec<String> = args.iter().map(|(k, v)| format!("{k} = {}", show(v))).collect();
                format!("{name}({})", args.join(", "))
            }
            // A typed builtin (optimizer, schedule, loss, augmentation): its name and arguments.
            (Some(Value::String(name)), None) => {
                let args: Vec<String> =
                    map.iter().filter(|(k, _)| *k != "name").map(|(k, v)| format!("{k} = {}", show(v))).collect();
                format!("{name}({})", args.join(", "))
            }
            _ => {
                let fields: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {}", show(v))).collect();
                format!("{{{}}}", fields.join(", "))
            }
        },
        other => other.to_string(),
    }
}

/// Settings read at every step (`export`: read when training ends; `plots`: after each epoch).
const LIVE: [&str; 11] = [
    "optimizer",
    "schedule",
    "epochs",
    "clip_grad",
    "accumulate",
    "loss",
    "log_every",
    "early_stop",
    "checkpoint",
    "export",
    "plots",
];

/// When a change at `path` (dotted, from the top of the `train` block) takes effect.
pub fn classify(path: &str) -> When {
    let top = |p: &str| path == p || path.starts_with(&format!("{p}."));
    if top("data.dataset") {
        When::Restart
    } else if top("data") || top("metrics") || top("freeze") || top("groups") || top("mix") {
        When::NextEpoch
    } else if top("model") {
        When::Rebuild
    } else if LIVE.iter().any(|p| top(p)) {
        When::Live
    } else {
        // `seed`, `ema`, `name` and anything new: only a restart is sure to apply it.
        When::Restart
    }
}

/// Every leaf that differs between `a` and `b`, with its dotted path. Arrays of different
/// lengths and values of different kinds are one change.
pub fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<(String, Value, Value)>) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                diff_values(&join(k), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff_values(&join(&i.to_string()), va, vb, out);
            }
        }
        _ if a != b => out.push((path.to_string(), a.clone(), b.clone())),
        _ => {}
    }
}

/// What kind of optimizer a serialized optimizer is: its `name`, its only key (an enum
/// variant), or the string itself.
fn kind(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => match m.get("name").or(m.get("kind")).or(m.get("type")) {
            Some(Value::String(s)) => Some(s.clone()),
            _ if m.len() == 1 => m.keys().next().cloned(),
            _ => None,
        },
        _ => None,
    }
}

/// The changes from one checked `train` block to the next.
pub fn spec_changes(old: &TrainSpec, new: &TrainSpec) -> Vec<Change> {
    let (a, b) = (serde_json::to_value(old).unwrap_or_default(), serde_json::to_value(new).unwrap_or_default());
    let (oa, ob) = (&a["optimizer"], &b["optimizer"]);
    let mut out = Vec::new();
    if kind(oa) != kind(ob) {
        out.push(Change { path: "optimizer".into(), old: oa.clone(), new: ob.clone(), when: When::NewOptimizer });
    }
    let mut raw = Vec::new();
    diff_values("", &a, &b, &mut raw);
    for (path, old, new) in raw {
        if path.starts_with("optimizer") && kind(oa) != kind(ob) {
            continue;
        }
        let when = classify(&path);
        out.push(Change { path, old, new, when });
    }
    out
}

/// A node as compared (layer with every setting, and shape), as shown (`conv2d [B, 8, 16, 16]`),
/// and its inputs' paths.
struct NodeSig {
    exact: String,
    shown: String,
    inputs: Vec<String>,
}

fn nodes(g: &ModelGraph) -> BTreeMap<String, NodeSig> {
    let mut out = BTreeMap::new();
    for idx in g.graph.node_indices() {
        let n = &g.graph[idx];
        let mut inputs: Vec<(usize, String)> = g
            .graph
            .edges_directed(idx, petgraph::Direction::Incoming)
            .map(|e| (*e.weight(), g.graph[e.source()].path.clone()))
            .collect();
        inputs.sort();
        let sig = NodeSig {
            exact: format!("{:?} {}", n.op, n.shape),
            shown: format!("{} {}", n.op.name(), n.shape),
            inputs: inputs.into_iter().map(|(_, p)| p).collect(),
        };
        out.insert(n.path.clone(), sig);
    }
    out
}

/// The model changes: one per node added, removed or changed (`model.linear1`); when only the
/// wiring changed, one per node whose inputs changed.
pub fn graph_changes(old: &ModelGraph, new: &ModelGraph) -> Vec<Change> {
    let (a, b) = (nodes(old), nodes(new));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let change =
        |k: &String, old: Value, new: Value| Change { path: format!("model.{k}"), old, new, when: When::Rebuild };
    let shown =
        |m: &BTreeMap<String, NodeSig>, k: &String| m.get(k).map_or(Value::Null, |n| Value::String(n.shown.clone()));
    let mut out: Vec<Change> = keys
        .iter()
        .filter(|k| a.get(**k).map(|n| &n.exact) != b.get(**k).map(|n| &n.exact))
        .map(|k| change(k, shown(&a, k), shown(&b, k)))
        .collect();
    if out.is_empty() {
        let inputs = |m: &BTreeMap<String, NodeSig>, k: &String| {
            m.get(k).map_or(Value::Null, |n| Value::String(format!("<- {}", n.inputs.join(", "))))
        };
        out = keys
            .iter()
            .filter(|k| a.get(**k).map(|n| &n.inputs) != b.get(**k).map(|n| &n.inputs))
            .map(|k| change(k, inputs(&a, k), inputs(&b, k)))
            .collect();
    }
    if out.is_empty() && format!("{:?}", old.inputs) != format!("{:?}", new.inputs) {
        out.push(change(&"inputs".to_string(), json_debug(&old.inputs), json_debug(&new.inputs)));
    }
    out
}

fn json_debug(v: &impl std::fmt::Debug) -> Value {
    Value::String(format!("{v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_are_diffed_by_dotted_path() {
        let a = json!({"optimizer": {"name": "adam", "args": {"lr": 0.001}}, "epochs": 2, "data": {"augment": [1, 2]}});
        let b = json!({"optimizer": {"name": "adam", "args": {"lr": 0.0001}}, "epochs": 4, "data": {"augment": [1]}});
        let mut out = Vec::new();
        diff_values("", &a, &b, &mut out);
        let paths: Vec<&str> = out.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["data.augment", "epochs", "optimizer.args.lr"]);
    }

    #[test]
    fn classification_by_prefix() {
        assert_eq!(classify("optimizer.args.lr"), When::Live);
        assert_eq!(classify("epochs"), When::Live);
        assert_eq!(classify("checkpoint.keep"), When::Live);
        assert_eq!(classify("data.augment.1.args.p"), When::NextEpoch);
        assert_eq!(classify("data.batch"), When::NextEpoch);
        assert_eq!(classify("metrics"), When::NextEpoch);
        assert_eq!(classify("freeze.0.epochs"), When::NextEpoch);
        assert_eq!(classify("groups"), When::NextEpoch);
        assert_eq!(classify("data.dataset.source.args.path"), When::Restart);
        assert_eq!(classify("seed"), When::Restart);
        assert_eq!(classify("epochsx"), When::Restart);
    }

    #[test]
    fn optimizer_kind_is_a_name_or_a_single_variant_key() {
        assert_eq!(kind(&json!({"name": "sgd", "args": {}})).as_deref(), Some("sgd"));
        assert_eq!(kind(&json!({"AdamW": {"lr": 1}})).as_deref(), Some("AdamW"));
        assert_eq!(show(&json!({"name": "adam", "args": {"lr": 0.001}})), "adam(lr = 0.001)");
    }
}
