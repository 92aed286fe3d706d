//! What can be wrong with a sweep before any trial runs. Each error points into the source the
//! value was written in: the `.train` file's `sweep` block or the `<command line>`.

use miette::{Diagnostic, NamedSource, SourceSpan};

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SweepError {
    #[error("`{arg}` is not `path=values`")]
    #[diagnostic(code(trainc::sweep::setting), help("e.g. `optimizer.lr=1e-4,1e-3` or `data.batch=int(16,128)`"))]
    NotASetting {
        arg: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("not a setting")]
        at: SourceSpan,
    },

    #[error("`{path}` has an empty value")]
    #[diagnostic(code(trainc::sweep::empty_value), help("remove the extra comma"))]
    EmptyValue {
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("empty")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::sweep::domain), help("{help}"))]
    BadDomain {
        message: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    },

    #[error("{message}")]
    #[diagnostic(code(trainc::sweep::option), help("{help}"))]
    BadOption {
        message: String,
        help: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        at: SourceSpan,
    },

    /// A value of a dimension with which the program does not check.
    #[error("`{path}={value}` does not check: {reason}")]
    #[diagnostic(
        code(trainc::sweep::invalid_value),
        help("remove or change this value; `trainc check FILE {path}={value}` shows every error")
    )]
    InvalidValue {
        path: String,
        value: String,
        reason: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("this value")]
        at: SourceSpan,
    },

    #[error("the grid sampler needs a list of values for `{path}`")]
    #[diagnostic(
        code(trainc::sweep::grid_range),
        help("write the values (`{path}=1,2,3`), or search the range with `--sampler random` or `tpe`")
    )]
    GridNeedsValues {
        path: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("a range")]
        at: SourceSpan,
    },
}
