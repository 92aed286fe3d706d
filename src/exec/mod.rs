//! Stage 4: [`crate::ir::Checked`] → burn. The graph compiler ([`net`]), losses and optimizers.

pub mod loss;
pub mod net;
pub mod optim;

pub use net::{Act, CompileError, Net};
