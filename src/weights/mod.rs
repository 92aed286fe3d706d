//! Weights in and out of a model: which tensor of a weights file fills which parameter
//! ([`plan`]), the torchvision names of the stdlib backbones ([`torchvision`]) and, with the
//! `train` feature, loading through burn-store (`load`). The plan is computed from the checked
//! graph alone, so `check` validates a file against it before anything runs and `run` loads with
//! the very same table.

pub mod header;
mod pickle;
pub mod plan;
pub mod torchvision;
mod zip;

#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod load;
