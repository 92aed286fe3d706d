//! The types between stages: [`Program`] (resolved) and [`Checked`] (type- and shape-checked,
//! ready to compile), with the typed configuration builtins ([`Optimizer`], [`Schedule`],
//! [`Loss`], [`Metric`], [`Augment`]) it carries.

mod checked;
mod precision;
mod program;
mod spec;

pub use checked::*;
pub use precision::{DeviceKind, Precision};
pub use program::*;
pub use spec::*;
