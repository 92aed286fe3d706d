//! [`read_header`]: the tensor index of a weights file — every tensor's name, dtype and shape —
//! read without reading tensor data, so `check` can compare it with the model before anything
//! runs. A `.safetensors` file is its 8-byte length and JSON header; a PyTorch `.pt`/`.pth` is
//! a zip whose `<archive>/data.pkl` pickle is run by the restricted machine in `pickle`, which
//! refuses any global but PyTorch's tensor rebuild functions. The loader calls `read_header`
//! before handing a file to burn-store, so a malicious pickle is refused before anything else
//! opens it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use super::pickle::{self, Tensor, Value};
use super::zip::{self, Entry};
use crate::host::Host;

/// Which of the two formats a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    Pytorch,
    Safetensors,
}

/// One tensor of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// safetensors' spelling: `F32`, `F16`, `BF16`, `I64`, …
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// The tensor index of a weights file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format: WeightsFormat,
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The key of a checkpoint dict the state dict was found under (`state_dict`, `model`).
    pub top_level_key: Option<String>,
}

/// Why a weights file's index cannot be read. Each names the file.
#[derive(Debug, Error, Diagnostic)]
pub enum HeaderError {
    #[error("weights file `{file}` not found")]
    #[diagnostic(code(trainc::weights::not_found), help("check the path and the working directory"))]
    NotFound { file: PathBuf },

    #[error("cannot read weights file `{file}`: {message}")]
    #[diagnostic(code(trainc::weights::io))]
    Io { file: PathBuf, message: String },

    #[error("weights file `{file}` is truncated: {what} lies past its end")]
    #[diagnostic(code(trainc::weights::truncated), help("the file was probably not copied or downloaded completely"))]
    Truncated { file: PathBuf, what: String },

    #[error("`{file}` has a bad safetensors header: {message}")]
    #[diagnostic(code(trainc::weights::bad_header))]
    BadHeader { file: PathBuf, message: String },

    #[error("tensor `{name}` in `{file}`: {problem}")]
    #[diagnostic(code(trainc::weights::bad_tensor))]
    BadTensor { file: PathBuf, name: String, problem: String },

    #[error("`{file}` is not a zip archive, which PyTorch weights are")]
    #[diagnostic(
        code(trainc::weights::not_a_zip),
        help("PyTorch weights are written by `torch.save`; a safetensors file needs the `.safetensors` extension")
    )]
    NotAZip { file: PathBuf },

    #[error("`{file}` is a zip archive without a `data.pkl`, so not one written by `torch.save`")]
    #[diagnostic(
        code(trainc::weights::no_data_pkl),
        help("save the state dict with `torch.save(model.state_dict(), path)`")
    )]
    NoDataPkl { file: PathBuf },

    #[error("`{member}` in `{file}` uses zip compression method {method}; only stored and deflate are read")]
    #[diagnostic(code(trainc::weights::compression), help("re-save the file with `torch.save`"))]
    Compression { file: PathBuf, member: String, method: u16 },

    #[error(
        "refusing to load `{file}`: the pickle calls `{global}`, PyTorch weights only call tensor rebuild functions"
    )]
    #[diagnostic(
        code(trainc::weights::unsafe_pickle),
        help("nothing was executed; load weights only from a source you trust, or convert them to `.safetensors`")
    )]
    UnsafePickle { file: PathBuf, global: String },

    #[error("`{file}`: unsupported pickle opcode 0x{opcode:02x} at byte {offset} of `data.pkl`")]
    #[diagnostic(code(trainc::weights::opcode), help("re-save the weights with `torch.save` (pickle protocol 2)"))]
    UnsupportedOpcode { file: PathBuf, opcode: u8, offset: usize },

    #[error("`{file}`: malformed pickle at byte {offset} of `data.pkl`: {problem}")]
    #[diagnostic(code(trainc::weights::bad_pickle))]
    BadPickle { file: PathBuf, offset: usize, problem: String },

    #[error("`{file}` is in PyTorch's legacy (pre-1.6) format")]
    #[diagnostic(
        code(trainc::weights::legacy_format),
        help("re-save it with a current PyTorch: `torch.save(torch.load(path), path)`")
    )]
    Legacy { file: PathBuf },

    #[error("`{file}` holds {found}, not a state dict")]
    #[diagnostic(
        code(trainc::weights::not_a_state_dict),
        help("save `model.state_dict()`, or a dict with the state dict under `state_dict` or `model`")
    )]
    NotAStateDict { file: PathBuf, found: String },
}

/// The keys of a checkpoint dict a state dict is looked for under, in order.
const CHECKPOINT_KEYS: [&str; 2] = ["state_dict", "model"];
/// safetensors refuses larger headers too.
const MAX_SAFETENSORS_HEADER: u64 = 100 << 20;

/// The tensor index of `path`: `.safetensors` by its extension, anything else as a `torch.save`
/// zip. Reads only the header (a few kilobytes), never tensor data.
pub fn read_header(host: &dyn Host, path: &Path) -> Result<Header, HeaderError> {
    let len = host.file_len(path).map_err(|e| io_error(path, e))?;
    if path.extension().is_some_and(|e| e == "safetensors") {
        let tensors = safetensors(host, path, len)?;
        return Ok(Header { format: WeightsFormat::Safetensors, tensors, top_level_key: None });
    }
    pytorch(host, path, len)
}

/// Refuses a file whose pickle calls anything but tensor rebuild functions (and any file whose
/// index cannot be read): the guard to run before a file is handed to a full loader.
pub fn check_safe(host: &dyn Host, path: &Path) -> Result<(), HeaderError> {
    read_header(host, path).map(|_| ())
}

/// Bytes of an element of `dtype`, for the dtypes both formats use.
pub fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

fn io_error(path: &Path, e: io::Error) -> HeaderError {
    let file = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => HeaderError::NotFound { file },
        io::ErrorKind::UnexpectedEof => HeaderError::Truncated { file, what: "a header".into() },
        _ => HeaderError::Io { file, message: e.to_string() },
    }
}

/// `len` bytes at `offset` of a file of `file_len` bytes, checked against its length first so a
/// corrupt length field never allocates or reads past the end.
pub(super) fn read_bytes(
    host: &dyn Host,
    path: &Path,
    file_len: u64,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, HeaderError> {
    let end = offset.checked_add(len).filter(|&end| end <= file_len);
    let len = end.and_then(|_| usize::try_from(len).ok()).ok_or_else(|| HeaderError::Truncated {
        file: path.to_path_buf(),
        what: format!("{len} bytes at offset {offset}"),
    })?;
    host.read_at(path, offset, len).map_err(|e| io_error(path, e))
}

/// One entry of a safetensors header.
#[derive(Deserialize)]
struct SafetensorsEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [u64; 2],
}

fn safetensors(host: &dyn Host, path: &Path, len: u64) -> Result<BTreeMap<String, TensorInfo>, HeaderError> {
    let bad = |message: String| HeaderError::BadHeader { file: path.to_path_buf(), message };
    let size = zip::le(&read_bytes(host, path, len, 0, 8)?, 0, 8).unwrap_or(0);
    if size > len - 8 || size > MAX_SAFETENSORS_HEADER {
        return Err(bad(format!("the header length {size} does not fit a file of {len} bytes")));
    }
    let json = read_bytes(host, path, len, 8, size)?;
    let entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&json).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let data_len = len - 8 - size;
    let mut tensors = BTreeMap::new();
    for (name, value) in entries.into_iter().filter(|(name, _)| name != "__metadata__") {
        let entry: SafetensorsEntry = serde_json::from_value(value).map_err(|e| bad(format!("entry `{name}`: {e}")))?;
        check_extent(&entry, data_len).map_err(|problem| HeaderError::BadTensor {
            file: path.to_path_buf(),
            name: name.clone(),
            problem,
        })?;
        tensors.insert(name, TensorInfo { dtype: entry.dtype, shape: entry.shape });
    }
    Ok(tensors)
}

/// A safetensors entry's byte range must hold exactly dtype × shape and lie inside the data.
fn check_extent(entry: &SafetensorsEntry, data_len: u64) -> Result<(), String> {
    let size = dtype_size(&entry.dtype).ok_or_else(|| format!("unknown dtype `{}`", entry.dtype))?;
    let bytes = entry.shape.iter().try_fold(size, |acc, &d| acc.checked_mul(d as u64));
    let [begin, end] = entry.data_offsets;
    if end < begin || end > data_len {
        return Err(format!("data offsets {begin}..{end} lie outside the {data_len} bytes of data"));
    }
    match bytes {
        Some(bytes) if bytes == end - begin => Ok(()),
        _ => {
            Err(format!("{} {:?} needs {bytes:?} bytes but its offsets span {}", entry.dtype, entry.shape, end - begin))
        }
    }
}

fn pytorch(host: &dyn Host, path: &Path, len: u64) -> Result<Header, HeaderError> {
    let magic = read_bytes(host, path, len, 0, len.min(4))?;
    if magic.first() == Some(&0x80) {
        return Err(HeaderError::Legacy { file: path.to_path_buf() });
    }
    if magic != b"PK\x03\x04" {
        return Err(HeaderError::NotAZip { file: path.to_path_buf() });
    }
    let entries = zip::entries(host, path, len)?;
    let data_pkl = entries
        .iter()
        .find(|e| {
            e.name.strip_suffix("data.pkl").is_some_and(|dir| dir.ends_with('/') && dir.matches('/').count() == 1)
        })
        .ok_or_else(|| HeaderError::NoDataPkl { file: path.to_path_buf() })?;
    let archive = data_pkl.name.trim_end_matches("data.pkl");
    let top = pickle::load(path, &zip::read_entry(host, path, len, data_pkl)?)?;
    let (top_level_key, state) = state_dict(path, &top)?;
    let mut tensors = BTreeMap::new();
    for (name, tensor) in state {
        check_storage(path, &name, &tensor, archive, &entries)?;
        tensors.insert(name, TensorInfo { dtype: tensor.storage.dtype.to_string(), shape: tensor.shape.clone() });
    }
    Ok(Header { format: WeightsFormat::Pytorch, tensors, top_level_key })
}

/// The tensors of the state dict in `top`: the dict itself, or the dict under one of
/// [`CHECKPOINT_KEYS`] when that holds tensors. Values that are not tensors are skipped.
fn state_dict(path: &Path, top: &Value) -> Result<(Option<String>, Vec<(String, std::rc::Rc<Tensor>)>), HeaderError> {
    let Value::Dict(dict) = top else {
        return Err(HeaderError::NotAStateDict { file: path.to_path_buf(), found: top.kind().into() });
    };
    let tensors = |dict: &[(Value, Value)]| -> Vec<(String, std::rc::Rc<Tensor>)> {
        let pairs = dict.iter().filter_map(|(k, v)| match (k, v) {
            (Value::Str(k), Value::Tensor(t)) => Some((k.to_string(), t.clone())),
            _ => None,
        });
        pairs.collect()
    };
    for key in CHECKPOINT_KEYS {
        let inner = dict.borrow().iter().find_map(|(k, v)| match (k, v) {
            (Value::Str(k), Value::Dict(inner)) if &**k == key => Some(tensors(&inner.borrow())),
            _ => None,
        });
        if let Some(found) = inner.filter(|t| !t.is_empty()) {
            return Ok((Some(key.to_string()), found));
        }
    }
    Ok((None, tensors(&dict.borrow())))
}

/// The tensor must lie inside its storage, and the storage's member must hold it.
fn check_storage(
    path: &Path,
    name: &str,
    tensor: &Tensor,
    archive: &str,
    entries: &[Entry],
) -> Result<(), HeaderError> {
    let storage = &tensor.storage;
    let bad = |problem: String| HeaderError::BadTensor { file: path.to_path_buf(), name: name.into(), problem };
    let member = format!("{archive}data/{}", storage.key);
    let entry =
        entries.iter().find(|e| e.name == member).ok_or_else(|| bad(format!("its storage `{member}` is missing")))?;
    let needed = storage.numel.checked_mul(dtype_size(storage.dtype).unwrap_or(1));
    if needed.is_none_or(|n| n > entry.size) {
        return Err(bad(format!("storage `{member}` has {} bytes, {} elements need more", entry.size, storage.numel)));
    }
    if tensor.shape.len() != tensor.stride.len() {
        return Err(bad(format!("size {:?} and stride {:?} differ in rank", tensor.shape, tensor.stride)));
    }
    // The last element's index: offset + Σ (size−1)·stride; an empty tensor has none.
    if tensor.shape.contains(&0) {
        return Ok(());
    }
    let last = tensor
        .shape
        .iter()
        .zip(&tensor.stride)
        .try_fold(tensor.offset, |acc, (&n, &s)| acc.checked_add((n as u64 - 1).checked_mul(s as u64)?));
    match last {
        Some(last) if last < storage.numel => Ok(()),
        _ => Err(bad(format!(
            "shape {:?} at offset {} overruns its storage of {} elements",
            tensor.shape, tensor.offset, storage.numel
        ))),
    }
}
