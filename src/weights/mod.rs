//! Weights in and out of a model. [`header`] reads the tensor index of a PyTorch `.pt`/`.pth` or
//! a `.safetensors` file (names, dtypes, shapes) without reading tensor data, and refuses a
//! pickle that would call anything but PyTorch's tensor rebuild functions (`zip` and `pickle`
//! are its two readers). [`plan`] says which tensor of a file fills which parameter, with
//! [`torchvision`]'s names for the stdlib backbones. With the `train` feature, `load` applies a
//! plan through burn-store. Everything but `load` builds without burn and reads only through
//! [`crate::host::Host`], so `check` validates a `load(…)` against the file before anything runs
//! and `run` loads with the very same table.

pub mod header;
mod pickle;
pub mod plan;
pub mod torchvision;
mod zip;

#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
pub mod load;
