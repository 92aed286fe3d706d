//! `mask_folder(images, masks)`: images with same-named PNG masks whose pixel values are class
//! ids (0 is usually the background). Masks carry ids, not names: the dataset lists the classes,
//! and `run` refuses a mask with an id past the checked list, except 255: the ignore label, which
//! the losses and metrics skip (object borders, unlabelled regions).
//!
//! `instances = true`: the masks are instance-id PNGs (16-bit, as Cityscapes' `*_instanceIds.png`)
//! where a pixel of an object holds `class · 1000 + instance` and any other pixel its class id
//! (under 1000, so 255 stays the ignore label); the semantic mask is `id / 1000` for ids from
//! 1000 on, the id itself below. The convention needs no mapping file, and Cityscapes' own
//! files follow it once named like their images.

use std::path::Path;

use super::Probe;
use crate::ir::{Call, DatasetSpec};

pub const NAME: &str = "mask_folder";

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The folder of images.
    pub images: String,
    /// The folder of masks, named like the images with a `.png` extension.
    pub masks: String,
    /// `instances = true`: the masks hold instance ids `class · 1000 + instance`.
    pub instances: bool,
}

impl Args {
    pub fn from_call(call: &Call) -> Option<Args> {
        Some(Args {
            images: call.word("images")?.into(),
            masks: call.word("masks")?.into(),
            instances: call.bool("instances").unwrap_or(false),
        })
    }
}

/// The class of an instance-id pixel: `id / 1000` for an object (`class · 1000 + instance`),
/// the id itself below 1000 (background, stuff classes, the ignore label 255).
pub fn instance_class(id: u16) -> u16 {
    if id >= 1000 { id / 1000 } else { id }
}

/// The samples of the images folder, from its entries `(name, is_dir)` as
/// [`crate::host::Host::list_dir`] gives them (sorted): every file.
pub fn samples(entries: Vec<(String, bool)>) -> Vec<String> {
    entries.into_iter().filter(|(_, dir)| !*dir).map(|(name, _)| name).collect()
}

/// The mask file of an image file: its stem with `.png`.
pub fn mask_name(image: &str) -> String {
    let stem = Path::new(image).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{stem}.png")
}

/// Both folders must exist; the images folder is the `train` split.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let images = spec.base_dir.join(&args.images);
    for dir in [&images, &spec.base_dir.join(&args.masks)] {
        if !p.host.exists(dir) {
            p.missing(dir, p.arg(0));
            return None;
        }
    }
    if let Ok(entries) = p.host.list_dir(&images) {
        super::count_whole(spec, samples(entries).len());
    }
    None
}

#[cfg(feature = "train")]
pub use load::Masks;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::{Path, PathBuf};

    use super::{mask_name, samples};
    use crate::data::source::decode;
    use crate::data::{DataError, Image, Source};
    use crate::host::{FsHost, Host};

    /// Images with their masks, in file-name order.
    pub struct Masks {
        items: Vec<(PathBuf, PathBuf)>,
        channels: usize,
        classes: usize,
        instances: bool,
    }

    impl Masks {
        pub fn open(
            images: &Path,
            masks: &Path,
            channels: usize,
            classes: usize,
            instances: bool,
        ) -> Result<Masks, DataError> {
            let entries =
                FsHost.list_dir(images).map_err(|source| DataError::Io { path: images.to_path_buf(), source })?;
            let mut items = Vec::new();
            for file in samples(entries) {
                let mask = masks.join(mask_name(&file));
                let image = images.join(file);
                if !mask.exists() {
                    return Err(DataError::Format {
                        path: image,
                        message: format!("has no mask `{}`", mask.display()),
                    });
                }
                items.push((image, mask));
            }
            Ok(Masks { items, channels, classes, instances })
        }
    }

    impl Source for Masks {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn label(&self, _index: usize) -> usize {
            0
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            decode(&self.items[index].0, self.channels)
        }
        fn mask(&self, index: usize) -> Result<Option<Image>, DataError> {
            let path = &self.items[index].1;
            // Upright like its image.
            let img = crate::data::source::open_image(path)
                .map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?;
            let (w, h, data): (u32, u32, Vec<f32>) = if self.instances {
                let ids = img.to_luma16();
                let (w, h) = ids.dimensions();
                (w, h, ids.into_raw().into_iter().map(|id| f32::from(super::instance_class(id))).collect())
            } else {
                let gray = img.to_luma8();
                let (w, h) = gray.dimensions();
                (w, h, gray.into_raw().into_iter().map(f32::from).collect())
            };
            if let Some(bad) =
                data.iter().find(|v| **v as usize >= self.classes && **v as usize != super::super::IGNORE)
            {
                return Err(DataError::Format {
                    path: path.clone(),
                    message: format!("has class id {bad}, but there are {} classes", self.classes),
                });
            }
            Ok(Some(Image { c: 1, h: h as usize, w: w as usize, data }))
        }
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    const SEGMENT: &str =
        "model m(x: Image[B, 1, 8, 8]) -> Mask[B, classes, 8, 8] { return x |> conv2d(classes, k = 1) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy()
  optimizer = sgd(lr = 0.1)
  epochs = 1
}
";

    /// Masks carry ids: every id `run` loads is a class of the list `check` took, and the image
    /// drawn in a class's gray level has that class's id in its mask.
    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("mask_folder");
        let names = ["background", "road", "car"];
        for (i, k) in [1u8, 2, 0, 2].into_iter().enumerate() {
            testing::gray(&dir.join("images").join(format!("{i}.png")), 40 * (k + 1), 8);
            testing::gray(&dir.join("masks").join(format!("{i}.png")), k, 8);
        }
        let text = format!(
            "dataset d = mask_folder(images = \"{}\", masks = \"{}\") {{\n  classes = [\"background\", \"road\", \"car\"]\n  channels = 1\n}}\n{SEGMENT}",
            dir.join("images").display(),
            dir.join("masks").display()
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, names);
        assert_eq!(spec.counts["train"], 4);
        let splits = testing::open(&spec);
        let train = splits["train"].as_ref();
        let drawn: Vec<&str> = testing::first_pixels(train).iter().map(|v| names[*v as usize / 40 - 1]).collect();
        let masked: Vec<&str> = (0..train.len())
            .map(|i| {
                let mask = train.mask(i).expect("mask").expect("a segmentation source");
                names[mask.data[0] as usize]
            })
            .collect();
        assert_eq!(masked, drawn);
        // An id past the list is refused, naming the mask.
        testing::gray(&dir.join("masks").join("3.png"), 3, 8);
        let error = train.mask(3).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("3.png") && error.contains("class id 3"), "{error}");
    }

    /// `instances = true`: 16-bit instance ids `class · 1000 + instance` become their class;
    /// ids under 1000 are classes themselves, and 255 is kept as the ignore label.
    #[test]
    fn instance_ids_become_classes() {
        let dir = testing::dir("mask_folder_instances");
        let ids: [u16; 16] = [0, 0, 1001, 1001, 0, 2000, 2003, 1002, 255, 255, 2, 2, 0, 0, 0, 0];
        for i in 0..2 {
            testing::gray(&dir.join("images").join(format!("{i}.png")), 80, 4);
            std::fs::create_dir_all(dir.join("masks")).expect("dir");
            let mask = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(4, 4, ids.to_vec()).expect("mask");
            mask.save(dir.join("masks").join(format!("{i}.png"))).expect("save");
        }
        let text = format!(
            "dataset d = mask_folder(images = \"{}\", masks = \"{}\", instances = true) {{\n  classes = [\"background\", \"person\", \"car\"]\n  channels = 1\n}}\n{}",
            dir.join("images").display(),
            dir.join("masks").display(),
            SEGMENT.replace("8, 8]", "4, 4]")
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.counts["train"], 2);
        let splits = testing::open(&spec);
        let mask = splits["train"].mask(0).expect("mask").expect("a segmentation source");
        let classes: Vec<u16> = mask.data.iter().map(|v| *v as u16).collect();
        assert_eq!(classes, [0, 0, 1, 1, 0, 2, 2, 1, 255, 255, 2, 2, 0, 0, 0, 0]);
    }
}
