//! Lowering pest pairs into the AST.
//!
//! Naming: `lower_*` turn one pair of the rule they are named after into an AST node; they may
//! fail only for problems the grammar cannot express (integer overflow, bad escapes, calling a
//! non-name). Pest's own errors become [`SyntaxError::Unexpected`] through [`unexpected`], which
//! describes what was expected in words using [`describe_rule`] and pest's attempted tokens.

use std::sync::Once;

use pest::Parser as _;
use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest_derive::Parser;

use super::ast::*;
use super::error::SyntaxError;
use super::span::{FileId, Span};

#[derive(Parser)]
#[grammar = "../grammar/trainc.pest"]
struct Grammar;

type Result<T> = std::result::Result<T, SyntaxError>;

/// Parses a whole file.
pub fn parse_file(text: &str, file: FileId) -> Result<File> {
    let mut pairs = parse(Rule::file, text)?;
    let lower = Lower { file };
    let mut items = Vec::new();
    if let Some(file_pair) = pairs.next() {
        for pair in file_pair.into_inner() {
            if pair.as_rule() != Rule::EOI {
                items.push(lower.item(pair)?);
            }
        }
    }
    Ok(File { items })
}

/// Parses `path.to.key=value` from the command line (the text is its own file).
pub fn parse_setting(text: &str, file: FileId) -> Result<Setting> {
    let pairs = parse(Rule::cli_setting, text).map_err(|e| match e {
        SyntaxError::Unexpected { expected, found, at, .. } => SyntaxError::Unexpected {
            expected,
            found,
            help: "an override is `path.to.key=value`, e.g. `optimizer.lr=3e-4` or `data.batch=128`".into(),
            at,
        },
        other => other,
    })?;
    let pair = first(pairs);
    let lower = Lower { file };
    let span = lower.span(&pair);
    let mut inner = pair.into_inner();
    let path = lower.path(next(&mut inner));
    let value = lower.expr(next(&mut inner))?;
    Ok(Setting { path, value, span })
}

/// Parses a lone expression.
pub fn parse_expr(text: &str, file: FileId) -> Result<Expr> {
    let pair = first(parse(Rule::cli_expr, text)?);
    Lower { file }.expr(next(&mut pair.into_inner()))
}

/// How deeply brackets, and expressions within a statement, may nest. Hand-written files stay
/// under ten; the limit turns generated or corrupted input into a diagnostic instead of a stack
/// overflow in pest's recursive descent and in every recursive stage after it.
pub const MAX_NESTING: usize = 256;

fn parse(rule: Rule, text: &str) -> Result<pest::iterators::Pairs<'_, Rule>> {
    bracket_depth(text)?;
    static DETAIL: Once = Once::new();
    // Attempted literal tokens (`=`, `{`…) are only recorded with error detail on.
    DETAIL.call_once(|| pest::set_error_detail(true));
    Grammar::parse(rule, text).map_err(|e| unexpected(&e, text))
}

/// Refuses brackets nested deeper than [`MAX_NESTING`] before pest recurses into them. Strings
/// and comments are skipped the way the grammar reads them.
fn bracket_depth(text: &str) -> Result<()> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i + 1),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = find(bytes, i, b"\n"),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = find(bytes, i + 2, b"*/") + 1,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(SyntaxError::TooDeep { what: "this bracket", limit: MAX_NESTING, at: (i, 1).into() });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the closing quote of a string whose body starts at `i` (or the end of the line).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n') {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The index where `needle` starts at or after `from`, or the end of the text.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
        .map_or(bytes.len(), |p| from + p)
}

// The grammar guarantees the shape of every pair we walk; these helpers encode that
// guarantee in one place instead of scattering unwraps.
fn first<'i>(mut pairs: pest::iterators::Pairs<'i, Rule>) -> Pair<'i, Rule> {
    next(&mut pairs)
}

fn next<'i>(pairs: &mut pest::iterators::Pairs<'i, Rule>) -> Pair<'i, Rule> {
    match pairs.next() {
        Some(pair) => pair,
        None => unreachable!("grammar guarantees this pair"),
    }
}

struct Lower {
    file: FileId,
}

impl Lower {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(&pair) }
    }

    fn item(&self, pair: Pair<Rule>) -> Result<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        // Every item starts with its keyword pair; skip it.
        let mut inner = pair.into_inner();
        let _keyword = next(&mut inner);
        Ok(match rule {
            Rule::use_decl => {
                let source_pair = next(&mut inner);
                let source_span = self.span(&source_pair);
                let source = match source_pair.as_rule() {
                    Rule::std_path => UseSource::Std(source_pair.as_str().to_string()),
                    _ => UseSource::Relative(self.string(source_pair)?),
                };
                let names = inner.map(|p| self.ident(p)).collect();
                Item::Use(Use { source, source_span, names, span })
            }
            Rule::dataset_decl => {
                let name = self.ident(next(&mut inner));
                let value = self.expr(next(&mut inner))?;
                // `idx(...) { fields }` arrives as a record around the source call.
                let (source, fields) = match value.kind {
                    ExprKind::Record { base, fields } => (*base, fields),
                    kind => (Expr { kind, span: value.span }, Vec::new()),
                };
                Item::Dataset(Dataset { name, source, fields, span })
            }
            Rule::augment_decl => {
                let name = self.ident(next(&mut inner));
                let mut targets = Vec::new();
                let mut steps = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::targets => targets = p.into_inner().map(|t| self.ident(t)).collect(),
                        _ => steps.push(self.expr(p)?),
                    }
                }
                Item::Augment(Augment { name, targets, steps, span })
            }
            Rule::model_decl | Rule::block_decl => {
                let kind = if rule == Rule::model_decl { GraphKind::Model } else { GraphKind::Block };
                let name = self.ident(next(&mut inner));
                let params = next(&mut inner).into_inner().map(|p| self.param(p)).collect::<Result<_>>()?;
                let mut output = None;
                let mut body = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::out_type => output = Some(self.out_type(p)?),
                        _ => body = p.into_inner().map(|s| self.stmt(s)).collect::<Result<_>>()?,
                    }
                }
                Item::Graph(Graph { kind, name, params, output, body, span })
            }
            Rule::train_decl => Item::Train(Train { fields: self.record(next(&mut inner))?, span }),
            Rule::profile_decl => {
                let name = self.ident(next(&mut inner));
                let settings = inner.map(|p| self.setting(p)).collect::<Result<_>>()?;
                Item::Profile(Profile { name, settings, span })
            }
            Rule::sweep_decl => {
                let mut options = Vec::new();
                let mut settings = Vec::new();
                for p in inner {
                    match p.as_rule() {
                        Rule::call_args => options = p.into_inner().map(|a| self.arg(a)).collect::<Result<_>>()?,
                        _ => settings.push(self.setting(p)?),
                    }
                }
                Item::Sweep(Sweep { options, settings, span })
            }
            _ => unreachable!("not an item: {rule:?}"),
        })
    }

    fn param(&self, pair: Pair<Rule>) -> Result<Param> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(next(&mut inner));
        let ty_pair = next(&mut inner);
        let ty = match ty_pair.as_rule() {
            Rule::scalar_type => {
                let s = self.span(&ty_pair);
                let scalar = match ty_pair.as_str().trim() {
                    "int" => ScalarType::Int,
                    "float" => ScalarType::Float,
                    "bool" => ScalarType::Bool,
                    _ => ScalarType::Str,
                };
                Type::Scalar(scalar, s)
            }
            _ => Type::Tensor(self.tensor_type(ty_pair)?),
        };
        let default = inner.next().map(|p| self.expr(p)).transpose()?;
        Ok(Param { name, ty, default, span })
    }

    fn tensor_type(&self, pair: Pair<Rule>) -> Result<TensorType> {
        let span = self.span(&pair);
        let mut kind = None;
        let mut dims = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => kind = Some(self.ident(p)),
                _ => dims.push(self.expr(p)?),
            }
        }
        Ok(TensorType { kind, dims, span })
    }

    fn out_type(&self, pair: Pair<Rule>) -> Result<OutType> {
        let mut inner = pair.into_inner().peekable();
        if inner.peek().is_some_and(|p| p.as_rule() == Rule::tensor_type) {
            return Ok(OutType::Single(self.tensor_type(next_peek(&mut inner))?));
        }
        let named = inner
            .map(|p| {
                let mut parts = p.into_inner();
                let name = self.ident(next(&mut parts));
                Ok((name, self.tensor_type(next(&mut parts))?))
            })
            .collect::<Result<_>>()?;
        Ok(OutType::Named(named))
    }

    fn stmt(&self, pair: Pair<Rule>) -> Result<Stmt> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::return_stmt => {
                let mut inner = pair.into_inner();
                let _keyword = next(&mut inner);
                Ok(Stmt::Return { value: self.expr(next(&mut inner))?, span })
            }
            Rule::param_stmt => {
                let mut inner = pair.into_inner();
                let _keyword = next(&mut inner);
                let name = self.ident(next(&mut inner));
                let ty = self.tensor_type(next(&mut inner))?;
                let init = inner.next().map(|p| self.expr(p)).transpose()?;
                Ok(Stmt::Param { name, ty, init, span })
            }
            _ => {
                let mut names = Vec::new();
                let mut value = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::ident => names.push(self.ident(p)),
                        _ => value = Some(self.expr(p)?),
                    }
                }
                match value {
                    Some(value) => Ok(Stmt::Let { names, value, span }),
                    None => unreachable!("let without value"),
                }
            }
        }
    }

    fn setting(&self, pair: Pair<Rule>) -> Result<Setting> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let path = self.path(next(&mut inner));
        let value = self.expr(next(&mut inner))?;
        Ok(Setting { path, value, span })
    }

    fn path(&self, pair: Pair<Rule>) -> Vec<Ident> {
        pair.into_inner().map(|p| self.ident(p)).collect()
    }

    fn record(&self, pair: Pair<Rule>) -> Result<Vec<Field>> {
        pair.into_inner().map(|p| self.field(p)).collect()
    }

    fn field(&self, pair: Pair<Rule>) -> Result<Field> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let key = self.ident(next(&mut inner));
        let value_pair = next(&mut inner);
        let value = match value_pair.as_rule() {
            Rule::record => FieldValue::Record(self.record(value_pair)?),
            _ => FieldValue::Expr(self.expr(value_pair)?),
        };
        Ok(Field { key, value, span })
    }

    fn expr(&self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        // A long operator chain becomes a deep tree (`x |> a |> b` is `b(a(x))`): refuse it
        // before building it, then bound the depth that chains inside brackets add up to.
        if let Some(op) = pair.clone().into_inner().filter(|p| is_infix(p.as_rule())).nth(MAX_NESTING - 1) {
            let at = self.span(&op).into();
            return Err(SyntaxError::TooDeep { what: "this chain of operators", limit: MAX_NESTING, at });
        }
        let expr = self.operators(pair)?;
        if expr.deeper_than(MAX_NESTING) {
            return Err(SyntaxError::TooDeep { what: "this expression", limit: MAX_NESTING, at: span.into() });
        }
        Ok(expr)
    }

    fn operators(&self, pair: Pair<Rule>) -> Result<Expr> {
        let pratt = PrattParser::new()
            .op(Op::infix(Rule::op_then, Assoc::Left))
            .op(Op::infix(Rule::op_pipe, Assoc::Left))
            .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
            .op(Op::infix(Rule::op_mul, Assoc::Left) | Op::infix(Rule::op_div, Assoc::Left))
            .op(Op::prefix(Rule::op_neg));
        pratt
            .map_primary(|p| self.postfixed(p))
            .map_prefix(|op, rhs| {
                let rhs = rhs?;
                let span = self.span(&op).to(rhs.span);
                Ok(Expr { kind: ExprKind::Neg(Box::new(rhs)), span })
            })
            .map_infix(|lhs, op, rhs| {
                let (lhs, rhs) = (lhs?, rhs?);
                let span = lhs.span.to(rhs.span);
                let kind = match op.as_rule() {
                    Rule::op_then => ExprKind::Then(Box::new(lhs), Box::new(rhs)),
                    Rule::op_pipe => return self.pipe(lhs, rhs, span),
                    rule => {
                        let op = match rule {
                            Rule::op_add => BinOp::Add,
                            Rule::op_sub => BinOp::Sub,
                            Rule::op_mul => BinOp::Mul,
                            _ => BinOp::Div,
                        };
                        ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
                    }
                };
                Ok(Expr { kind, span })
            })
            .parse(pair.into_inner())
    }

    /// `lhs |> f(args)` is `f(lhs, args)`; `lhs |> f` is `f(lhs)`.
    fn pipe(&self, lhs: Expr, rhs: Expr, span: Span) -> Result<Expr> {
        let (callee, mut args) = match rhs.kind {
            ExprKind::Name(callee) => (callee, Vec::new()),
            ExprKind::Call { callee, args } => (callee, args),
            _ => return Err(SyntaxError::BadPipe { at: rhs.span.into() }),
        };
        args.insert(0, Arg { name: None, value: lhs });
        Ok(Expr { kind: ExprKind::Call { callee, args }, span })
    }

    fn postfixed(&self, pair: Pair<Rule>) -> Result<Expr> {
        let mut inner = pair.into_inner();
        let mut expr = self.primary(next(&mut inner))?;
        for post in inner {
            let span = expr.span.to(self.span(&post));
            let kind = match post.as_rule() {
                Rule::call_args => {
                    let callee = match expr.kind {
                        ExprKind::Name(id) => id,
                        _ => return Err(SyntaxError::NotCallable { at: expr.span.into() }),
                    };
                    let args = post.into_inner().map(|a| self.arg(a)).collect::<Result<_>>()?;
                    ExprKind::Call { callee, args }
                }
                Rule::member => {
                    let name = self.ident(next(&mut post.into_inner()));
                    ExprKind::Member { base: Box::new(expr), name }
                }
                _ => {
                    if !matches!(expr.kind, ExprKind::Name(_) | ExprKind::Call { .. }) {
                        return Err(SyntaxError::BadRecord { at: expr.span.into() });
                    }
                    ExprKind::Record { base: Box::new(expr), fields: self.record(post)? }
                }
            };
            expr = Expr { kind, span };
        }
        Ok(expr)
    }

    fn arg(&self, pair: Pair<Rule>) -> Result<Arg> {
        let mut name = None;
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                _ => value = Some(self.expr(p)?),
            }
        }
        match value {
            Some(value) => Ok(Arg { name, value }),
            None => unreachable!("argument without value"),
        }
    }

    fn primary(&self, pair: Pair<Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let text = pair.as_str();
        let kind = match pair.as_rule() {
            Rule::int => {
                let digits: String = text.chars().filter(|c| *c != '_').collect();
                match digits.parse() {
                    Ok(n) => ExprKind::Int(n),
                    Err(_) => {
                        return Err(SyntaxError::NumberTooLarge { text: text.into(), at: span.into() });
                    }
                }
            }
            Rule::float => {
                let digits: String = text.chars().filter(|c| *c != '_').collect();
                ExprKind::Float(digits.parse().unwrap_or(f64::NAN))
            }
            Rule::string => ExprKind::Str(self.string(pair)?),
            Rule::boolean => ExprKind::Bool(text == "true"),
            Rule::ident => ExprKind::Name(self.ident(pair)),
            Rule::list => ExprKind::List(pair.into_inner().map(|p| self.expr(p)).collect::<Result<_>>()?),
            Rule::tuple => ExprKind::Tuple(
                pair.into_inner()
                    .map(|p| {
                        let mut parts = p.into_inner();
                        let name = self.ident(next(&mut parts));
                        Ok((name, self.expr(next(&mut parts))?))
                    })
                    .collect::<Result<_>>()?,
            ),
            Rule::paren => return self.expr(next(&mut pair.into_inner())),
            rule => unreachable!("not a primary: {rule:?}"),
        };
        Ok(Expr { kind, span })
    }

    fn string(&self, pair: Pair<Rule>) -> Result<String> {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let body = &raw[1..raw.len() - 1];
        let mut out = String::with_capacity(body.len());
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escaped = chars.next().map(|(_, e)| e);
            out.push(match escaped {
                Some('\\') => '\\',
                Some('"') => '"',
                Some('n') => '\n',
                Some('t') => '\t',
                other => {
                    let start = span.start as usize + 1 + i;
                    let len = 1 + other.map_or(0, char::len_utf8);
                    return Err(SyntaxError::BadEscape {
                        escape: format!("\\{}", other.map(String::from).unwrap_or_default()),
                        at: (start, len).into(),
                    });
                }
            });
        }
        Ok(out)
    }
}

fn next_peek<'i, I: Iterator<Item = Pair<'i, Rule>>>(iter: &mut std::iter::Peekable<I>) -> Pair<'i, Rule> {
    match iter.next() {
        Some(pair) => pair,
        None => unreachable!("peeked pair vanished"),
    }
}

/// Turns pest's error into words: what was expected (rules and literal tokens), what was found.
fn is_infix(rule: Rule) -> bool {
    matches!(rule, Rule::op_then | Rule::op_pipe | Rule::op_add | Rule::op_sub | Rule::op_mul | Rule::op_div)
}

fn unexpected(error: &pest::error::Error<Rule>, text: &str) -> SyntaxError {
    let pos = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let mut expected: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(words) = describe_rule(*rule) {
                push_unique(&mut expected, words);
            }
        }
    }
    if let Some(attempts) = error.parse_attempts() {
        // pest does not export its token type; its Display gives literal tokens verbatim,
        // character ranges as `a..z` and builtins as `BUILTIN_RULE`, which we skip.
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            let is_range = token.chars().count() == 4 && token.contains("..");
            // `_` and `\` are pieces of names and strings, never what a person means to type.
            if !is_range
                && !["BUILTIN_RULE", "//", "/*", "_", "\\"].contains(&token.as_str())
                && !token.trim().is_empty()
            {
                push_unique(&mut expected, format!("`{token}`"));
            }
        }
    }
    if expected.is_empty() {
        expected.push("something else".into());
    }
    let (found, len) = found_at(text, pos);
    // A closing bracket nobody opened: say that, rather than list every token that could follow.
    if let Some(close) = ["`)`", "`]`", "`}`"].into_iter().find(|c| found == *c && !expected.iter().any(|e| e == *c)) {
        return SyntaxError::Unexpected {
            expected: "the end of the expression".into(),
            found: format!("an unmatched {close}"),
            help: format!("remove the {close}, or open its pair earlier"),
            at: (pos, len).into(),
        };
    }
    let many = expected.len() > 6;
    let expected = join_or(&expected);
    if found == "`\"`" && text[pos..].lines().next().is_some_and(|l| l.matches('"').count() % 2 == 1) {
        return SyntaxError::Unexpected {
            expected: "a closing `\"`".into(),
            found: "an unterminated string".into(),
            help: "close the string on the same line; write `\\\"` for a quote inside it".into(),
            at: (pos, text[pos..].lines().next().map_or(1, str::len)).into(),
        };
    }
    let help = if found == "end of file" {
        "the file ends too early: close every `{`, `(` and `[`".to_string()
    } else if many {
        "check the brackets and separators just before this point".to_string()
    } else {
        format!("write {expected} here")
    };
    SyntaxError::Unexpected { expected, found, help, at: (pos, len).into() }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// The token at `pos`, in words, and its length in bytes for the label.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c.is_ascii_alphanumeric() || c == '_' {
        let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let len = word.len();
        return (format!("`{word}`"), len);
    }
    if c == '\n' {
        return ("end of line".into(), 1);
    }
    (format!("`{c}`"), c.len_utf8())
}

/// Rule names in words. `None` hides rules that only restate a literal token.
fn describe_rule(rule: Rule) -> Option<String> {
    let words = match rule {
        Rule::EOI => "end of file",
        Rule::ident | Rule::path => "a name",
        Rule::std_path => "a `std/…` module",
        Rule::string => "a string",
        Rule::int | Rule::float => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::expr | Rule::postfixed | Rule::list | Rule::tuple | Rule::paren | Rule::named_expr => "an expression",
        Rule::arg => "an argument",
        Rule::op_then | Rule::op_pipe | Rule::op_add | Rule::op_sub | Rule::op_mul | Rule::op_div => "an operator",
        Rule::op_neg => "an expression",
        Rule::call_args => "`(`",
        Rule::member => "`.`",
        Rule::record => "`{`",
        Rule::field => "a field (`name = value`)",
        Rule::setting => "a setting (`path.to.key = value`)",
        Rule::param => "a parameter (`name: type`)",
        Rule::scalar_type | Rule::tensor_type => "a type (`int`, `float`, `bool`, `str` or `[B, C, H, W]`)",
        Rule::out_type => "an output type",
        Rule::named_type => "a named output (`name: [dims]`)",
        Rule::targets => "`(`",
        Rule::return_stmt | Rule::let_stmt | Rule::param_stmt | Rule::kw_param => {
            "a statement (`name = expr`, `param name: [dims]` or `return expr`)"
        }
        Rule::kw_use
        | Rule::kw_dataset
        | Rule::kw_augment
        | Rule::kw_model
        | Rule::kw_block
        | Rule::kw_train
        | Rule::kw_profile
        | Rule::kw_sweep
        | Rule::use_decl
        | Rule::dataset_decl
        | Rule::augment_decl
        | Rule::model_decl
        | Rule::block_decl
        | Rule::train_decl
        | Rule::profile_decl
        | Rule::sweep_decl => {
            "a declaration (`use`, `dataset`, `augment`, `model`, `block`, `train`, `profile` or `sweep`)"
        }
        Rule::kw_return => "`return`",
        _ => return None,
    };
    Some(words.to_string())
}
