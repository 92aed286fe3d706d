//! Hover: what a name is. On a layer call, every node it made (module path, shape, parameter
//! count) and the builtin's signature and summary; on a binding, its inferred shape; on a
//! block or model, its signature (and a model's size); on other builtins, their signature.

use lsp_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};

use super::analysis::{Analysis, Occurrence, Target};
use super::server::Server;
use crate::check::builtins::{BUILTINS, Builtin, Kind};
use crate::ir::DeclRef;
use crate::syntax::ast::{Graph, GraphKind, Item, OutType, TensorType};
use crate::syntax::span::Span;

/// How many instances of a layer inside a block hover lists.
const MAX_NODES: usize = 6;

pub fn hover(server: &Server, p: HoverParams) -> Option<Hover> {
    let doc = &p.text_document_position_params;
    let analysis = server.analysis(&doc.text_document.uri)?;
    let file = analysis.file_id(&Server::path_of(&doc.text_document.uri)?)?;
    let offset = analysis.offset(file, doc.position, server.encoding);
    let occurrence = analysis.occurrence_at(file, offset)?;
    let value = describe(analysis, occurrence)?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
        range: Some(analysis.range(occurrence.span, server.encoding)),
    })
}

fn describe(analysis: &Analysis, o: &Occurrence) -> Option<String> {
    match &o.target {
        Target::Builtin(name) => Some(builtin(analysis, name, o.call)),
        Target::Decl(decl) => Some(decl_text(analysis, *decl, o)),
        Target::Local(def) => local(analysis, *def, &o.name),
        Target::Module(Some(m)) => {
            let module = analysis.program().module(*m);
            let names: Vec<String> =
                module.ast.items.iter().filter_map(|i| i.name()).map(|n| format!("`{}`", n.name)).collect();
            Some(format!("module `{}`\n\ndeclares {}", module.name, names.join(", ")))
        }
        _ => None,
    }
}

/// The nodes a call made, in every model (a layer inside a block has one per instance).
fn nodes(analysis: &Analysis, call: Span) -> Vec<String> {
    let mut out = Vec::new();
    for model in analysis.outcome.checked.models.values() {
        for node in model.graph.node_weights().filter(|n| n.span == call) {
            let params = node.params.value().map_or(node.params.to_string(), thousands);
            out.push(format!("`{}` ⟶ `{}` · {params} parameters", node.path, node.shape));
        }
    }
    out
}

/// What a call was bound to, when the model's graph does not have it (a model whose output
/// is broken keeps no nodes).
fn bound(analysis: &Analysis, call: Span) -> Vec<String> {
    let shapes = &analysis.outcome.checked.shapes;
    shapes.iter().filter(|b| b.value == call).map(|b| format!("`{}` ⟶ `{}`", b.name, b.shape)).collect()
}

fn builtin(analysis: &Analysis, name: &str, call: Option<Span>) -> String {
    let mut made = call.map(|c| nodes(analysis, c)).unwrap_or_default();
    if made.is_empty() {
        made = call.map(|c| bound(analysis, c)).unwrap_or_default();
    }
    let candidates: Vec<&Builtin> = BUILTINS.iter().filter(|b| b.name == name).collect();
    // `linear` is a layer and a schedule: a call that made nodes is the layer.
    let chosen = candidates.iter().find(|b| (b.kind == Kind::Layer) != made.is_empty()).or(candidates.first());
    let mut text = String::new();
    if let Some(b) = chosen {
        text.push_str(&format!("```trainc\n{}\n```\n{} — {}", b.signature(), b.summary, b.kind.article()));
    }
    push_nodes(&mut text, &made);
    text
}

fn push_nodes(text: &mut String, made: &[String]) {
    if made.is_empty() {
        return;
    }
    text.push_str("\n\n");
    for line in made.iter().take(MAX_NODES) {
        text.push_str(&format!("- {line}\n"));
    }
    if made.len() > MAX_NODES {
        text.push_str(&format!("- … and {} more\n", made.len() - MAX_NODES));
    }
}

fn local(analysis: &Analysis, def: Span, name: &str) -> Option<String> {
    let shapes = &analysis.outcome.checked.shapes;
    if let Some(b) = shapes.iter().find(|b| b.name_span == def) {
        return Some(format!("```trainc\n{name}: {}\n```", b.shape));
    }
    // A parameter: its declared type.
    let program = analysis.program();
    program.decls().find_map(|(_, item)| match item {
        Item::Graph(g) => g
            .params
            .iter()
            .find(|p| p.name.span == def)
            .map(|p| format!("```trainc\n{}\n```\nparameter of `{}`", program.sources.text(p.span), g.name.name)),
        _ => None,
    })
}

fn decl_text(analysis: &Analysis, decl: DeclRef, o: &Occurrence) -> String {
    let program = analysis.program();
    let source = |span: Span| program.sources.text(span).to_string();
    let module = &program.module(decl.module).name;
    match program.item(decl) {
        Item::Graph(g) => {
            let mut text = format!("```trainc\n{}\n```\nfrom `{module}`", header(analysis, g));
            if let Some(model) =
                analysis.outcome.checked.models.get(&g.name.name).filter(|_| g.kind == GraphKind::Model)
            {
                let params = model.param_count();
                let outputs: Vec<String> =
                    model.outputs.iter().map(|(n, i)| format!("`{n}` `{}`", model.graph[*i].shape)).collect();
                text.push_str(&format!(
                    "\n\n{} parameters, {} layers ⟶ {}",
                    params.value().map_or(params.to_string(), thousands),
                    model.graph.node_count(),
                    outputs.join(", ")
                ));
                let trained = analysis.outcome.checked.train.as_ref().is_some_and(|t| t.model == g.name.name);
                if let Some(memory) = analysis.outcome.checked.memory.filter(|_| trained) {
                    text.push_str(&format!("\n\nmemory {}", memory.per_step()));
                }
            }
            if let Some(call) = o.call {
                push_nodes(&mut text, &bound(analysis, call));
            }
            text
        }
        Item::Dataset(d) => {
            format!("```trainc\ndataset {} = {}\n```\nfrom `{module}`", d.name.name, source(d.source.span))
        }
        Item::Augment(a) => {
            let targets: Vec<&str> = a.targets.iter().map(|t| t.name.as_str()).collect();
            let steps: Vec<String> = a.steps.iter().map(|s| source(s.span)).collect();
            format!(
                "```trainc\naugment {}({})\n```\n{}\n\nfrom `{module}`",
                a.name.name,
                if targets.is_empty() { "image".to_string() } else { targets.join(", ") },
                steps.join(" → ")
            )
        }
        other => other.name().map(|n| format!("`{}`", n.name)).unwrap_or_default(),
    }
}

/// `block basic_block(x: [B, C, H, W], out: int) -> [B, out, H, W]`, as written.
pub fn header(analysis: &Analysis, g: &Graph) -> String {
    let text = |span: Span| analysis.program().sources.text(span).to_string();
    let params: Vec<String> = g.params.iter().map(|p| text(p.span)).collect();
    let tensor = |t: &TensorType| text(t.span);
    let output = match &g.output {
        None => String::new(),
        Some(OutType::Single(t)) => format!(" -> {}", tensor(t)),
        Some(OutType::Named(outs)) => {
            let outs: Vec<String> = outs.iter().map(|(n, t)| format!("{}: {}", n.name, tensor(t))).collect();
            format!(" -> ({})", outs.join(", "))
        }
    };
    format!("{} {}({}){output}", g.kind.keyword(), g.name.name, params.join(", "))
}

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
