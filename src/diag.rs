//! The reporting edge: every stage's errors travel as [`Diagnostic`] (a stage's miette enum plus
//! the file its spans point into) and are rendered here, for people or for editors (JSON).

use miette::{GraphicalReportHandler, GraphicalTheme, Severity};
use serde::Serialize;

use crate::syntax::span::{FileId, SourceMap, Span};

/// One problem from any stage.
pub struct Diagnostic {
    pub file: FileId,
    pub error: Box<dyn miette::Diagnostic + Send + Sync + 'static>,
    /// Where the problem really is, when `error` was moved to the user's call of a block that
    /// lives in another file (see [`Diagnostic::at_call`]).
    pub origin: Option<Box<Diagnostic>>,
}

impl std::fmt::Debug for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.error)
    }
}

impl Diagnostic {
    pub fn new(file: FileId, error: impl miette::Diagnostic + Send + Sync + 'static) -> Diagnostic {
        Diagnostic { file, error: Box::new(error), origin: None }
    }

    /// `error`, found at `origin` inside block `block` from another file (the stdlib, an import),
    /// reported at the user's `call` of that block: the primary label is where the user can act,
    /// and the block's line comes along as related. Code, message, severity and help stay.
    pub fn at_call(
        call: Span,
        block: &str,
        origin: FileId,
        error: impl miette::Diagnostic + Send + Sync + 'static,
    ) -> Diagnostic {
        let moved = AtCall {
            message: error.to_string(),
            code: error.code().map(|c| c.to_string()),
            help: error.help().map(|h| h.to_string()),
            severity: error.severity(),
            label: format!("inside `{block}`, called here"),
            call: call.into(),
        };
        Diagnostic { file: call.file, error: Box::new(moved), origin: Some(Box::new(Diagnostic::new(origin, error))) }
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

/// A diagnostic moved to the user's call site: the original's words at a new primary label.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct AtCall {
    message: String,
    code: Option<String>,
    help: Option<String>,
    severity: Option<Severity>,
    label: String,
    call: miette::SourceSpan,
}

impl miette::Diagnostic for AtCall {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.code.as_ref().map(|c| Box::new(c) as Box<dyn std::fmt::Display>)
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.call))))
    }
}

/// Drops repeated diagnostics and orders them by file and position, errors and warnings mixed as
/// they appear in the source.
pub fn normalize(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert(d.key()));
    // A block's own mistake (an unknown name) is reported where it is by the block's own check;
    // only what a call causes (a shape that does not fit) needs moving to the call.
    let plain: std::collections::HashSet<_> = diags.iter().filter(|d| d.origin.is_none()).map(|d| d.key()).collect();
    diags.retain(|d| d.origin.as_ref().is_none_or(|o| !plain.contains(&o.key())));
    diags.sort_by_key(|d| (d.file, d.offset().unwrap_or(0)));
    diags
}

/// Attaches the file's text so miette can draw the snippet (`None`: too long a line to draw).
struct WithSource<'a> {
    diag: &'a Diagnostic,
    source: Option<miette::NamedSource<String>>,
    /// The diagnostic's origin, with its own file's text.
    origin: Option<Box<WithSource<'a>>>,
    /// Drawn as the related note of a moved diagnostic: its labels, without repeating the
    /// message, code and help.
    note: Option<String>,
}

impl<'a> WithSource<'a> {
    fn new(diag: &'a Diagnostic, sources: &SourceMap) -> WithSource<'a> {
        let file = sources.get(diag.file);
        let source = long_line_label(diag, &file.text)
            .is_none()
            .then(|| miette::NamedSource::new(file.name.clone(), file.text.to_string()));
        let origin = diag.origin.as_deref().map(|o| {
            let mut view = WithSource::new(o, sources);
            view.note = Some(format!("where it happens, in `{}`", sources.get(o.file).name));
            Box::new(view)
        });
        WithSource { diag, source, origin, note: None }
    }
}

impl std::fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.diag.fmt(f)
    }
}

impl std::fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.note {
            Some(note) => f.write_str(note),
            None => self.diag.error.fmt(f),
        }
    }
}

impl std::error::Error for WithSource<'_> {}

impl miette::Diagnostic for WithSource<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.note.is_none().then(|| self.diag.error.code()).flatten()
    }
    fn severity(&self) -> Option<Severity> {
        if self.note.is_some() { Some(Severity::Advice) } else { self.diag.error.severity() }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.note.is_none().then(|| self.diag.error.help()).flatten()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diag.error.labels()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        match &self.origin {
            Some(origin) => Some(Box::new(std::iter::once(&**origin as &dyn miette::Diagnostic))),
            None => self.diag.error.related(),
        }
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
        let with = WithSource::new(diag, sources);
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &with);
        if let Some(offset) = long_line_label(diag, &file.text) {
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
    /// Where a problem moved to the user's call site really is (a line of a stdlib block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonRelated>,
}

#[derive(Serialize)]
pub struct JsonRelated {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn json_related(origin: &Diagnostic, sources: &SourceMap) -> JsonRelated {
    let label = origin.error.labels().and_then(|mut l| l.next());
    let (line, column) = sources.line_col(origin.file, label.as_ref().map_or(0, |l| l.offset() as u32));
    let message = label.and_then(|l| l.label().map(String::from)).unwrap_or_else(|| origin.error.to_string());
    JsonRelated { file: sources.get(origin.file).name.clone(), line, column, message }
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
                related: d.origin.iter().map(|o| json_related(o, sources)).collect(),
            }
        })
        .collect()
}
