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
use std::rc::Rc;

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
        help(
            "nothing was executed; save `model.state_dict()` rather than the model object, or convert the weights to `.safetensors`"
        )
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

/// Named tensors of a state dict, in file order.
type Tensors = Vec<(String, Rc<Tensor>)>;

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
fn state_dict(path: &Path, top: &Value) -> Result<(Option<String>, Tensors), HeaderError> {
    let Value::Dict(dict) = top else {
        return Err(HeaderError::NotAStateDict { file: path.to_path_buf(), found: top.kind().into() });
    };
    let tensors = |dict: &[(Value, Value)]| -> Tensors {
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::io::Write;

    use super::*;
    use crate::host::MemHost;

    /// A stored (method 0) or deflated (method 8) zip of `members`, as `torch.save` lays it out.
    fn zip_of(members: &[(&str, Vec<u8>, u16)]) -> Vec<u8> {
        let (mut out, mut central) = (Vec::new(), Vec::new());
        for (name, data, method) in members {
            let stored = match method {
                8 => {
                    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                    enc.write_all(data).expect("deflate");
                    enc.finish().expect("deflate")
                }
                _ => data.clone(),
            };
            let fixed = |sig: u32| {
                let mut h = sig.to_le_bytes().to_vec();
                h.extend([20, 0, 0, 0]);
                h.extend(method.to_le_bytes());
                h.extend([0; 8]); // time, date, crc (not checked)
                h.extend((stored.len() as u32).to_le_bytes());
                h.extend((data.len() as u32).to_le_bytes());
                h.extend((name.len() as u16).to_le_bytes());
                h
            };
            let mut c = fixed(0x0201_4b50);
            c.splice(4..4, [20, 0]); // "version made by" comes first in the central header
            c.extend([0; 12]);
            c.extend((out.len() as u32).to_le_bytes());
            c.extend(name.as_bytes());
            central.extend(c);
            out.extend(fixed(0x0403_4b50));
            out.extend([0, 0]);
            out.extend(name.as_bytes());
            out.extend(stored);
        }
        let (count, at) = ((members.len() as u16).to_le_bytes(), (out.len() as u32).to_le_bytes());
        let size = (central.len() as u32).to_le_bytes();
        out.extend(central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0, 0, 0, 0, count[0], count[1], count[0], count[1]]);
        out.extend(size.into_iter().chain(at).chain([0, 0]));
        out
    }

    /// BINUNICODE `text`.
    fn s(text: &str) -> Vec<u8> {
        [&[b'X'][..], &(text.len() as u32).to_le_bytes(), text.as_bytes()].concat()
    }

    /// `_rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict())` as torch.save writes it.
    fn tensor(class: &str, key: &str, numel: u8, shape: &[u8]) -> Vec<u8> {
        let ints = |v: &[u8]| -> Vec<u8> {
            let mut out = vec![b'('];
            v.iter().for_each(|&d| out.extend([b'K', d]));
            out.push(b't');
            out
        };
        let stride: Vec<u8> = (0..shape.len()).map(|i| shape[i + 1..].iter().product()).collect();
        let mut out = b"ctorch._utils\n_rebuild_tensor_v2\n((".to_vec();
        out.extend([s("storage"), format!("ctorch\n{class}\n").into_bytes(), s(key), s("cpu")].concat());
        out.extend([b'K', numel, b't', b'Q', b'K', 0]);
        out.extend([ints(shape), ints(&stride), b"\x89ccollections\nOrderedDict\n)Rt".to_vec()].concat());
        out.extend(b"R");
        out
    }

    /// A pickled dict `{name: value, …}` (values already pickled).
    fn dict(items: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"}q\x00(".to_vec();
        items.iter().for_each(|(k, v)| out.extend([s(k), v.clone()].concat()));
        out.push(b'u');
        out
    }

    fn pt(pickle_body: Vec<u8>, storages: &[(&str, usize)]) -> Vec<u8> {
        let pickle = [b"\x80\x02".to_vec(), pickle_body, b".".to_vec()].concat();
        let mut members = vec![("archive/data.pkl", pickle, 0)];
        let names: Vec<String> = storages.iter().map(|(k, _)| format!("archive/data/{k}")).collect();
        members.extend(names.iter().zip(storages).map(|(n, (_, bytes))| (n.as_str(), vec![0; *bytes], 0)));
        zip_of(&members)
    }

    fn read(file: &str, bytes: Vec<u8>) -> Result<Header, HeaderError> {
        read_header(&MemHost::new().with(file, bytes), Path::new(file))
    }

    fn info(dtype: &str, shape: &[usize]) -> TensorInfo {
        TensorInfo { dtype: dtype.into(), shape: shape.to_vec() }
    }

    fn safetensors_file(json: &str, data: usize) -> Vec<u8> {
        [&(json.len() as u64).to_le_bytes()[..], json.as_bytes(), &vec![0; data]].concat()
    }

    #[test]
    fn safetensors_index_skips_the_metadata() {
        let json = r#"{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
            "a.steps":{"dtype":"I64","shape":[],"data_offsets":[24,32]}}"#;
        let header = read("w.safetensors", safetensors_file(json, 32)).expect("reads");
        assert_eq!(header.format, WeightsFormat::Safetensors);
        let expected = [("a.steps".to_string(), info("I64", &[])), ("a.weight".to_string(), info("F32", &[2, 3]))];
        assert_eq!(header.tensors, BTreeMap::from(expected));
    }

    #[test]
    fn safetensors_sizes_are_validated() {
        let wrong_span = r#"{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,4]}}"#;
        let err = read("w.safetensors", safetensors_file(wrong_span, 8)).expect_err("8 bytes needed");
        assert!(matches!(&err, HeaderError::BadTensor { name, .. } if name == "a"), "{err}");
        let past_end = r#"{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}"#;
        let err = read("w.safetensors", safetensors_file(past_end, 4)).expect_err("past the end");
        assert!(err.to_string().contains("outside the 4 bytes"), "{err}");
        let mut huge = safetensors_file("{}", 0);
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(read("w.safetensors", huge), Err(HeaderError::BadHeader { .. })));
        let not_json = read("w.safetensors", safetensors_file("{nope", 0)).expect_err("bad json");
        assert!(not_json.to_string().contains("invalid JSON"), "{not_json}");
        assert!(matches!(read("w.safetensors", vec![1, 2]), Err(HeaderError::Truncated { .. })));
    }

    #[test]
    fn a_state_dict_gives_names_dtypes_and_shapes() {
        let body =
            dict(&[("fc.weight", tensor("FloatStorage", "0", 6, &[2, 3])), ("n", tensor("LongStorage", "1", 1, &[]))]);
        let header = read("m.pt", pt(body, &[("0", 24), ("1", 8)])).expect("reads");
        assert_eq!(header.format, WeightsFormat::Pytorch);
        assert_eq!(header.top_level_key, None);
        assert_eq!(header.tensors["fc.weight"], info("F32", &[2, 3]));
        assert_eq!(header.tensors["n"], info("I64", &[]));
    }

    #[test]
    fn a_checkpoint_dict_records_its_key_and_skips_other_values() {
        let inner = dict(&[("w", tensor("HalfStorage", "0", 4, &[4]))]);
        let body = dict(&[("epoch", b"K\x03".to_vec()), ("lr", b"G\0\0\0\0\0\0\0\0".to_vec()), ("model", inner)]);
        let header = read("c.pth", pt(body, &[("0", 8)])).expect("reads");
        assert_eq!(header.top_level_key.as_deref(), Some("model"));
        assert_eq!(header.tensors, BTreeMap::from([("w".to_string(), info("F16", &[4]))]));
    }

    #[test]
    fn a_deflated_data_pkl_and_a_parameter_are_read() {
        let param =
            [b"ctorch._utils\n_rebuild_parameter\n".to_vec(), tensor("BFloat16Storage", "0", 6, &[3, 2])].concat();
        let body = dict(&[("p", [param, b"\x88ccollections\nOrderedDict\n)R\x87R".to_vec()].concat())]);
        let pickle = [b"\x80\x02".to_vec(), body, b".".to_vec()].concat();
        let file = zip_of(&[("a/data.pkl", pickle, 8), ("a/data/0", vec![0; 12], 0)]);
        assert_eq!(read("p.pt", file).expect("reads").tensors["p"], info("BF16", &[3, 2]));
    }

    #[test]
    fn a_storage_too_small_for_its_tensor_is_reported() {
        let body = dict(&[("w", tensor("FloatStorage", "0", 6, &[2, 3]))]);
        let err = read("m.pt", pt(body, &[("0", 20)])).expect_err("24 bytes needed");
        assert!(matches!(&err, HeaderError::BadTensor { name, .. } if name == "w"), "{err}");
        let overrun = dict(&[("w", tensor("FloatStorage", "0", 5, &[2, 3]))]);
        let err = read("m.pt", pt(overrun, &[("0", 24)])).expect_err("6 elements in a storage of 5");
        assert!(err.to_string().contains("overruns"), "{err}");
    }

    #[test]
    fn any_other_global_is_refused_before_the_next_opcode() {
        // `os.system("touch x")`, followed by bytes that are no opcode at all.
        let evil = [b"cposix\nsystem\nq\x00".to_vec(), s("touch x"), b"\x85R\xff\xff".to_vec()].concat();
        let err = read("evil.pt", pt(evil, &[])).expect_err("refused");
        assert!(matches!(&err, HeaderError::UnsafePickle { global, .. } if global == "posix.system"), "{err}");
        assert_eq!(
            err.to_string(),
            "refusing to load `evil.pt`: the pickle calls `posix.system`, PyTorch weights only call tensor rebuild functions"
        );
        let stack_global = [s("builtins"), s("eval"), vec![0x93]].concat();
        let err = read("e.pt", pt(stack_global, &[])).expect_err("refused");
        assert!(matches!(&err, HeaderError::UnsafePickle { global, .. } if global == "builtins.eval"), "{err}");
    }

    #[test]
    fn an_unsupported_opcode_is_named_with_its_offset() {
        let err = read("m.pt", pt(b"}\x81".to_vec(), &[])).expect_err("NEWOBJ");
        assert!(matches!(err, HeaderError::UnsupportedOpcode { opcode: 0x81, offset: 3, .. }), "{err}");
        let err = read("m.pt", pt(b"}q\x00h\x07".to_vec(), &[])).expect_err("memo 7");
        assert!(matches!(err, HeaderError::BadPickle { offset: 5, .. }), "{err}");
    }

    #[test]
    fn files_that_are_not_torch_zips_are_named() {
        assert!(matches!(read("old.pt", b"\x80\x02\x8a\x0a".to_vec()), Err(HeaderError::Legacy { .. })));
        assert!(matches!(read("x.pt", b"hello world".to_vec()), Err(HeaderError::NotAZip { .. })));
        let no_pkl = zip_of(&[("a/version", b"3".to_vec(), 0)]);
        assert!(matches!(read("z.pt", no_pkl), Err(HeaderError::NoDataPkl { .. })));
        let list = pt(b"]".to_vec(), &[]);
        assert!(matches!(read("l.pt", list), Err(HeaderError::NotAStateDict { found, .. }) if found == "a list"));
        let missing = read_header(&MemHost::new(), Path::new("gone.pt")).expect_err("missing");
        assert!(matches!(&missing, HeaderError::NotFound { file } if file == Path::new("gone.pt")));
        assert_eq!(
            miette::Diagnostic::code(&missing).map(|c| c.to_string()).as_deref(),
            Some("trainc::weights::not_found")
        );
    }

    #[test]
    fn a_cut_or_corrupted_pickle_is_an_error_never_a_panic() {
        let body = dict(&[("a", tensor("FloatStorage", "0", 6, &[2, 3])), ("b", tensor("LongStorage", "1", 1, &[1]))]);
        let pickle = [b"\x80\x02".to_vec(), body, b".".to_vec()].concat();
        let file = Path::new("m.pt");
        for cut in 0..pickle.len() {
            assert!(super::pickle::load(file, &pickle[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..pickle.len() {
            for byte in [0x00, 0xff, b'R', b'h', b'u', b'(', b'Q', 0x85] {
                let mut bent = pickle.clone();
                bent[at] = byte;
                let _ = super::pickle::load(file, &bent);
            }
        }
    }

    /// A host that counts the bytes read.
    struct Counting(MemHost, Cell<u64>);

    impl Host for Counting {
        fn read_to_string(&self, path: &Path) -> io::Result<String> {
            self.0.read_to_string(path)
        }
        fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
            self.0.read_head(path, max)
        }
        fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
            self.0.list_dir(path)
        }
        fn exists(&self, path: &Path) -> bool {
            self.0.exists(path)
        }
        fn read_at(&self, path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
            self.1.set(self.1.get() + len as u64);
            self.0.read_at(path, offset, len)
        }
        fn file_len(&self, path: &Path) -> io::Result<u64> {
            self.0.file_len(path)
        }
    }

    #[test]
    fn the_header_of_a_100_mb_file_reads_kilobytes() {
        // resnet50's size: the tensor data is never read, only the directory and `data.pkl`.
        let big = 100 << 20;
        let body = dict(&[("w", tensor("ByteStorage", "0", 0, &[0])), ("x", tensor("FloatStorage", "1", 4, &[4]))]);
        let host = Counting(MemHost::new().with("r50.pt", pt(body, &[("0", big), ("1", 16)])), Cell::new(0));
        let header = read_header(&host, Path::new("r50.pt")).expect("reads");
        assert_eq!(header.tensors.len(), 2);
        assert!(host.1.get() < 100_000, "read {} bytes", host.1.get());
        let json = r#"{"x":{"dtype":"U8","shape":[104857600],"data_offsets":[0,104857600]}}"#;
        let host = Counting(MemHost::new().with("r50.safetensors", safetensors_file(json, big)), Cell::new(0));
        read_header(&host, Path::new("r50.safetensors")).expect("reads");
        assert_eq!(host.1.get(), 8 + json.len() as u64);
    }
}
