//! Every example and stdlib file is a test: each must check without errors.
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

use std::path::Path;

use trainc::frontend::{self, Options};
use trainc::host::FsHost;

fn check(path: &Path, skip_data: bool) {
    let mut options = Options::default();
    options.check.skip_data = skip_data;
    let outcome = frontend::check_file(&FsHost, path, &options);
    assert!(!outcome.has_errors(), "{} has errors:\n{}", path.display(), outcome.render(false));
}

fn files(dir: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<_> = std::fs::read_dir(root)
        .expect("folder exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "train"))
        .collect();
    out.sort();
    out
}

#[test]
fn stdlib_files_check() {
    let files = files("stdlib");
    assert!(files.len() >= 5);
    for f in files {
        check(&f, false);
    }
}

#[test]
fn stdlib_modules_are_all_embedded() {
    for f in files("stdlib") {
        let name = format!("std/{}", f.file_stem().and_then(|s| s.to_str()).unwrap_or_default());
        let embedded = trainc::resolve::stdlib::get(&name).unwrap_or_else(|| panic!("{name} is not embedded"));
        assert_eq!(embedded, std::fs::read_to_string(&f).expect("readable"), "{name} differs from its file");
    }
}

#[test]
fn examples_check_without_data() {
    let files = files("examples");
    assert!(files.len() >= 4);
    for f in files {
        check(&f, true);
    }
}

/// With the data present (CI installs Debian's Fashion-MNIST), the headers are read and checked.
#[test]
fn fashion_mnist_checks_against_its_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install dataset-fashion-mnist");
        eprintln!("SKIP: /usr/share/datasets/fashion-mnist is not installed");
        return;
    }
    let path = root.join("examples/fashion_mnist.train");
    let outcome = frontend::check_file(&FsHost, &path, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    let train = outcome.checked.train.expect("train block");
    assert_eq!(train.data.dataset.counts.get("train"), Some(&60_000));
    assert_eq!(train.data.dataset.counts.get("test"), Some(&10_000));
    assert_eq!(train.data.dataset.image_size, Some((28, 28)));
    assert_eq!(outcome.checked.models["cnn"].param_count().value(), Some(1_199_882));
}

/// Parameter counts match PyTorch's (torchvision's ResNet-18 has 11,689,512 with 1000 classes).
#[test]
fn resnet18_parameter_count_matches_torchvision() {
    let text = "use std/backbones.{resnet18}\nuse std/heads.{classifier}\n\
                model r(x: Image[B, 3, 224, 224]) -> Logits[B, 1000] { f = resnet18(x)\n return classifier(f.c5, 1000) }";
    let outcome = frontend::check_text(&FsHost, "r.train", text, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    assert_eq!(outcome.checked.models["r"].param_count().value(), Some(11_689_512));
}

#[test]
fn resnet50_parameter_count_matches_torchvision() {
    let text = "use std/backbones.{resnet50}\nuse std/heads.{classifier}\n\
                model r(x: Image[B, 3, 224, 224]) -> Logits[B, 1000] { f = resnet50(x)\n return classifier(f.c5, 1000) }";
    let outcome = frontend::check_text(&FsHost, "r.train", text, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    assert_eq!(outcome.checked.models["r"].param_count().value(), Some(25_557_032));
}
