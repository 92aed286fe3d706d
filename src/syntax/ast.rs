//! The untyped syntax tree: exactly what the user wrote, with a [`Span`] on every node.
//!
//! Pipes are already desugared (`x |> f(a)` is the call `f(x, a)`, spanning the whole pipe), so
//! later stages see one form of call. Nothing here is resolved: names are plain [`Ident`]s.

use super::span::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed `.train` file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Use(Use),
    Dataset(Dataset),
    Augment(Augment),
    Graph(Graph),
    Train(Train),
    Profile(Profile),
    Sweep(Sweep),
}

impl Item {
    /// The declared name, for items that declare one.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Dataset(d) => Some(&d.name),
            Item::Augment(a) => Some(&a.name),
            Item::Graph(g) => Some(&g.name),
            Item::Profile(p) => Some(&p.name),
            Item::Use(_) | Item::Train(_) | Item::Sweep(_) => None,
        }
    }
}

/// `use std/augment.{normalize, hflip}` or `use "common.train".{stem}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Use {
    pub source: UseSource,
    pub source_span: Span,
    pub names: Vec<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UseSource {
    /// `std/backbones`: a module embedded in the binary.
    Std(String),
    /// `"blocks.train"`: relative to the importing file.
    Relative(String),
}

/// `dataset NAME = source(args) { field = value … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: Ident,
    pub source: Expr,
    pub fields: Vec<Field>,
    pub span: Span,
}

/// `augment NAME(image, boxes) { step; step }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    pub name: Ident,
    /// What the pipeline acts on; empty means just the image.
    pub targets: Vec<Ident>,
    pub steps: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphKind {
    Model,
    Block,
}

impl GraphKind {
    pub fn keyword(self) -> &'static str {
        match self {
            GraphKind::Model => "model",
            GraphKind::Block => "block",
        }
    }
}

/// A `model` (what `train` trains) or a `block` (a reusable subgraph). Same syntax.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub kind: GraphKind,
    pub name: Ident,
    pub params: Vec<Param>,
    pub output: Option<OutType>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: Type,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Tensor(TensorType),
    Scalar(ScalarType, Span),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    Int,
    Float,
    Bool,
    Str,
}

impl ScalarType {
    pub fn keyword(self) -> &'static str {
        match self {
            ScalarType::Int => "int",
            ScalarType::Float => "float",
            ScalarType::Bool => "bool",
            ScalarType::Str => "str",
        }
    }
}

/// `Image[B, 3, H, W]` or `[B, C, H, W]`; dims are expressions over symbols and integers.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorType {
    pub kind: Option<Ident>,
    pub dims: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OutType {
    Single(TensorType),
    Named(Vec<(Ident, TensorType)>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `h = expr` or `c2, c3 = expr` (binds outputs by name, never by position).
    Let {
        names: Vec<Ident>,
        value: Expr,
        span: Span,
    },
    Return {
        value: Expr,
        span: Span,
    },
    /// `param pos: [1, N, D] = normal(std = 0.02)`: a learned tensor, initialised by `init`.
    Param {
        name: Ident,
        ty: TensorType,
        init: Option<Expr>,
        span: Span,
    },
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. } | Stmt::Return { span, .. } | Stmt::Param { span, .. } => *span,
        }
    }
}

/// The `train { … }` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Train {
    pub fields: Vec<Field>,
    pub span: Span,
}

/// `profile fast { train.epochs = 1; data.limit_batches = 20 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: Ident,
    pub settings: Vec<Setting>,
    pub span: Span,
}

/// `sweep(trials = 8, sampler = tpe) { optimizer.lr = log(1e-4, 1e-1); data.batch = [16, 32] }`:
/// the options (named arguments) and one setting per swept key, whose value is its search space.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub options: Vec<Arg>,
    pub settings: Vec<Setting>,
    pub span: Span,
}

/// `a.b.c = value`, in a profile or on the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub path: Vec<Ident>,
    pub value: Expr,
    pub span: Span,
}

/// `key = value` or `key { fields }` in a record.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: Ident,
    pub value: FieldValue,
    pub span: Span,
}

fn fields_deeper_than(fields: &[Field], limit: usize) -> bool {
    limit == 0
        || fields.iter().any(|f| match &f.value {
            FieldValue::Expr(e) => e.deeper_than(limit - 1),
            FieldValue::Record(inner) => fields_deeper_than(inner, limit - 1),
        })
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Expr(Expr),
    Record(Vec<Field>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Name(Ident),
    List(Vec<Expr>),
    /// `(heat: h, size: s)`: named outputs.
    Tuple(Vec<(Ident, Expr)>),
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `p.p3`, `val.accuracy`.
    Member {
        base: Box<Expr>,
        name: Ident,
    },
    /// `fashion { batch = 64 }`: a reference refined by options.
    Record {
        base: Box<Expr>,
        fields: Vec<Field>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Neg(Box<Expr>),
    /// `warmup(steps = 100) then cosine()`.
    Then(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

impl Expr {
    /// Whether the tree under this expression is more than `limit` levels deep. It descends at
    /// most `limit` levels, so it is safe on the trees it exists to refuse.
    pub fn deeper_than(&self, limit: usize) -> bool {
        if limit == 0 {
            return true;
        }
        let below = limit - 1;
        match &self.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Name(_) => false,
            ExprKind::List(items) => items.iter().any(|e| e.deeper_than(below)),
            ExprKind::Tuple(items) => items.iter().any(|(_, e)| e.deeper_than(below)),
            ExprKind::Call { args, .. } => args.iter().any(|a| a.value.deeper_than(below)),
            ExprKind::Member { base, .. } | ExprKind::Neg(base) => base.deeper_than(below),
            ExprKind::Record { base, fields } => base.deeper_than(below) || fields_deeper_than(fields, below),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Then(lhs, rhs) => {
                lhs.deeper_than(below) || rhs.deeper_than(below)
            }
        }
    }

    /// The name this expression refers to, when it is a bare name.
    pub fn as_name(&self) -> Option<&Ident> {
        match &self.kind {
            ExprKind::Name(id) => Some(id),
            _ => None,
        }
    }

    /// A short description for messages: "a number", "a call to `conv2d`"…
    pub fn describe(&self) -> String {
        match &self.kind {
            ExprKind::Int(_) => "an integer".into(),
            ExprKind::Float(_) => "a number".into(),
            ExprKind::Str(_) => "a string".into(),
            ExprKind::Bool(_) => "a boolean".into(),
            ExprKind::Name(id) => format!("`{}`", id.name),
            ExprKind::List(_) => "a list".into(),
            ExprKind::Tuple(_) => "named outputs".into(),
            ExprKind::Call { callee, .. } => format!("a call to `{}`", callee.name),
            ExprKind::Member { .. } => "a member access".into(),
            ExprKind::Record { .. } => "a record".into(),
            ExprKind::Binary { .. } | ExprKind::Neg(_) => "an arithmetic expression".into(),
            ExprKind::Then(..) => "a schedule chain".into(),
        }
    }
}
