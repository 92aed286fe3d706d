//! Stage 4: [`crate::ir::Checked`] → burn. The graph compiler ([`net`]), losses, optimizers and
//! CenterNet detection ([`detect`]).

pub mod adam;
pub mod conv;
pub mod conv_transpose;
pub mod detect;
pub mod fcos;
pub mod finetune;
mod fused;
pub mod im2col;
pub mod layers;
pub mod loss;
pub mod net;
pub mod norm;
pub mod ops;
pub mod optim;
pub mod pool;
pub mod precision;
mod simd;
#[cfg(feature = "tch")]
pub mod tch_ops;
#[cfg(test)]
mod testing;
pub mod transplant;
pub mod winograd;

pub use net::{Act, CompileError, Net};
