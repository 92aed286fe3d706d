//! The reporting edge: every stage's errors travel as [`Diagnostic`] (a stage's miette enum plus
//! the file its spans point into) and are rendered here, for people or for editors (JSON).

use miette::{GraphicalReportHandler, GraphicalTheme, Severity};
use serde::Serialize;

use crate::syntax::span::{FileId, SourceMap};

/// One problem from any stage.
pub struct Diagnostic {
    pub file: FileId,
    pub error: Box<dyn miette::Diagnostic + Send + Sync + 'static>,
}

impl std::fmt::Debug for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.error)
    }
}

impl Diagnostic {
    pub fn new(file: FileId, error: impl miette::Diagnostic + Send + Sync + 'static) -> Diagnostic {
        Diagnostic { file, error: Box::new(error) }
    }

    pub fn is_error(&self) -> bool {
        !matches!(self.error.severity(), Some(Severity::Warning) | Some(Severity::Advice))
    }

    pub fn code(&self) -> String {
        self.error.code().map(|c| c.to_string()).unwrap_or_default()
    }

    /// Where the first label points, as a byte offset.
    pub fn offset(&self) -> Option<usize> {
        self.error.labels().and_then(|mut l| l.next()).map(|l| l.offset())
    }

    /// A key that identifies the same problem reported twice (e.g. inside a block instantiated
    /// from several places).
    fn key(&self) -> (String, FileId, Option<usize>, String) {
        (self.code(), self.file, self.offset(), self.error.to_string())
    }
}

/// Drops repeated diagnostics and orders them by file and position, errors and warnings mixed as
/// they appear in the source.
pub fn normalize(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert(d.key()));
    diags.sort_by_key(|d| (d.file, d.offset().unwrap_or(0)));
    diags
}

/// Attaches the file's text so miette can draw the snippet (`None`: too long a line to draw).
struct WithSource<'a> {
    diag: &'a Diagnostic,
    source: Option<miette::NamedSource<String>>,
}

impl std::fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.diag.fmt(f)
    }
}

impl std::fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.diag.error.fmt(f)
    }
}

impl std::error::Error for WithSource<'_> {}

impl miette::Diagnostic for WithSource<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diag.error.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.diag.error.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diag.error.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diag.error.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        self.diag.error.related()
    }
}

/// Lines longer than this are not drawn: a snippet of them helps nobody, and miette panics on
/// label columns past 65,535 (a generated file with thousands of pipes on one line).
const MAX_DRAWN_LINE: usize = 2000;

/// Renders diagnostics as miette reports. `color` is off for snapshots and pipes.
pub fn render_human(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for diag in diags {
        let file = sources.get(diag.file);
        let long = long_line_label(diag, &file.text);
        let source = long.is_none().then(|| miette::NamedSource::new(file.name.clone(), file.text.to_string()));
        let with = WithSource { diag, source };
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &with);
        if let Some(offset) = long {
            let (line, column) = sources.line_col(diag.file, offset as u32);
            out.push_str(&format!("  at {}:{line}:{column} (the line is too long to show)\n", file.name));
        }
        out.push('\n');
    }
    out
}

/// The offset of the first label that sits on a line longer than [`MAX_DRAWN_LINE`].
fn long_line_label(diag: &Diagnostic, text: &str) -> Option<usize> {
    let labels: Vec<miette::LabeledSpan> = diag.error.labels().map(|l| l.collect()).unwrap_or_default();
    labels.iter().map(|l| l.offset()).find(|&at| {
        let at = text.floor_char_boundary(at);
        let start = text[..at].rfind('\n').map_or(0, |p| p + 1);
        let end = text[at..].find('\n').map_or(text.len(), |p| at + p);
        end - start > MAX_DRAWN_LINE
    })
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: &'static str,
    pub code: String,
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<String>,
}

/// One JSON object per diagnostic, for editors.
pub fn to_json(diags: &[Diagnostic], sources: &SourceMap) -> Vec<JsonDiagnostic> {
    diags
        .iter()
        .map(|d| {
            let labels: Vec<miette::LabeledSpan> = d.error.labels().map(|l| l.collect()).unwrap_or_default();
            let (start, end) = labels.first().map_or((0, 0), |l| (l.offset() as u32, (l.offset() + l.len()) as u32));
            let (line, column) = sources.line_col(d.file, start);
            let (end_line, end_column) = sources.line_col(d.file, end);
            JsonDiagnostic {
                file: sources.get(d.file).name.clone(),
                line,
                column,
                end_line,
                end_column,
                severity: if d.is_error() { "error" } else { "warning" },
                code: d.code(),
                message: d.error.to_string(),
                help: d.error.help().map(|h| h.to_string()),
                labels: labels.iter().filter_map(|l| l.label().map(String::from)).collect(),
            }
        })
        .collect()
}
