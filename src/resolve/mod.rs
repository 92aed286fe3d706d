//! Stage 2: files → [`Program`]. Loads the root and everything it imports (stdlib modules from
//! the binary, relative files through the [`Host`]), binds each module's names, reports import
//! cycles with their chain, and applies `--profile` and `key=value` overrides to the `train`
//! block. Overrides are parsed as source in a `<command line>` file of their own, so a wrong one
//! is reported at the override itself.

mod error;
pub mod stdlib;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

pub use error::ResolveError;

use crate::check::builtins;
use crate::diag::Diagnostic;
use crate::host::Host;
use crate::ir::{DeclRef, Module, ModuleId, Program};
use crate::suggest;
use crate::syntax::ast::{self, Expr, ExprKind, Field, FieldValue, Ident, Item, Setting, UseSource};
use crate::syntax::span::{FileId, Span};
use crate::syntax::{parse_file, parse_setting};

/// What the command line adds to the source.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub profile: Option<String>,
    /// `key=value` settings, applied after the profile, in order.
    pub overrides: Vec<String>,
}

/// Where a module comes from; two imports of the same key share one module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Std(String),
    Path(PathBuf),
}

/// Resolves the program rooted at `root`. Unreadable roots are reported as diagnostics too, in
/// a `<command line>` file naming the path.
pub fn resolve(host: &dyn Host, root: &Path, options: &Options) -> (Program, Vec<Diagnostic>) {
    let mut resolver =
        Resolver { host, program: Program::default(), diags: Vec::new(), loaded: HashMap::new(), stack: Vec::new() };
    let root_key = Key::Path(normalize(root));
    match host.read_to_string(root) {
        Ok(text) => {
            resolver.program.root = resolver.load(root_key, root.display().to_string(), text);
        }
        Err(e) => {
            let (file, span) = resolver.command_line(&root.display().to_string());
            resolver.diags.push(Diagnostic::new(
                file,
                ResolveError::FileNotFound { path: root.display().to_string(), reason: e.to_string(), at: span.into() },
            ));
        }
    }
    resolver.apply_settings(options);
    (resolver.program, resolver.diags)
}

/// Resolves a program given as text (tests, the fuzzer, editors with unsaved buffers).
pub fn resolve_text(host: &dyn Host, name: &str, text: &str, options: &Options) -> (Program, Vec<Diagnostic>) {
    let mut resolver =
        Resolver { host, program: Program::default(), diags: Vec::new(), loaded: HashMap::new(), stack: Vec::new() };
    resolver.program.root = resolver.load(Key::Path(normalize(Path::new(name))), name.to_string(), text.to_string());
    resolver.apply_settings(options);
    (resolver.program, resolver.diags)
}

struct Resolver<'h> {
    host: &'h dyn Host,
    program: Program,
    diags: Vec<Diagnostic>,
    loaded: HashMap<Key, ModuleId>,
    /// Modules being loaded, for cycle chains.
    stack: Vec<(Key, String)>,
}

impl Resolver<'_> {
    fn error(&mut self, file: FileId, error: ResolveError) {
        self.diags.push(Diagnostic::new(file, error));
    }

    /// A source file holding `text`, so command-line input can be pointed at.
    fn command_line(&mut self, text: &str) -> (FileId, Span) {
        let file = self.program.sources.add("<command line>", text.to_string());
        (file, Span::new(file, 0, text.len()))
    }

    fn load(&mut self, key: Key, name: String, text: String) -> Option<ModuleId> {
        let file = self.program.sources.add(name.clone(), text);
        let source = self.program.sources.get(file).text.clone();
        let ast = match parse_file(&source, file) {
            Ok(ast) => ast,
            Err(e) => {
                self.error_syntax(file, e);
                return None;
            }
        };
        let id = ModuleId(self.program.modules.len());
        let dir = match &key {
            Key::Path(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            Key::Std(_) => PathBuf::new(),
        };
        self.program.modules.push(Module {
            file,
            name: name.clone(),
            ast,
            dir,
            failed_imports: Default::default(),
            scope: HashMap::new(),
        });
        self.loaded.insert(key.clone(), id);
        self.stack.push((key.clone(), name));
        self.bind(id, &key);
        self.stack.pop();
        Some(id)
    }

    fn error_syntax(&mut self, file: FileId, e: crate::syntax::SyntaxError) {
        self.diags.push(Diagnostic::new(file, e));
    }

    /// Builds a module's scope: own declarations, then imports.
    fn bind(&mut self, id: ModuleId, key: &Key) {
        let file = self.program.modules[id.0].file;
        let items = self.program.modules[id.0].ast.items.clone();
        let mut scope: HashMap<String, DeclRef> = HashMap::new();
        let mut first_span: HashMap<String, Span> = HashMap::new();
        let mut first_train: Option<Span> = None;
        let mut failed = std::collections::HashSet::new();
        // Imports bind first, so a local declaration that clashes is the one reported.
        for item in &items {
            let Item::Use(use_) = item else { continue };
            let Some(target) = self.import(id, key, use_) else {
                failed.extend(use_.names.iter().map(|n| n.name.clone()));
                continue;
            };
            for name in &use_.names {
                match self.program.modules[target.0].scope.get(&name.name).copied() {
                    // Only a module's own declarations are importable, not what it imported.
                    Some(decl) if decl.module == target => {
                        self.declare(file, &mut scope, &mut first_span, name, decl);
                    }
                    _ => {
                        failed.insert(name.name.clone());
                        let module = &self.program.modules[target.0];
                        let own: Vec<&str> =
                            module.ast.items.iter().filter_map(|i| i.name()).map(|n| n.name.as_str()).collect();
                        let help = suggest::help(
                            &name.name,
                            own.iter().copied(),
                            format!("`{}` declares: {}", module.name, own.join(", ")),
                        );
                        let module_name = module.name.clone();
                        self.error(
                            file,
                            ResolveError::UnknownImport {
                                module: module_name,
                                name: name.name.clone(),
                                help,
                                at: name.span.into(),
                            },
                        );
                    }
                }
            }
        }
        for (index, item) in items.iter().enumerate() {
            if let Item::Train(train) = item {
                match first_train {
                    Some(first) => {
                        self.error(file, ResolveError::DuplicateTrain { at: train.span.into(), first: first.into() })
                    }
                    None => first_train = Some(train.span),
                }
            }
            // Profiles live in their own namespace (`--profile NAME`).
            if matches!(item, Item::Profile(_)) {
                continue;
            }
            if let Some(name) = item.name() {
                self.declare(file, &mut scope, &mut first_span, name, DeclRef { module: id, item: index });
            }
        }
        self.program.modules[id.0].scope = scope;
        self.program.modules[id.0].failed_imports = failed;
    }

    fn declare(
        &mut self,
        file: FileId,
        scope: &mut HashMap<String, DeclRef>,
        first_span: &mut HashMap<String, Span>,
        name: &Ident,
        decl: DeclRef,
    ) {
        if let Some(first) = first_span.get(&name.name) {
            self.error(
                file,
                ResolveError::Duplicate { name: name.name.clone(), at: name.span.into(), first: (*first).into() },
            );
            return;
        }
        first_span.insert(name.name.clone(), name.span);
        scope.insert(name.name.clone(), decl);
    }

    /// Loads the module a `use` names; `None` when it cannot be loaded (reported).
    fn import(&mut self, from: ModuleId, from_key: &Key, use_: &ast::Use) -> Option<ModuleId> {
        let file = self.program.modules[from.0].file;
        let (key, name) = match &use_.source {
            UseSource::Std(name) => (Key::Std(name.clone()), name.clone()),
            UseSource::Relative(rel) => {
                let base = match from_key {
                    Key::Path(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
                    // A stdlib module importing by path would escape the binary.
                    Key::Std(_) => PathBuf::new(),
                };
                (Key::Path(normalize(&base.join(rel))), rel.clone())
            }
        };
        if let Some(pos) = self.stack.iter().position(|(k, _)| *k == key) {
            // Files by normalised path, so each appears under one name however it was imported.
            let show = |k: &Key| match k {
                Key::Std(n) => n.clone(),
                Key::Path(p) => p.display().to_string(),
            };
            let mut chain: Vec<String> = self.stack[pos..].iter().map(|(k, _)| show(k)).collect();
            chain.push(show(&key));
            self.error(file, ResolveError::ImportCycle { chain: chain.join(" → "), at: use_.source_span.into() });
            return None;
        }
        if let Some(id) = self.loaded.get(&key) {
            return Some(*id);
        }
        let text = match &key {
            Key::Std(std_name) => match stdlib::get(std_name) {
                Some(text) => text.to_string(),
                None => {
                    let names = stdlib::MODULES.iter().map(|(n, _)| *n);
                    let help = suggest::help(
                        std_name,
                        names,
                        format!(
                            "the stdlib has {}",
                            stdlib::MODULES.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    self.error(
                        file,
                        ResolveError::UnknownModule { name: std_name.clone(), help, at: use_.source_span.into() },
                    );
                    return None;
                }
            },
            Key::Path(path) => match self.host.read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    self.error(
                        file,
                        ResolveError::FileNotFound {
                            path: path.display().to_string(),
                            reason: e.to_string(),
                            at: use_.source_span.into(),
                        },
                    );
                    return None;
                }
            },
        };
        self.load(key, name, text)
    }

    /// Applies the profile, then each override, to the root's `train` block.
    fn apply_settings(&mut self, options: &Options) {
        let Some(root) = self.program.root else { return };
        let module = &self.program.modules[root.0];
        let mut train = module.ast.items.iter().find_map(|i| match i {
            Item::Train(t) => Some(t.clone()),
            _ => None,
        });
        let profiles: Vec<ast::Profile> = module
            .ast
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Profile(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        let root_file = module.file;
        // Every profile's paths are checked, selected or not, so a stale profile is caught early.
        for profile in &profiles {
            let mut scratch = train.clone();
            for setting in &profile.settings {
                self.apply(root_file, &mut scratch, setting);
            }
            if options.profile.as_deref() != Some(profile.name.name.as_str()) {
                self.program.profile_trains.extend(scratch);
            }
        }
        if let Some(name) = &options.profile {
            match profiles.iter().find(|p| p.name.name == *name) {
                Some(profile) => {
                    let mut quiet = Vec::new();
                    std::mem::swap(&mut quiet, &mut self.diags);
                    for setting in &profile.settings {
                        self.apply(root_file, &mut train, setting);
                    }
                    // Path errors were already reported by the pass above.
                    self.diags = quiet;
                    self.program.profile = Some(name.clone());
                }
                None => {
                    let (file, span) = self.command_line(&format!("--profile {name}"));
                    let at = Span::new(file, 10, span.end as usize);
                    let help = suggest::help(
                        name,
                        profiles.iter().map(|p| p.name.name.as_str()),
                        if profiles.is_empty() {
                            "this file declares no `profile` blocks".to_string()
                        } else {
                            format!(
                                "profiles: {}",
                                profiles.iter().map(|p| format!("`{}`", p.name.name)).collect::<Vec<_>>().join(", ")
                            )
                        },
                    );
                    self.error(file, ResolveError::UnknownProfile { name: name.clone(), help, at: at.into() });
                }
            }
        }
        for text in &options.overrides {
            let (file, _) = self.command_line(text);
            match parse_setting(text, file) {
                Ok(setting) => self.apply(file, &mut train, &setting),
                Err(e) => self.error_syntax(file, e),
            }
        }
        self.program.train = train;
    }

    fn apply(&mut self, file: FileId, train: &mut Option<ast::Train>, setting: &Setting) {
        let path_text = setting.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
        let Some(train) = train else {
            self.error(file, ResolveError::NoTrain { path: path_text, at: setting.span.into() });
            return;
        };
        let mut path: &[Ident] = &setting.path;
        if path.len() > 1 && path[0].name == "train" {
            path = &path[1..];
        }
        if let Err((at, reason, help)) = set_field(&mut train.fields, path, &setting.value) {
            self.error(file, ResolveError::BadOverridePath { path: path_text, reason, help, at: at.into() });
        }
    }
}

type SetError = (Span, String, String);

/// Sets `path = value` inside a record's fields, creating the last key if needed.
fn set_field(fields: &mut Vec<Field>, path: &[Ident], value: &Expr) -> Result<(), SetError> {
    let (key, rest) = match path {
        [key, rest @ ..] => (key, rest),
        [] => return Ok(()),
    };
    let existing = fields.iter().position(|f| f.key.name == key.name);
    if rest.is_empty() {
        let field = Field { key: key.clone(), value: FieldValue::Expr(value.clone()), span: value.span };
        match existing {
            Some(i) => fields[i] = field,
            None => fields.push(field),
        }
        return Ok(());
    }
    let index = match existing {
        Some(i) => i,
        // A nested record the file left out (`checkpoint.keep=3`) is created; the checker then
        // validates its keys like any other.
        None if ["checkpoint", "early_stop", "ema"].contains(&key.name.as_str()) => {
            fields.push(Field { key: key.clone(), value: FieldValue::Record(Vec::new()), span: key.span });
            fields.len() - 1
        }
        None => {
            let keys: Vec<&str> = fields.iter().map(|f| f.key.name.as_str()).collect();
            let help = suggest::help(
                &key.name,
                keys.iter().copied().chain(builtins::TRAIN_KEYS.iter().copied()),
                format!("set the whole `{}` first, in the file", key.name),
            );
            return Err((key.span, format!("`{}` is not set", key.name), help));
        }
    };
    match &mut fields[index].value {
        FieldValue::Record(inner) => set_field(inner, rest, value),
        FieldValue::Expr(expr) => set_in_expr(expr, rest, value),
    }
}

/// Sets `rest = value` inside an expression: a named argument of a call, or an option of a
/// `name { … }` record.
fn set_in_expr(expr: &mut Expr, rest: &[Ident], value: &Expr) -> Result<(), SetError> {
    if let ExprKind::Name(_) = expr.kind {
        // `data = fashion` gains options: `data = fashion { batch = 32 }`.
        let base = expr.clone();
        expr.kind = ExprKind::Record { base: Box::new(base), fields: Vec::new() };
    }
    match &mut expr.kind {
        ExprKind::Record { fields, .. } => set_field(fields, rest, value),
        ExprKind::Call { callee, args } if rest.len() == 1 => {
            let name = &rest[0];
            if let Some(arg) = args.iter_mut().find(|a| a.name.as_ref().is_some_and(|n| n.name == name.name)) {
                arg.value = value.clone();
                return Ok(());
            }
            // A positional argument may stand for the parameter (`sgd(0.1)` then `lr=0.2`).
            let position = builtins::BUILTINS
                .iter()
                .filter(|b| b.name == callee.name)
                .find_map(|b| b.params.iter().position(|p| p.name == name.name));
            if let Some(pos) = position
                && let Some(arg) = args.get_mut(pos).filter(|a| a.name.is_none())
            {
                arg.value = value.clone();
                return Ok(());
            }
            args.push(ast::Arg { name: Some(name.clone()), value: value.clone() });
            Ok(())
        }
        _ => {
            let at = rest.first().map_or(expr.span, |i| i.span);
            Err((
                at,
                format!(
                    "{} has no settable `{}`",
                    expr.describe(),
                    rest.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".")
                ),
                "override the whole value instead".to_string(),
            ))
        }
    }
}

/// Lexically normalises `a/./b/../c` to `a/c` (no file-system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
