//! [`Program`]: the resolver's output. Every file is parsed, every `use` is bound, the selected
//! profile and the command-line overrides are applied to the `train` block, and each module has a
//! scope from names to declarations. Nothing is type-checked yet.

use std::collections::HashMap;

use crate::syntax::ast;
use crate::syntax::span::{FileId, SourceMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub usize);

/// Where a declaration lives: a module and the index of the item in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclRef {
    pub module: ModuleId,
    pub item: usize,
}

#[derive(Clone, Debug)]
pub struct Module {
    pub file: FileId,
    /// `std/backbones` or the path as imported.
    pub name: String,
    pub ast: ast::File,
    /// The folder relative paths in this module start from (empty for the stdlib).
    pub dir: std::path::PathBuf,
    /// Names whose import failed (reported once by the resolver; later uses stay quiet).
    pub failed_imports: std::collections::HashSet<String>,
    /// Own declarations and imported names.
    pub scope: HashMap<String, DeclRef>,
}

#[derive(Clone, Debug, Default)]
pub struct Program {
    pub sources: SourceMap,
    pub modules: Vec<Module>,
    /// The file given on the command line; `None` when it could not be read or parsed.
    pub root: Option<ModuleId>,
    /// The root's `train` block with the profile and overrides applied.
    pub train: Option<ast::Train>,
    /// Every profile applied on its own to the root's `train` block, so profiles that are not
    /// selected are still type-checked.
    pub profile_trains: Vec<ast::Train>,
    /// The profile that was applied, if any.
    pub profile: Option<String>,
}

impl Program {
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0]
    }

    pub fn item(&self, decl: DeclRef) -> &ast::Item {
        &self.modules[decl.module.0].ast.items[decl.item]
    }

    pub fn lookup(&self, module: ModuleId, name: &str) -> Option<DeclRef> {
        self.modules[module.0].scope.get(name).copied()
    }

    /// Every declaration of every module, in load order.
    pub fn decls(&self) -> impl Iterator<Item = (DeclRef, &ast::Item)> {
        self.modules.iter().enumerate().flat_map(|(m, module)| {
            module.ast.items.iter().enumerate().map(move |(i, item)| (DeclRef { module: ModuleId(m), item: i }, item))
        })
    }

    /// Names visible in a module, sorted, for did-you-mean.
    pub fn names_in_scope(&self, module: ModuleId) -> Vec<&str> {
        let mut names: Vec<&str> = self.modules[module.0].scope.keys().map(String::as_str).collect();
        names.sort();
        names
    }
}
