//! Front-end diagnostics → LSP diagnostics: the first label is the range, the other labels and
//! miette's related reports become related information, the help goes under the message.

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, NumberOrString};
use miette::Severity;

use super::analysis::Analysis;
use super::position::Encoding;
use crate::diag::Diagnostic;
use crate::syntax::span::{FileId, Span};

/// The diagnostics of one file of an analysis.
pub fn of(analysis: &Analysis, file: FileId, encoding: Encoding) -> Vec<lsp_types::Diagnostic> {
    analysis.outcome.diags.iter().filter(|d| d.file == file).map(|d| convert(analysis, d, encoding)).collect()
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
