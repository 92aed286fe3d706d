//! Front-end diagnostics → LSP diagnostics: the first label is the range, the other labels and
//! miette's related reports become related information, the help goes under the message.

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString};
use miette::Severity;

use std::path::Path;

use super::analysis::{Analysis, ROOT};
use super::position::Encoding;
use crate::diag::Diagnostic;
use crate::syntax::ast::{Item, UseSource};
use crate::syntax::span::{FileId, Span};

/// The diagnostics of one file of an analysis.
pub fn of(analysis: &Analysis, file: FileId, encoding: Encoding) -> Vec<lsp_types::Diagnostic> {
    analysis.outcome.diags.iter().filter(|d| d.file == file).map(|d| convert(analysis, d, encoding)).collect()
}

/// The document's own diagnostics, and those of the files it imports by path that are not open
/// in the editor (`is_open`), shown at the `use` that imports them: a broken import is visible
/// from the file that needs it. The stdlib's are left to the diagnostics themselves, which point
/// at the user's call sites.
pub fn of_document(
    analysis: &Analysis,
    encoding: Encoding,
    is_open: impl Fn(&Path) -> bool,
) -> Vec<lsp_types::Diagnostic> {
    let mut out = of(analysis, ROOT, encoding);
    let program = analysis.program();
    let Some(root) = program.root else { return out };
    for d in analysis.outcome.diags.iter().filter(|d| d.file != ROOT) {
        let name = &program.sources.get(d.file).name;
        let open = analysis.file_path(d.file).is_some_and(&is_open);
        let import = program.module(root).ast.items.iter().find_map(|item| match item {
            Item::Use(u) if matches!(&u.source, UseSource::Relative(rel) if rel == name) => Some(u.source_span),
            _ => None,
        });
        let Some(at) = import.filter(|_| !open) else { continue };
        let mut inner = convert(analysis, d, encoding);
        let location = analysis.location(Span::new(d.file, 0, 0), encoding);
        if let Some(location) = location {
            let mut here = location;
            here.range = inner.range;
            inner
                .related_information
                .get_or_insert_with(Vec::new)
                .insert(0, DiagnosticRelatedInformation { location: here, message: "the problem is here".into() });
        }
        inner.message = format!("in `{name}`: {}", inner.message);
        inner.range = analysis.range(at, encoding);
        out.push(inner);
    }
    out
}

fn convert(analysis: &Analysis, d: &Diagnostic, encoding: Encoding) -> lsp_types::Diagnostic {
    let span_of = |l: &miette::LabeledSpan| Span::new(d.file, l.offset(), l.offset() + l.len());
    let labels: Vec<miette::LabeledSpan> = d.error.labels().map(|l| l.collect()).unwrap_or_default();
    let primary = labels.iter().find(|l| l.primary()).or(labels.first());
    let range = analysis.range(primary.map_or(Span::new(d.file, 0, 0), span_of), encoding);
    let mut message = d.error.to_string();
    if let Some(label) = primary.and_then(|l| l.label()) {
        message.push_str(&format!(" ({label})"));
    }
    if let Some(help) = d.error.help() {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let mut related = Vec::new();
    for label in labels.iter().filter(|l| Some(*l) != primary) {
        if let Some(location) = analysis.location(span_of(label), encoding) {
            related
                .push(DiagnosticRelatedInformation { location, message: label.label().unwrap_or("here").to_string() });
        }
    }
    for inner in d.error.related().into_iter().flatten() {
        let first = inner.labels().and_then(|mut l| l.next());
        let location = first.and_then(|l| analysis.location(span_of(&l), encoding));
        if let Some(location) = location {
            related.push(DiagnosticRelatedInformation { location, message: inner.to_string() });
        }
    }
    if let Some(origin) = &d.origin {
        related.extend(origin_information(analysis, origin, encoding));
    }
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.error.severity() {
            Some(Severity::Warning) => DiagnosticSeverity::WARNING,
            Some(Severity::Advice) => DiagnosticSeverity::HINT,
            _ => DiagnosticSeverity::ERROR,
        }),
        code: Some(NumberOrString::String(d.code())),
        source: Some("trainc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The block line of a diagnostic moved to the user's call site (a stdlib document the client
/// opens read-only).
fn origin_information(
    analysis: &Analysis,
    origin: &Diagnostic,
    encoding: Encoding,
) -> Option<DiagnosticRelatedInformation> {
    let label = origin.error.labels().and_then(|mut l| l.next())?;
    let location = analysis.location(Span::new(origin.file, label.offset(), label.offset() + label.len()), encoding)?;
    let what = label.label().map_or_else(|| origin.error.to_string(), String::from);
    Some(DiagnosticRelatedInformation { location, message: format!("where it happens: {what}") })
}
