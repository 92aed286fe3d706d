//! Where samples come from: the [`Source`] trait, the errors of reading data, and every split of
//! a dataset opened by its format's loader (`crate::formats`), seeded splits carved out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::augment::{BoxLabel, Image};
use crate::formats::{self, coco::Coco, idx::Idx, mask_folder::Masks, voc::Voc, yolo::Yolo};
use crate::ir::{self, DatasetSpec, SplitSource};

/// Image file extensions an image folder's loader takes.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp"];

/// Why a sample could not be loaded. Each variant names the file or the sample index.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DataError {
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(code(trainc::data::read))]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a readable image: {message}")]
    #[diagnostic(code(trainc::data::decode), help("remove or replace the file"))]
    Decode { path: PathBuf, message: String },
    /// An image that cannot be read or decoded, named with its split.
    #[error("split `{split}`: `{path}` is not a readable image: {message}")]
    #[diagnostic(
        code(trainc::data::unreadable),
        help("remove or replace the file, or set `skip_bad = true` on the dataset to leave such images out")
    )]
    Unreadable { split: String, path: PathBuf, message: String },
    #[error("`{path}`: {message}")]
    #[diagnostic(code(trainc::data::format))]
    Format { path: PathBuf, message: String },
    #[error("sample {index}: the mask is {mask_h}×{mask_w} but the image is {image_h}×{image_w} after augmentation")]
    #[diagnostic(code(trainc::data::mask_size), help("give masks the size of their images"))]
    MaskSize { index: usize, mask_h: usize, mask_w: usize, image_h: usize, image_w: usize },
    #[error("sample {index} is {found} after augmentation but the batch is {batch}")]
    #[diagnostic(code(trainc::data::sample_size), help("add `resize` to the pipeline so every sample has one size"))]
    SampleSize { index: usize, found: String, batch: String },
    #[error("a loader worker thread panicked while loading samples {first}..={last}")]
    #[diagnostic(code(trainc::data::worker))]
    Worker { first: usize, last: usize },
}

/// Labelled images, addressed by index.
pub trait Source: Send + Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn label(&self, index: usize) -> usize;
    fn image(&self, index: usize) -> Result<Image, DataError>;
    /// The mask of class ids (one channel), for segmentation sources.
    fn mask(&self, _index: usize) -> Result<Option<Image>, DataError> {
        Ok(None)
    }
    /// The labelled boxes, for detection sources.
    fn boxes(&self, _index: usize) -> Option<Vec<BoxLabel>> {
        None
    }
}

/// Decodes an image file to `channels` channels; the error names the file.
pub fn decode(path: &Path, channels: usize) -> Result<Image, DataError> {
    let img = image::open(path).map_err(|e| DataError::Decode { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(Image::from_dynamic(&img, channels))
}

/// Image files with labels: image folders and CSV/JSONL indexes. Decoded on demand.
pub struct Files {
    items: Vec<(PathBuf, usize)>,
    channels: usize,
}

impl Files {
    /// Image paths with their class indices.
    pub fn new(items: Vec<(PathBuf, usize)>, channels: usize) -> Files {
        Files { items, channels }
    }
}

impl Source for Files {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn label(&self, index: usize) -> usize {
        self.items[index].1
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        decode(&self.items[index].0, self.channels)
    }
}

/// A subset of another source (a seeded split).
struct Subset {
    base: Arc<dyn Source>,
    indices: Vec<usize>,
}

impl Source for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn label(&self, index: usize) -> usize {
        self.base.label(self.indices[index])
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        self.base.image(self.indices[index])
    }
    fn mask(&self, index: usize) -> Result<Option<Image>, DataError> {
        self.base.mask(self.indices[index])
    }
    fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
        self.base.boxes(self.indices[index])
    }
}

/// Opens every split of a dataset. Carved splits take a seeded random fraction of their parent,
/// which keeps the rest.
pub fn open_splits(spec: &DatasetSpec) -> Result<BTreeMap<String, Arc<dyn Source>>, DataError> {
    let mut out: BTreeMap<String, Arc<dyn Source>> = BTreeMap::new();
    for (name, split) in &spec.splits {
        match split {
            SplitSource::Stored(stored) => {
                out.insert(name.clone(), open(spec, stored)?);
            }
            SplitSource::Own(source) => {
                out.insert(name.clone(), open(&spec.own_split(name, source), &source.whole(name))?);
            }
            SplitSource::Carve { .. } => {}
        }
    }
    // Every stored split names itself in read errors, or drops what cannot be read.
    for (name, source) in out.iter_mut() {
        let (named, skipped) = super::bad::Named::new(source.clone(), name, spec.skip_bad, 4);
        if let Some((path, message)) = &skipped.first {
            eprintln!(
                "warning: dataset `{}`: skipped {} unreadable image(s) of split `{name}` (first: `{}`: {message})",
                spec.name,
                skipped.count,
                path.display()
            );
        }
        *source = Arc::new(named);
    }
    for (name, split) in &spec.splits {
        let SplitSource::Carve { of, fraction, seed } = split else { continue };
        let Some(parent) = out.get(of).cloned() else { continue };
        let mut indices: Vec<usize> = (0..parent.len()).collect();
        indices.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(*seed));
        let cut = ((parent.len() as f64) * fraction).round() as usize;
        let carved = indices[..cut].to_vec();
        let mut rest = indices[cut..].to_vec();
        rest.sort_unstable();
        out.insert(name.clone(), Arc::new(Subset { base: parent.clone(), indices: carved }));
        out.insert(of.clone(), Arc::new(Subset { base: parent, indices: rest }));
    }
    Ok(out)
}

/// Opens a stored split: an IDX prefix, an image folder's sub-folder, or (for formats that
/// store one set) the whole data.
fn open(spec: &DatasetSpec, stored: &str) -> Result<Arc<dyn Source>, DataError> {
    let path = |p: &str| spec.base_dir.join(p);
    Ok(match &spec.source {
        ir::Source::Idx(a) => Arc::new(Idx::open(&path(&a.root), stored)?),
        ir::Source::ImageFolder(a) => {
            Arc::new(formats::image_folder::open(&path(&a.root).join(stored), &spec.classes, spec.channels)?)
        }
        ir::Source::Index(a) => Arc::new(formats::index_file::open(a, spec)?),
        ir::Source::Coco(a) => Arc::new(Coco::open(&path(&a.annotations), &path(&a.images), spec.channels, a.masks)?),
        ir::Source::MaskFolder(a) => {
            Arc::new(Masks::open(&path(&a.images), &path(&a.masks), spec.channels, spec.classes.len())?)
        }
        ir::Source::Voc(a) => Arc::new(Voc::open(&path(&a.root), a, stored, &spec.classes, spec.channels)?),
        ir::Source::Yolo(a) => Arc::new(Yolo::open(&path(&a.path), stored, &spec.classes, spec.channels)?),
    })
}
