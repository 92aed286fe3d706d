//! `read_header` on files PyTorch itself wrote: torchvision's ResNet-18 (and -50) state dict as `.pth`, as
//! a checkpoint dict and as `.safetensors` give exactly the names, dtypes and shapes Python
//! prints; a `torch.save`d object whose `__reduce__` calls `os.system` is refused and nothing
//! runs. Needs torch, torchvision and safetensors at `TRAINC_TORCH_PYTHON`; skipped without
//! them, except in CI.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use trainc::host::FsHost;
use trainc::weights::header::{HeaderError, WeightsFormat, read_header};

const SCRIPT: &str = r#"
import json, os, sys, torch, torchvision
from safetensors.torch import save_file
out, marker = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
sd = torchvision.models.resnet18(weights=None).state_dict()
torch.save(sd, f"{out}/r18.pth")
torch.save({"state_dict": sd, "epoch": 3, "lr": 0.1, "arch": "resnet18"}, f"{out}/ckpt.pt")
save_file({k: v.contiguous() for k, v in sd.items()}, f"{out}/r18.safetensors")
torch.save(sd, f"{out}/legacy.pt", _use_new_zipfile_serialization=False)
r50 = torchvision.models.resnet50(weights=None).state_dict()
torch.save(r50, f"{out}/r50.pth")

class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {marker}",))

torch.save({"conv.weight": Evil()}, f"{out}/evil.pt")
dtypes = {torch.float32: "F32", torch.int64: "I64"}
index = lambda d: {k: [dtypes[v.dtype], list(v.shape)] for k, v in d.items()}
print(json.dumps([index(sd), index(r50)]))
"#;

/// name → (dtype, shape), as Python prints it.
type Index = BTreeMap<String, (String, Vec<usize>)>;

/// Writes the files into a fresh folder; returns it and the ResNet-18 and ResNet-50 indexes.
fn write_files(python: &str, marker: &Path) -> (common::Scratch, [Index; 2]) {
    let dir = common::scratch("weights-header");
    let out = Command::new(python)
        .args(["-c", SCRIPT, dir.to_str().expect("utf-8"), marker.to_str().expect("utf-8")])
        .env("OMP_NUM_THREADS", "1")
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (dir, serde_json::from_slice(&out.stdout).expect("python prints the index"))
}

fn index(path: &Path) -> (trainc::weights::header::Header, Index) {
    let header = read_header(&FsHost, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let index = header.tensors.iter().map(|(k, t)| (k.clone(), (t.dtype.clone(), t.shape.clone()))).collect();
    (header, index)
}

#[test]
fn pytorch_and_safetensors_headers_match_what_python_prints() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let marker = std::env::temp_dir().join(format!("trainc-pwned-{}", std::process::id()));
    let (dir, [expected, r50]) = write_files(&python, &marker);
    assert_eq!(expected.len(), 122, "resnet18 has 122 state dict entries");
    assert_eq!(index(&dir.join("r50.pth")).1, r50);

    let (pth, found) = index(&dir.join("r18.pth"));
    assert_eq!((pth.format, pth.top_level_key), (WeightsFormat::Pytorch, None));
    assert_eq!(found, expected);

    let (ckpt, found) = index(&dir.join("ckpt.pt"));
    assert_eq!(ckpt.top_level_key.as_deref(), Some("state_dict"));
    assert_eq!(found, expected);

    let (st, found) = index(&dir.join("r18.safetensors"));
    assert_eq!(st.format, WeightsFormat::Safetensors);
    assert_eq!(found, expected);

    let legacy = read_header(&FsHost, &dir.join("legacy.pt")).expect_err("legacy format");
    assert!(matches!(legacy, HeaderError::Legacy { .. }), "{legacy}");

    // The malicious file: refused by name, and the command never ran.
    let evil = read_header(&FsHost, &dir.join("evil.pt")).expect_err("refused");
    let HeaderError::UnsafePickle { global, file } = &evil else { panic!("expected UnsafePickle, got {evil}") };
    assert!(global == "posix.system" || global == "os.system" || global == "nt.system", "{global}");
    assert_eq!(file, &dir.join("evil.pt"));
    assert!(evil.to_string().contains("refusing to load"), "{evil}");
    assert!(!marker.exists(), "the pickle's command ran");
}
