//! One checked document and what the editor features look up in it: which file each source is
//! served as, line indexes, and every name occurrence with what it refers to.
//!
//! Occurrences are collected from the syntax tree of every module the program loaded (so
//! references into an imported file or the stdlib are found too). Pipes are desugared in the
//! tree, so `x |> conv2d(64)` is one call whose span covers the pipe: the same span the checker
//! gives the layer's node, which is how hover finds a node's shape and module path.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::position::{Encoding, LineIndex};
use super::uri;
use crate::check::builtins::{self, BUILTINS};
use crate::frontend::{self, Options, Outcome};
use crate::host::Host;
use crate::ir::{DeclRef, ModuleId, Program};
use crate::syntax::ast::{Expr, ExprKind, Field, FieldValue, Item, Stmt, Type, UseSource};
use crate::syntax::span::{FileId, Span};

/// What a name refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A dataset, augment, block or model.
    Decl(DeclRef),
    /// A parameter or a binding in a model or block body, by its definition's span.
    Local(Span),
    Builtin(&'static str),
    /// The `std/…` or `"file.train"` of a `use`.
    Module(Option<ModuleId>),
    /// A record key (`epochs`, `batch`) or a named argument (`k = 3`): nothing to jump to.
    Key,
    /// An unknown name (the checker reported it).
    Unknown,
}

/// A name in the source.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub span: Span,
    pub name: String,
    pub target: Target,
    /// This occurrence declares the name.
    pub def: bool,
    /// The whole call when the name is a callee (its span is the layer node's span).
    pub call: Option<Span>,
}

/// A checked document.
pub struct Analysis {
    pub path: PathBuf,
    pub outcome: Outcome,
    files: Vec<Option<PathBuf>>,
    lines: Vec<LineIndex>,
    pub occurrences: Vec<Occurrence>,
}

/// The root file: `resolve_text` adds it first.
pub const ROOT: FileId = FileId(0);

impl Analysis {
    pub fn new(host: &dyn Host, path: &Path, text: &str, options: &Options, stdlib_dir: &Path) -> Analysis {
        let outcome = frontend::check_text(host, &path.display().to_string(), text, options);
        let files = file_paths(&outcome.program, path, stdlib_dir);
        let lines =
            (0..files.len()).map(|i| LineIndex::new(&outcome.program.sources.get(FileId(i as u32)).text)).collect();
        let mut occurrences = Vec::new();
        for (m, module) in outcome.program.modules.iter().enumerate() {
            let mut index = Indexer { program: &outcome.program, module: ModuleId(m), out: &mut occurrences };
            for (i, item) in module.ast.items.iter().enumerate() {
                index.item(item, DeclRef { module: ModuleId(m), item: i });
            }
        }
        Analysis { path: path.to_path_buf(), outcome, files, lines, occurrences }
    }

    pub fn program(&self) -> &Program {
        &self.outcome.program
    }

    /// Whether the document itself parsed.
    pub fn parsed(&self) -> bool {
        self.outcome.program.root.is_some()
    }

    /// The file a source is served as (`None` for `<command line>`).
    pub fn file_path(&self, file: FileId) -> Option<&Path> {
        self.files.get(file.0 as usize).and_then(|p| p.as_deref())
    }

    /// The source loaded from `path`, if this program loaded it.
    pub fn file_id(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|p| p.as_deref() == Some(path)).map(|i| FileId(i as u32))
    }

    pub fn text(&self, file: FileId) -> &str {
        &self.outcome.program.sources.get(file).text
    }

    pub fn range(&self, span: Span, encoding: Encoding) -> lsp_types::Range {
        let text = self.text(span.file);
        self.lines[span.file.0 as usize].range(text, span.start as usize, span.end as usize, encoding)
    }

    pub fn location(&self, span: Span, encoding: Encoding) -> Option<lsp_types::Location> {
        let path = self.file_path(span.file)?;
        Some(lsp_types::Location { uri: uri::from_path(path), range: self.range(span, encoding) })
    }

    pub fn offset(&self, file: FileId, position: lsp_types::Position, encoding: Encoding) -> usize {
        self.lines[file.0 as usize].offset(self.text(file), position, encoding)
    }

    /// The innermost occurrence at a byte offset of a file (its end included, for a cursor
    /// just after a name).
    pub fn occurrence_at(&self, file: FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.span.file == file && (o.span.start as usize) <= offset && offset <= o.span.end as usize)
            .min_by_key(|o| o.span.len())
    }

    /// Where a target is defined.
    pub fn definition(&self, target: &Target) -> Option<Span> {
        match target {
            Target::Decl(decl) => self.program().item(*decl).name().map(|n| n.span),
            Target::Local(span) => Some(*span),
            Target::Module(Some(m)) => Some(Span::new(self.program().module(*m).file, 0, 0)),
            _ => None,
        }
    }
}

/// Which file each source of a program is: the document, a stdlib copy, an imported file.
fn file_paths(program: &Program, root: &Path, stdlib_dir: &Path) -> Vec<Option<PathBuf>> {
    let sources = &program.sources;
    let mut files: Vec<Option<PathBuf>> = (0..sources.len())
        .map(|i| {
            let name = &sources.get(FileId(i as u32)).name;
            if i == 0 {
                Some(root.to_path_buf())
            } else if name.starts_with("std/") {
                Some(uri::stdlib_path(stdlib_dir, name))
            } else if name == "<command line>" {
                None
            } else {
                Some(root.parent().unwrap_or(Path::new("")).join(name))
            }
        })
        .collect();
    for module in &program.modules {
        let slot = &mut files[module.file.0 as usize];
        if module.file != ROOT && !module.name.starts_with("std/") {
            *slot = Path::new(&module.name).file_name().map(|f| module.dir.join(f));
        }
    }
    files
}

/// Collects the occurrences of one module.
struct Indexer<'a> {
    program: &'a Program,
    module: ModuleId,
    out: &'a mut Vec<Occurrence>,
}

impl Indexer<'_> {
    fn push(&mut self, span: Span, name: &str, target: Target, def: bool) {
        self.out.push(Occurrence { span, name: name.to_string(), target, def, call: None });
    }

    fn item(&mut self, item: &Item, decl: DeclRef) {
        if let (Some(name), false) = (item.name(), matches!(item, Item::Profile(_))) {
            self.push(name.span, &name.name, Target::Decl(decl), true);
        }
        let none = HashMap::new();
        match item {
            Item::Use(u) => self.use_(u),
            Item::Dataset(d) => {
                self.expr(&d.source, &none);
                self.fields(&d.fields, &none);
            }
            Item::Augment(a) => a.steps.iter().for_each(|s| self.expr(s, &none)),
            Item::Graph(g) => {
                let mut locals = HashMap::new();
                for p in &g.params {
                    self.push(p.name.span, &p.name.name, Target::Local(p.name.span), true);
                    if let Some(default) = &p.default {
                        self.expr(default, &locals);
                    }
                    if let Type::Tensor(t) = &p.ty {
                        t.dims.iter().for_each(|d| self.expr(d, &none));
                    }
                    locals.insert(p.name.name.clone(), p.name.span);
                }
                for stmt in &g.body {
                    match stmt {
                        Stmt::Let { names, value, .. } => {
                            self.expr(value, &locals);
                            for n in names {
                                self.push(n.span, &n.name, Target::Local(n.span), true);
                                locals.insert(n.name.clone(), n.span);
                            }
                        }
                        Stmt::Return { value, .. } => self.expr(value, &locals),
                        Stmt::Param { name, ty, .. } => {
                            ty.dims.iter().for_each(|d| self.expr(d, &locals));
                            self.push(name.span, &name.name, Target::Local(name.span), true);
                            locals.insert(name.name.clone(), name.span);
                        }
                    }
                }
            }
            Item::Train(t) => self.fields(&t.fields, &none),
            Item::Profile(p) => {
                for s in &p.settings {
                    s.path.iter().for_each(|k| self.push(k.span, &k.name, Target::Key, false));
                    self.expr(&s.value, &none);
                }
            }
            // The search space's calls (`log`, `int`, …) are the sweep's own words, not declarations.
            Item::Sweep(sw) => {
                for s in &sw.settings {
                    s.path.iter().for_each(|k| self.push(k.span, &k.name, Target::Key, false));
                }
            }
        }
    }

    fn use_(&mut self, u: &crate::syntax::ast::Use) {
        let key = match &u.source {
            UseSource::Std(name) => name.clone(),
            UseSource::Relative(rel) => rel.clone(),
        };
        let target = self.program.modules.iter().position(|m| m.name == key).map(ModuleId);
        self.push(u.source_span, &key, Target::Module(target), false);
        for name in &u.names {
            let target = self.program.lookup(self.module, &name.name).map_or(Target::Unknown, Target::Decl);
            self.push(name.span, &name.name, target, false);
        }
    }

    fn fields(&mut self, fields: &[Field], locals: &HashMap<String, Span>) {
        for f in fields {
            self.push(f.key.span, &f.key.name, Target::Key, false);
            match &f.value {
                FieldValue::Expr(e) => self.expr(e, locals),
                FieldValue::Record(inner) => self.fields(inner, locals),
            }
        }
    }

    fn name_target(&self, name: &str, locals: &HashMap<String, Span>) -> Target {
        if let Some(span) = locals.get(name) {
            return Target::Local(*span);
        }
        if let Some(decl) = self.program.lookup(self.module, name) {
            return Target::Decl(decl);
        }
        match BUILTINS.iter().find(|b| b.name == name) {
            Some(b) => Target::Builtin(b.name),
            None if builtins::SYMBOLS.contains(&name) => Target::Key,
            None => Target::Unknown,
        }
    }

    fn expr(&mut self, expr: &Expr, locals: &HashMap<String, Span>) {
        match &expr.kind {
            ExprKind::Name(id) => {
                let target = self.name_target(&id.name, locals);
                self.push(id.span, &id.name, target, false);
            }
            ExprKind::Call { callee, args } => {
                let target = self.name_target(&callee.name, locals);
                self.out.push(Occurrence {
                    span: callee.span,
                    name: callee.name.clone(),
                    target,
                    def: false,
                    call: Some(expr.span),
                });
                for a in args {
                    if let Some(n) = &a.name {
                        self.push(n.span, &n.name, Target::Key, false);
                    }
                    self.expr(&a.value, locals);
                }
            }
            ExprKind::Member { base, .. } => self.expr(base, locals),
            ExprKind::Record { base, fields } => {
                self.expr(base, locals);
                self.fields(fields, locals);
            }
            ExprKind::List(items) => items.iter().for_each(|e| self.expr(e, locals)),
            ExprKind::Tuple(items) => items.iter().for_each(|(_, e)| self.expr(e, locals)),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Then(lhs, rhs) => {
                self.expr(lhs, locals);
                self.expr(rhs, locals);
            }
            ExprKind::Neg(inner) => self.expr(inner, locals),
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => {}
        }
    }
}
