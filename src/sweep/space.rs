//! The search space of a sweep and its options.
//!
//! On the command line a dimension is `path=VALUES`, in Hydra's syntax where it fits:
//! `a,b,c` (a list: the grid's values, or a categorical choice for random and TPE), `log(lo,hi)`
//! (log-uniform), `uniform(lo,hi)`, `int(lo,hi)` (integers, uniform; `int(lo,hi,log=true)`) and
//! `choice(a,b)`. A `path=value` with one plain value is a fixed override, applied to every
//! trial. In a file, `sweep(options) { path = SPACE … }` writes the same spaces, a list as
//! `[a, b, c]`; command-line dimensions replace the file's dimension of the same path.
//!
//! Every value keeps its text (what the trial's override says) and where it was written, so a
//! value that breaks the check is reported at that value.

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::syntax::ast::{self, Expr, ExprKind};
use crate::syntax::parse_expr;
use crate::syntax::span::FileId;

/// Where the dimensions were written: the `.train` file or the command line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// The command line as one source: the sweep's `path=values` arguments joined by spaces.
    pub fn command_line(args: &[String]) -> Source {
        Source { name: "<command line>".into(), text: args.join(" ") }
    }

    pub fn named(&self) -> miette::NamedSource<String> {
        miette::NamedSource::new(self.name.clone(), self.text.clone())
    }
}

/// One value as written, and where: byte offsets into its [`Source`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Value {
    pub text: String,
    pub source: usize,
    pub start: usize,
    pub end: usize,
}

impl Value {
    pub fn number(&self) -> Option<f64> {
        self.text.trim().replace('_', "").parse().ok()
    }

    pub fn span(&self) -> miette::SourceSpan {
        (self.start, self.end.saturating_sub(self.start)).into()
    }
}

/// What a dimension ranges over.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Domain {
    /// `a,b,c`, `[a, b, c]` or `choice(a, b)`: the grid's values, a categorical for random and TPE.
    Choice { values: Vec<Value> },
    /// `uniform(lo, hi)` or `log(lo, hi)`.
    Float { lo: Value, hi: Value, log: bool },
    /// `int(lo, hi)`, `int(lo, hi, log = true)`.
    Int { lo: Value, hi: Value, log: bool },
}

impl Domain {
    /// The values a check must see before trial 1: every choice, or both ends of a range.
    pub fn probes(&self) -> Vec<&Value> {
        match self {
            Domain::Choice { values } => values.iter().collect(),
            Domain::Float { lo, hi, .. } | Domain::Int { lo, hi, .. } => vec![lo, hi],
        }
    }

    /// The bounds in the sampler's coordinates (logarithms for `log`; an integer range widened
    /// by half a step so its ends are as likely as its middle; indices for choices).
    pub fn bounds(&self) -> (f64, f64) {
        let num = |v: &Value| v.number().unwrap_or(0.0);
        match self {
            Domain::Choice { values } => (0.0, values.len() as f64),
            Domain::Float { lo, hi, log: true } => (num(lo).ln(), num(hi).ln()),
            Domain::Float { lo, hi, log: false } => (num(lo), num(hi)),
            Domain::Int { lo, hi, log: true } => ((num(lo) - 0.5).max(0.5).ln(), (num(hi) + 0.5).ln()),
            Domain::Int { lo, hi, log: false } => (num(lo) - 0.5, num(hi) + 0.5),
        }
    }

    /// The override text and the exact coordinate of a sampled coordinate (rounded to what the
    /// text says, so the history holds what ran).
    pub fn value_at(&self, coord: f64) -> (String, f64) {
        let (lo, hi) = self.bounds();
        let c = coord.clamp(lo, hi);
        match self {
            Domain::Choice { values } => {
                let i = (c.floor() as usize).min(values.len().saturating_sub(1));
                (values[i].text.clone(), i as f64)
            }
            Domain::Float { log, .. } => {
                let x = if *log { c.exp() } else { c };
                let text = format!("{x:.4e}");
                let x: f64 = text.parse().unwrap_or(x);
                (text, if *log { x.ln() } else { x })
            }
            Domain::Int { lo: l, hi: h, log } => {
                let x = if *log { c.exp() } else { c };
                let (l, h) = (l.number().unwrap_or(0.0), h.number().unwrap_or(0.0));
                let n = x.round().clamp(l, h);
                (format!("{}", n as i64), if *log { n.ln() } else { n })
            }
        }
    }

    /// A value for plots: the number itself, or a choice's index.
    pub fn plot_value(&self, coord: f64) -> f64 {
        match self {
            Domain::Choice { .. } => coord,
            Domain::Float { log, .. } | Domain::Int { log, .. } => {
                if *log {
                    coord.exp()
                } else {
                    coord
                }
            }
        }
    }
}

/// One swept key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Dim {
    /// `optimizer.lr`.
    pub path: String,
    pub domain: Domain,
}

/// The sweep's options; unset ones take their defaults when the command resolves them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Options {
    pub trials: Option<usize>,
    pub sampler: Option<String>,
    pub objective: Option<String>,
    pub prune: Option<String>,
    pub jobs: Option<usize>,
    pub seed: Option<u64>,
}

impl Options {
    /// The command line's options over the file's.
    pub fn or(self, file: Options) -> Options {
        Options {
            trials: self.trials.or(file.trials),
            sampler: self.sampler.or(file.sampler),
            objective: self.objective.or(file.objective),
            prune: self.prune.or(file.prune),
            jobs: self.jobs.or(file.jobs),
            seed: self.seed.or(file.seed),
        }
    }
}

/// The option names of `sweep(…)`.
pub const OPTIONS: &[&str] = &["trials", "sampler", "objective", "prune", "jobs", "seed"];
pub const SAMPLERS: &[&str] = &["grid", "random", "tpe"];
pub const PRUNERS: &[&str] = &["median", "asha", "none"];

/// The dimensions, the fixed overrides written among them, and their sources.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Space {
    pub dims: Vec<Dim>,
    /// `path=value` settings with one plain value: applied to every trial.
    pub fixed: Vec<String>,
    pub sources: Vec<Source>,
}

impl Space {
    /// The number of grid points, when every dimension is a choice.
    pub fn grid_size(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |n, d| match &d.domain {
            Domain::Choice { values } => Some(n.saturating_mul(values.len())),
            _ => None,
        })
    }

    /// Adds `other`'s dimensions (replacing those of the same path) and fixed overrides.
    pub fn merge(&mut self, other: Space) {
        let offset = self.sources.len();
        self.sources.extend(other.sources);
        for mut dim in other.dims {
            shift(&mut dim.domain, offset);
            match self.dims.iter_mut().find(|d| d.path == dim.path) {
                Some(d) => *d = dim,
                None => self.dims.push(dim),
            }
        }
        self.fixed.extend(other.fixed);
    }

    /// The dimensions of `trainc sweep FILE path=values …`.
    pub fn from_args(args: &[String]) -> Result<Space, Vec<SweepError>> {
        let source = Source::command_line(args);
        let mut space = Space::default();
        let mut errors = Vec::new();
        let mut offset = 0;
        for arg in args {
            match arg_dim(arg, offset, &source) {
                Ok(Some(dim)) => space.dims.push(dim),
                Ok(None) => space.fixed.push(arg.clone()),
                Err(e) => errors.push(*e),
            }
            offset += arg.len() + 1;
        }
        space.sources.push(source);
        if errors.is_empty() { Ok(space) } else { Err(errors) }
    }

    /// The dimensions and options of a file's `sweep` block (`text` is the file's text).
    pub fn from_block(block: &ast::Sweep, name: &str, text: &str) -> Result<(Space, Options), Vec<SweepError>> {
        let source = Source { name: name.into(), text: text.into() };
        let mut errors = Vec::new();
        let options = block_options(block, &source, &mut errors);
        let mut space = Space::default();
        for setting in &block.settings {
            let path = setting.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
            let value = &setting.value;
            let dim = match &value.kind {
                ExprKind::List(items) => {
                    Ok(Some(Domain::Choice { values: items.iter().map(|e| file_value(e, text)).collect() }))
                }
                ExprKind::Call { callee, args } if is_domain(&callee.name) => {
                    let values: Vec<(Option<String>, Value)> = args
                        .iter()
                        .map(|a| (a.name.as_ref().map(|n| n.name.clone()), file_value(&a.value, text)))
                        .collect();
                    domain(&callee.name, values, file_value(value, text), &source).map(Some)
                }
                _ => Ok(None),
            };
            match dim {
                Ok(Some(domain)) => space.dims.push(Dim { path, domain }),
                Ok(None) => space.fixed.push(format!("{path}={}", slice(text, value))),
                Err(e) => errors.push(*e),
            }
        }
        space.sources.push(source);
        if errors.is_empty() { Ok((space, options)) } else { Err(errors) }
    }
}

fn shift(domain: &mut Domain, offset: usize) {
    match domain {
        Domain::Choice { values } => values.iter_mut().for_each(|v| v.source += offset),
        Domain::Float { lo, hi, .. } | Domain::Int { lo, hi, .. } => {
            lo.source += offset;
            hi.source += offset;
        }
    }
}

fn is_domain(name: &str) -> bool {
    matches!(name, "log" | "uniform" | "int" | "choice")
}

fn slice<'a>(text: &'a str, e: &Expr) -> &'a str {
    text.get(e.span.start as usize..e.span.end as usize).unwrap_or_default()
}

fn file_value(e: &Expr, text: &str) -> Value {
    Value { text: slice(text, e).to_string(), source: 0, start: e.span.start as usize, end: e.span.end as usize }
}

/// `a,b` split at the commas outside brackets and strings, with each piece's offset.
fn split_top(text: &str) -> Vec<(usize, &str)> {
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut out = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push((start, &text[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, &text[start..]));
    out
}

/// One command-line argument: a dimension, or `None` for a fixed override.
fn arg_dim(arg: &str, offset: usize, source: &Source) -> Result<Option<Dim>, Box<SweepError>> {
    let Some((path, values)) = arg.split_once('=') else {
        return Err(Box::new(SweepError::NotASetting {
            arg: arg.into(),
            src: source.named(),
            at: (offset, arg.len()).into(),
        }));
    };
    let base = offset + path.len() + 1;
    let pieces = split_top(values);
    let value = |(at, text): (usize, &str)| Value {
        text: text.trim().into(),
        source: 0,
        start: base + at,
        end: base + at + text.len(),
    };
    if pieces.len() > 1 {
        let values: Vec<Value> = pieces.into_iter().map(value).collect();
        if let Some(empty) = values.iter().find(|v| v.text.is_empty()) {
            return Err(Box::new(SweepError::EmptyValue { path: path.into(), src: source.named(), at: empty.span() }));
        }
        return Ok(Some(Dim { path: path.into(), domain: Domain::Choice { values } }));
    }
    // One piece: a distribution call, or a plain value (a fixed override).
    let Ok(expr) = parse_expr(values, FileId(0)) else { return Ok(None) };
    let ExprKind::Call { callee, args } = &expr.kind else { return Ok(None) };
    if !is_domain(&callee.name) {
        return Ok(None);
    }
    let at = |e: &Expr| (e.span.start as usize, slice(values, e));
    let args: Vec<(Option<String>, Value)> =
        args.iter().map(|a| (a.name.as_ref().map(|n| n.name.clone()), value(at(&a.value)))).collect();
    let whole = value((0, values));
    domain(&callee.name, args, whole, source).map(|domain| Some(Dim { path: path.into(), domain }))
}

/// A distribution call's domain, its bounds checked: numbers, `lo < hi`, a positive `lo` for a
/// log scale, integers for `int`.
fn domain(
    name: &str,
    args: Vec<(Option<String>, Value)>,
    whole: Value,
    source: &Source,
) -> Result<Domain, Box<SweepError>> {
    let bad = |at: &Value, message: String, help: &str| {
        Box::new(SweepError::BadDomain { message, help: help.into(), src: source.named(), at: at.span() })
    };
    let mut log = name == "log";
    let mut positional = Vec::new();
    for (key, value) in args {
        match key.as_deref() {
            None => positional.push(value),
            Some("log") if name == "int" => log = value.text == "true",
            Some(other) => {
                return Err(bad(
                    &value,
                    format!("`{name}` has no option `{other}`"),
                    "only `int(lo, hi, log = true)` takes one",
                ));
            }
        }
    }
    if name == "choice" {
        if positional.is_empty() {
            return Err(bad(&whole, "`choice()` needs at least one value".into(), "e.g. `choice(adam, sgd)`"));
        }
        return Ok(Domain::Choice { values: positional });
    }
    let [lo, hi] = <[Value; 2]>::try_from(positional).map_err(|_| {
        bad(&whole, format!("`{name}` takes two bounds"), &format!("e.g. `{name}(1e-4, 1e-1)`, low then high"))
    })?;
    for v in [&lo, &hi] {
        let Some(x) = v.number() else {
            return Err(bad(v, format!("`{}` is not a number", v.text), "a bound is a number written out"));
        };
        if name == "int" && x.fract() != 0.0 {
            return Err(bad(v, format!("`{}` is not an integer", v.text), "`int` bounds are integers"));
        }
        if log && x <= 0.0 {
            return Err(bad(
                v,
                format!("a log scale needs bounds above 0, found `{}`", v.text),
                "use `uniform` to include 0",
            ));
        }
    }
    if lo.number() >= hi.number() {
        return Err(bad(
            &whole,
            format!("the low bound `{}` is not below the high `{}`", lo.text, hi.text),
            "write `low, high`",
        ));
    }
    Ok(if name == "int" { Domain::Int { lo, hi, log } } else { Domain::Float { lo, hi, log } })
}

/// `sweep(trials = 8, …)`: the options, each checked.
fn block_options(block: &ast::Sweep, source: &Source, errors: &mut Vec<SweepError>) -> Options {
    let mut o = Options::default();
    for arg in &block.options {
        let text = slice(&source.text, &arg.value).to_string();
        let at: miette::SourceSpan = (arg.value.span.start as usize, text.len()).into();
        let Some(key) = &arg.name else {
            errors.push(SweepError::BadOption {
                message: "a sweep option is named".into(),
                help: format!("write `name = value`; options: {}", OPTIONS.join(", ")),
                src: source.named(),
                at,
            });
            continue;
        };
        if let Err(message) = o.set(&key.name, &text) {
            let help =
                crate::suggest::help(&key.name, OPTIONS.iter().copied(), format!("options: {}", OPTIONS.join(", ")));
            errors.push(SweepError::BadOption { message, help, src: source.named(), at });
        }
    }
    o
}

impl Options {
    /// Sets one option from its text; the message says what was wrong.
    pub fn set(&mut self, key: &str, text: &str) -> Result<(), String> {
        let count = |t: &str| {
            t.parse::<usize>().ok().filter(|n| *n > 0).ok_or(format!("`{key}` is a count of 1 or more, found `{t}`"))
        };
        let word = |words: &[&str]| {
            words
                .contains(&text)
                .then(|| text.to_string())
                .ok_or(format!("`{key}` is one of {}, found `{text}`", words.join(", ")))
        };
        match key {
            "trials" => self.trials = Some(count(text)?),
            "jobs" => self.jobs = Some(count(text)?),
            "seed" => self.seed = Some(text.parse().map_err(|_| format!("`seed` is a whole number, found `{text}`"))?),
            "sampler" => self.sampler = Some(word(SAMPLERS)?),
            "prune" => self.prune = Some(word(PRUNERS)?),
            "objective" => self.objective = Some(text.to_string()),
            other => return Err(format!("`sweep` has no option `{other}`")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_line_dimensions_and_fixed_overrides() {
        let space =
            Space::from_args(&args(&["optimizer.lr=log(1e-5,1e-2)", "data.batch=32,64", "epochs=2"])).expect("space");
        assert_eq!(space.fixed, vec!["epochs=2"]);
        assert_eq!(space.dims.len(), 2);
        let Domain::Choice { values } = &space.dims[1].domain else { panic!("a choice") };
        let text = &space.sources[0].text;
        assert_eq!(&text[values[1].start..values[1].end], "64");
        assert!(matches!(space.dims[0].domain, Domain::Float { log: true, .. }));
    }

    #[test]
    fn bad_bounds_are_refused_at_the_bound() {
        let errors = Space::from_args(&args(&["optimizer.lr=log(0,1)"])).expect_err("log of 0");
        let SweepError::BadDomain { at, .. } = &errors[0] else { panic!("{errors:?}") };
        assert_eq!(at.offset(), "optimizer.lr=log(".len());
        assert!(Space::from_args(&args(&["data.batch=int(64,16)"])).is_err());
        assert!(Space::from_args(&args(&["data.batch=int(1.5,16)"])).is_err());
    }

    #[test]
    fn list_values_keep_their_brackets_inside_a_choice() {
        let space = Space::from_args(&args(&["metrics=[accuracy],[accuracy,f1]"])).expect("space");
        let Domain::Choice { values } = &space.dims[0].domain else { panic!("a choice") };
        assert_eq!(values.iter().map(|v| v.text.as_str()).collect::<Vec<_>>(), ["[accuracy]", "[accuracy,f1]"]);
    }

    #[test]
    fn coordinates_round_to_the_text() {
        let space = Space::from_args(&args(&["w=int(16,128)", "lr=log(1e-4,1e-1)"])).expect("space");
        let (text, c) = space.dims[0].domain.value_at(40.4);
        assert_eq!((text.as_str(), c), ("40", 40.0));
        let (text, _) = space.dims[1].domain.value_at(1e-3f64.ln());
        assert_eq!(text, "1.0000e-3");
    }
}
