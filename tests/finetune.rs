//! `examples/finetune.train` end to end: the ResNet-18 backbone is frozen for two epochs, then
//! trains at a tenth of the rate. The run is split into three (`epochs=1`, then `--resume` to 2
//! and to 3) so `last.bpk` can be read after each epoch, through the library, by checkpoint key.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{text, trainc};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use trainc::exec::{Net, transplant};
use trainc::frontend::{self, Options};
use trainc::host::FsHost;

/// Trains to `epochs` in total (resuming `run` when given); returns the run directory.
fn train_to(dir: &Path, epochs: usize, run: Option<&Path>) -> (PathBuf, String) {
    let epochs = format!("epochs={epochs}");
    let mut args = vec!["run", "finetune.train", "--profile", "fast", "data.batch=8", "data.limit_batches=2", &epochs];
    let resume = run.map(|r| r.to_string_lossy().into_owned());
    match &resume {
        Some(r) => args.extend(["--resume", r.as_str()]),
        None => args.extend(["--runs-dir", "runs"]),
    }
    let out = trainc(dir, &args);
    assert!(out.status.success(), "{}", text(&out));
    let run = run.map(Path::to_path_buf).unwrap_or_else(|| {
        let model = dir.join("runs/finetune");
        std::fs::read_dir(&model).expect("runs/finetune").flatten().next().expect("one run").path()
    });
    (run, text(&out))
}

/// Every tensor of a checkpoint, as bytes by key.
fn weights(net: &Net, path: &Path) -> BTreeMap<String, Vec<u8>> {
    let loaded = net.clone().try_load_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    transplant::values(&loaded)
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn the_frozen_backbone_moves_only_after_it_unfreezes() {
    let dir = common::scratch("test-finetune");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/finetune.train");
    std::fs::copy(&example, dir.join("finetune.train")).expect("copy the example");
    let out = trainc(&dir, &["gen-data", "shapes-folder", "data/shapes_folder", "--per-class", "8", "--seed", "1"]);
    assert!(out.status.success(), "{}", text(&out));

    // Each epoch's weights, from `last.bpk` after it.
    let mut after = Vec::new();
    let (run, _) = train_to(&dir, 1, None);
    let last = run.join("checkpoints/last.bpk");
    let keep = |n: usize| {
        let copy = dir.join(format!("epoch{n}.bpk"));
        std::fs::copy(&last, &copy).expect("copy last.bpk");
        copy
    };
    after.push(keep(1));
    train_to(&dir, 2, Some(&run));
    after.push(keep(2));
    let (_, log) = train_to(&dir, 3, Some(&run));
    after.push(keep(3));
    assert!(log.contains("unfroze resnet180 at epoch 3"), "{log}");

    let mut options = Options::default();
    options.resolve.profile = Some("fast".into());
    let outcome = frontend::check_file(&FsHost, &dir.join("finetune.train"), &options);
    let net = Net::build(&outcome.checked.models["finetune"], &Device::flex()).expect("the model compiles");
    let [e1, e2, e3] = [0, 1, 2].map(|i| weights(&net, &after[i]));

    let backbone: Vec<&String> = e1.keys().filter(|k| k.starts_with("layers.resnet180.")).collect();
    let head: Vec<&String> = e1.keys().filter(|k| k.starts_with("layers.classifier0.")).collect();
    assert!(backbone.len() > 50 && head.len() == 2, "keys: {:?}", e1.keys().collect::<Vec<_>>());
    for key in &backbone {
        // Frozen in epoch 2: no update, no weight decay, no momentum left over.
        assert!(e1[*key] == e2[*key], "{key} changed while frozen");
        // Trains in epoch 3 (weight decay alone moves every weight).
        assert!(e2[*key] != e3[*key], "{key} did not change after unfreezing");
    }
    // Frozen batch norms normalise with their running statistics and leave them at their
    // initial values (mean 0, variance 1) all through the first two epochs.
    for key in backbone.iter().filter(|k| k.contains(".running_")) {
        let expected = if key.ends_with("running_mean") { 0.0 } else { 1.0 };
        assert!(floats(&e2[*key]).iter().all(|v| *v == expected), "{key} moved while frozen");
    }
    for key in &head {
        assert!(e1[*key] != e2[*key] && e2[*key] != e3[*key], "the head {key} did not train");
    }
}
