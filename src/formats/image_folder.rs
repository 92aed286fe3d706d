//! `image_folder(root)`: one sub-folder per split (`train/`, `val/`…), in it one sub-folder of
//! images per class. The classes are the class folders' names in sorted order; `run` numbers the
//! labels by that list, so a file in `cat/` gets the index of `"cat"`.

use super::Probe;
use crate::ir::DatasetSpec;

pub const NAME: &str = "image_folder";

/// Its one argument: the root folder.
pub type Args = super::RootArgs;

/// The classes of a split folder, from its entries `(name, is_dir)` as [`crate::host::Host::list_dir`]
/// gives them (sorted): the sub-folders' names.
pub fn class_names(entries: Vec<(String, bool)>) -> Vec<String> {
    entries.into_iter().filter(|(_, dir)| *dir).map(|(name, _)| name).collect()
}

/// The classes are those of the first stored split (in split-name order).
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let root = spec.base_dir.join(&args.root);
    let mut classes = None;
    for (split, sub) in spec.stored_splits() {
        let dir = root.join(&sub);
        let at = p.split(&split);
        let Ok(entries) = p.host.list_dir(&dir) else {
            p.missing(&dir, at);
            return None;
        };
        let names = class_names(entries);
        if names.is_empty() {
            p.format(
                format!("`{}` has no class folders", dir.display()),
                "put each class's images in a sub-folder named after the class",
                at,
            );
        }
        classes.get_or_insert(names);
    }
    classes
}

#[cfg(feature = "train")]
pub use load::open;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::{Path, PathBuf};

    use crate::data::source::Files;
    use crate::data::{DataError, IMAGE_EXTENSIONS};

    /// A split folder's images, labelled by the index of their class folder's name in `classes`
    /// (the checked list), in path order within each class.
    pub fn open(dir: &Path, classes: &[String], channels: usize) -> Result<Files, DataError> {
        let mut items = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let class_dir = dir.join(class);
            let entries =
                std::fs::read_dir(&class_dir).map_err(|source| DataError::Io { path: class_dir.clone(), source })?;
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                })
                .collect();
            files.sort();
            items.extend(files.into_iter().map(|p| (p, label)));
        }
        Ok(Files::new(items, channels))
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    /// The classes `check` reads from the folders are the ones `run` labels the images with: each
    /// image is drawn in its class's gray level, in folders listed out of order on disk.
    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("image_folder");
        let names = ["bird", "cat", "dog"];
        for (split, n) in [("train", 3), ("val", 1)] {
            // Written in reverse so the order on disk is not the sorted order.
            for (k, class) in names.iter().enumerate().rev() {
                for i in 0..n {
                    testing::gray(&dir.join(split).join(class).join(format!("{i}.png")), 40 * (k as u8 + 1), 8);
                }
            }
        }
        std::fs::write(dir.join("train").join("README.txt"), "a file, not a class").expect("write");
        let text = format!(
            "dataset d = image_folder(\"{}\") {{\n  val = \"val\"\n  channels = 1\n}}\n{}",
            dir.display(),
            testing::CLASSIFY.replace("C, H, W", "1, 8, 8")
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, names);
        let splits = testing::open(&spec);
        for split in ["train", "val"] {
            let source = splits[split].as_ref();
            assert_eq!(source.len(), if split == "train" { 9 } else { 3 });
            let drawn: Vec<&str> = testing::first_pixels(source).iter().map(|v| names[*v as usize / 40 - 1]).collect();
            assert_eq!(testing::loaded_names(&spec, source), drawn, "split `{split}`");
        }
    }
}
