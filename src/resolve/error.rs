use miette::{Diagnostic, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum ResolveError {
    #[error("there is no stdlib module `{name}`")]
    #[diagnostic(code(trainc::resolve::unknown_module), help("{help}"))]
    UnknownModule {
        name: String,
        help: String,
        #[label("not a stdlib module")]
        at: SourceSpan,
    },

    #[error("cannot read `{path}`: {reason}")]
    #[diagnostic(
        code(trainc::resolve::file_not_found),
        help("relative imports are resolved from the importing file's folder")
    )]
    FileNotFound {
        path: String,
        reason: String,
        #[label("imported here")]
        at: SourceSpan,
    },

    #[error("import cycle: {chain}")]
    #[diagnostic(
        code(trainc::resolve::import_cycle),
        help("move what both files need into a third file that imports neither")
    )]
    ImportCycle {
        chain: String,
        #[label("this import closes the cycle")]
        at: SourceSpan,
    },

    #[error("`{module}` has no `{name}`")]
    #[diagnostic(code(trainc::resolve::unknown_import), help("{help}"))]
    UnknownImport {
        module: String,
        name: String,
        help: String,
        #[label("not declared in `{module}`")]
        at: SourceSpan,
    },

    #[error("`{name}` is declared twice")]
    #[diagnostic(code(trainc::resolve::duplicate), help("rename one of them; every name in a file must be unique"))]
    Duplicate {
        name: String,
        #[label("declared again here")]
        at: SourceSpan,
        #[label("first declared here")]
        first: SourceSpan,
    },

    #[error("more than one `train` block")]
    #[diagnostic(
        code(trainc::resolve::duplicate_train),
        help("a file trains one model; use `profile` blocks for variants")
    )]
    DuplicateTrain {
        #[label("second `train` block")]
        at: SourceSpan,
        #[label("first `train` block")]
        first: SourceSpan,
    },

    #[error("there is no profile `{name}`")]
    #[diagnostic(code(trainc::resolve::unknown_profile), help("{help}"))]
    UnknownProfile {
        name: String,
        help: String,
        #[label("no such profile")]
        at: SourceSpan,
    },

    #[error("cannot set `{path}`: {reason}")]
    #[diagnostic(code(trainc::overrides::bad_path), help("{help}"))]
    BadOverridePath {
        path: String,
        reason: String,
        help: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("there is no `train` block to apply `{path}` to")]
    #[diagnostic(code(trainc::overrides::no_train), help("overrides and profiles change the `train` block; add one"))]
    NoTrain {
        path: String,
        #[label("nothing to override")]
        at: SourceSpan,
    },
}
