//! Completion. The context comes from the text before the cursor, not from the syntax tree, so
//! it works on the half-written line that does not parse yet: after `use ` the `std/…` modules,
//! inside `.{ }` of a `use` the module's exports, after `|>` layers and blocks, at a key of
//! `train { }` (or `checkpoint`, `early_stop`, `ema`, a dataset's record or a dataset's options)
//! its keys, inside a call's parentheses its argument names, and elsewhere every builtin and
//! every name in scope. Names come from the last analysis that parsed.

use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, CompletionTextEdit, Documentation,
    InsertTextFormat, TextEdit,
};

use super::analysis::{Analysis, Target};
use super::server::Server;
use crate::check::builtins::{self, BUILTINS, Builtin, Kind};
use crate::resolve::stdlib;
use crate::syntax::ast::{Item, Type};
use crate::syntax::span::{FileId, Span};

/// Where the cursor is, as far as completion cares.
#[derive(Debug, PartialEq)]
enum Context {
    /// `use std/|`: replace from this byte offset.
    UseModule(usize),
    /// `use std/backbones.{|`.
    UseNames(String),
    Pipe,
    Keys(&'static [&'static str]),
    /// Inside the parentheses of a call to this name.
    Args(String),
    Values,
    TopLevel,
}

/// An unclosed bracket before the cursor.
pub(super) struct Open {
    pub bracket: u8,
    pub at: usize,
}

/// The brackets still open at `offset`, outermost first (strings and comments skipped).
pub(super) fn open_brackets(text: &str, offset: usize) -> Vec<Open> {
    let bytes = &text.as_bytes()[..offset.min(text.len())];
    let mut stack = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => stack.push(Open { bracket: bytes[i], at: i }),
            b')' | b']' | b'}' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack
}

/// The name just before byte `at`, skipping spaces (`conv2d` in `conv2d (`).
pub(super) fn word_before(text: &str, at: usize) -> &str {
    let before = text[..at].trim_end();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    &before[start..]
}

fn context(text: &str, offset: usize, names: Option<&Analysis>) -> Context {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..offset];
    if let Some(rest) = line.trim_start().strip_prefix("use ") {
        return match rest.split_once(".{") {
            Some((module, _)) => Context::UseNames(module.trim().trim_matches('"').to_string()),
            None => Context::UseModule(offset - rest.trim_start().len()),
        };
    }
    let word = word_before(text, offset);
    let before = text[..offset - word.len()].trim_end();
    if before.ends_with("|>") {
        return Context::Pipe;
    }
    let Some(open) = open_brackets(text, offset).pop() else { return Context::TopLevel };
    let owner = word_before(text, open.at);
    // Between the bracket (or the last separator) and the cursor there is only the word.
    let entry = &text[open.at + 1..offset - word.len()];
    let at_key = entry.rsplit([',', ';', '\n']).next().is_some_and(|s| s.trim().is_empty());
    match open.bracket {
        b'(' if !owner.is_empty() && at_key => Context::Args(owner.to_string()),
        b'{' if at_key => match owner {
            "train" => Context::Keys(builtins::TRAIN_KEYS),
            "checkpoint" => Context::Keys(builtins::CHECKPOINT_KEYS),
            "early_stop" => Context::Keys(builtins::EARLY_STOP_KEYS),
            "ema" => Context::Keys(builtins::EMA_KEYS),
            "" if text[..open.at].trim_end().ends_with(')') && line_of(text, open.at).starts_with("dataset") => {
                Context::Keys(builtins::DATASET_KEYS)
            }
            name if is_dataset(names, name) => Context::Keys(builtins::DATA_KEYS),
            _ => Context::Values,
        },
        _ => Context::Values,
    }
}

fn line_of(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[start..at].trim_start()
}

fn is_dataset(names: Option<&Analysis>, name: &str) -> bool {
    let Some(a) = names else { return false };
    let program = a.program();
    program.root.and_then(|m| program.lookup(m, name)).is_some_and(|d| matches!(program.item(d), Item::Dataset(_)))
}

pub fn complete(server: &Server, p: CompletionParams) -> Option<CompletionResponse> {
    let doc = &p.text_document_position;
    let analysis = server.analysis(&doc.text_document.uri)?;
    let names = server.names(&doc.text_document.uri);
    let text = analysis.text(FileId(0));
    let offset = analysis.offset(FileId(0), doc.position, server.encoding);
    let items = match context(text, offset, names) {
        Context::UseModule(from) => {
            let range = analysis.range(Span::new(FileId(0), from, offset), server.encoding);
            stdlib::MODULES
                .iter()
                .map(|(name, _)| CompletionItem {
                    label: name.to_string(),
                    kind: Some(CompletionItemKind::MODULE),
                    text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: name.to_string() })),
                    ..CompletionItem::default()
                })
                .collect()
        }
        Context::UseNames(module) => exports(&module, names),
        Context::Pipe => {
            let mut items: Vec<CompletionItem> =
                BUILTINS.iter().filter(|b| b.kind == Kind::Layer).map(|b| builtin_item(b, true)).collect();
            items.extend(decl_items(names, true).into_iter().filter(|i| i.kind == Some(CompletionItemKind::FUNCTION)));
            items
        }
        Context::Keys(keys) => keys.iter().map(|k| key_item(k)).collect(),
        Context::Args(callee) => {
            let mut items = arg_items(&callee, names);
            items.extend(values(names, offset));
            items
        }
        Context::Values => values(names, offset),
        Context::TopLevel => builtins::KEYWORDS
            .iter()
            .filter(|k| !matches!(**k, "return" | "then" | "param"))
            .map(|k| CompletionItem {
                label: k.to_string(),
                kind: Some(CompletionItemKind::KEYWORD),
                ..CompletionItem::default()
            })
            .collect(),
    };
    Some(CompletionResponse::Array(items))
}

/// `conv2d(${1:out})`: the required arguments after the input as snippet fields.
fn snippet(name: &str, required: &[&str]) -> (String, Option<InsertTextFormat>) {
    if required.is_empty() {
        return (name.to_string(), None);
    }
    let fields: Vec<String> = required.iter().enumerate().map(|(i, r)| format!("${{{}:{r}}}", i + 1)).collect();
    (format!("{name}({})", fields.join(", ")), Some(InsertTextFormat::SNIPPET))
}

fn builtin_item(b: &Builtin, piped: bool) -> CompletionItem {
    let required: Vec<&str> = b
        .params
        .iter()
        .filter(|p| p.default.is_none())
        .filter(|p| !(piped && p.ty == builtins::Ty::Tensor))
        .map(|p| p.name)
        .collect();
    let (insert, format) = snippet(b.name, &required);
    CompletionItem {
        label: b.name.to_string(),
        kind: Some(match b.kind {
            Kind::Layer => CompletionItemKind::FUNCTION,
            Kind::Metric => CompletionItemKind::CONSTANT,
            _ => CompletionItemKind::METHOD,
        }),
        detail: Some(b.signature()),
        documentation: Some(Documentation::String(format!("{} — {}", b.summary, b.kind.article()))),
        insert_text: Some(insert),
        insert_text_format: format,
        ..CompletionItem::default()
    }
}

fn key_item(key: &str) -> CompletionItem {
    let record = matches!(key, "checkpoint" | "early_stop" | "ema");
    CompletionItem {
        label: key.to_string(),
        kind: Some(CompletionItemKind::FIELD),
        insert_text: Some(if record { format!("{key} {{ $0 }}") } else { format!("{key} = $0") }),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        ..CompletionItem::default()
    }
}

/// The argument names of a builtin (every builtin of that name) or a block.
fn arg_items(callee: &str, names: Option<&Analysis>) -> Vec<CompletionItem> {
    let mut params: Vec<(String, String)> = Vec::new();
    for b in BUILTINS.iter().filter(|b| b.name == callee) {
        for p in b.params.iter().filter(|p| p.ty != builtins::Ty::Tensor) {
            let detail = format!("{}{}", p.ty.describe(), p.default.map(|d| format!(" = {d}")).unwrap_or_default());
            params.push((p.name.to_string(), detail));
        }
    }
    if let Some(Item::Graph(g)) = names.and_then(|a| lookup(a, callee)) {
        for p in g.params.iter().filter(|p| matches!(p.ty, Type::Scalar(..))) {
            params.push((p.name.name.clone(), "block parameter".into()));
        }
    }
    params.dedup_by(|a, b| a.0 == b.0);
    params
        .into_iter()
        .map(|(name, detail)| CompletionItem {
            label: format!("{name} ="),
            kind: Some(CompletionItemKind::PROPERTY),
            detail: Some(detail),
            insert_text: Some(format!("{name} = ")),
            sort_text: Some(format!("0{name}")),
            ..CompletionItem::default()
        })
        .collect()
}

fn lookup<'a>(a: &'a Analysis, name: &str) -> Option<&'a Item> {
    let program = a.program();
    program.root.and_then(|m| program.lookup(m, name)).map(|d| program.item(d))
}

/// Every builtin, every declaration in scope and the locals visible at `offset`.
fn values(names: Option<&Analysis>, offset: usize) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = BUILTINS.iter().map(|b| builtin_item(b, false)).collect();
    items.extend(decl_items(names, false));
    if let Some(a) = names {
        let mut seen = std::collections::HashSet::new();
        let graph = a.program().root.and_then(|m| {
            a.program().module(m).ast.items.iter().find_map(|i| match i {
                Item::Graph(g) if (g.span.start as usize) <= offset && offset <= g.span.end as usize => Some(g.span),
                _ => None,
            })
        });
        for o in a.occurrences.iter().rev() {
            let inside =
                graph.is_some_and(|g| o.span.file == FileId(0) && g.start <= o.span.start && o.span.end <= g.end);
            if o.def && matches!(o.target, Target::Local(_)) && inside && seen.insert(o.name.clone()) {
                items.push(CompletionItem {
                    label: o.name.clone(),
                    kind: Some(CompletionItemKind::VARIABLE),
                    ..CompletionItem::default()
                });
            }
        }
    }
    items.extend(builtins::SYMBOLS.iter().chain(builtins::CONSTANTS).map(|s| CompletionItem {
        label: s.to_string(),
        kind: Some(CompletionItemKind::CONSTANT),
        ..CompletionItem::default()
    }));
    items
}

/// The names the document declares or imports.
fn decl_items(names: Option<&Analysis>, piped: bool) -> Vec<CompletionItem> {
    let Some(a) = names else { return Vec::new() };
    let program = a.program();
    let Some(root) = program.root else { return Vec::new() };
    let mut scope: Vec<(&String, &crate::ir::DeclRef)> = program.module(root).scope.iter().collect();
    scope.sort();
    scope
        .into_iter()
        .map(|(name, decl)| item_for(name, program.item(*decl), &program.module(decl.module).name, piped))
        .collect()
}

fn item_for(name: &str, item: &Item, module: &str, piped: bool) -> CompletionItem {
    let (kind, insert, format) = match item {
        Item::Graph(g) => {
            let mut tensors = 0;
            let required: Vec<&str> = g
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .filter(|p| match p.ty {
                    Type::Tensor(_) => {
                        tensors += 1;
                        !(piped && tensors == 1)
                    }
                    Type::Scalar(..) => true,
                })
                .map(|p| p.name.name.as_str())
                .collect();
            let (insert, format) = snippet(name, &required);
            (CompletionItemKind::FUNCTION, insert, format)
        }
        Item::Dataset(_) => (CompletionItemKind::VARIABLE, name.to_string(), None),
        _ => (CompletionItemKind::STRUCT, name.to_string(), None),
    };
    CompletionItem {
        label: name.to_string(),
        kind: Some(kind),
        detail: Some(format!("{} from `{module}`", item_kind(item))),
        insert_text: Some(insert),
        insert_text_format: format,
        ..CompletionItem::default()
    }
}

fn item_kind(item: &Item) -> &'static str {
    match item {
        Item::Graph(g) => g.kind.keyword(),
        Item::Dataset(_) => "dataset",
        Item::Augment(_) => "augment",
        Item::Profile(_) => "profile",
        Item::Use(_) => "use",
        Item::Train(_) => "train",
        Item::Sweep(_) => "sweep",
    }
}

/// What a module declares: a stdlib module's from the binary, a file's from the analysis.
fn exports(module: &str, names: Option<&Analysis>) -> Vec<CompletionItem> {
    let parsed;
    let items: &[Item] = match stdlib::get(module) {
        Some(text) => {
            parsed = crate::syntax::parse_file(text, FileId(0)).map(|f| f.items).unwrap_or_default();
            &parsed
        }
        None => match names.and_then(|a| a.program().modules.iter().find(|m| m.name == module)) {
            Some(m) => &m.ast.items,
            None => &[],
        },
    };
    items
        .iter()
        .filter(|i| !matches!(i, Item::Profile(_)))
        .filter_map(|i| i.name().map(|n| item_for(&n.name, i, module, false)))
        .map(|mut c| {
            c.insert_text = None;
            c.insert_text_format = None;
            c
        })
        .collect()
}
