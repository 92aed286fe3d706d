//! Pretrained weights files. [`header`] reads the tensor index of a PyTorch `.pt`/`.pth` or a
//! `.safetensors` file (names, dtypes, shapes) without reading tensor data, so `check` can
//! validate a `load(...)` before anything runs, and refuses a pickle that would call anything
//! but PyTorch's tensor rebuild functions. It builds without burn and reads only through
//! [`crate::host::Host`]; `zip` and `pickle` are its two readers.

pub mod header;
mod pickle;
mod zip;
