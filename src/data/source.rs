//! Where samples come from: IDX files, image folders, CSV/JSONL indexes; and seeded splits.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::augment::{BoxLabel, Image};
use crate::ir::{DatasetSpec, SplitSource};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read `{path}`: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a readable image: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("`{path}`: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{0}")]
    Unsupported(String),
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

/// COCO detection: images and their boxes (`bbox` is `[x, y, width, height]`); classes are the
/// categories in id order, as the checker lists them.
pub struct Coco {
    items: Vec<(PathBuf, Vec<BoxLabel>)>,
    channels: usize,
}

impl Coco {
    pub fn open(annotations: &Path, images: &Path, channels: usize) -> Result<Coco, DataError> {
        let format = |message: String| DataError::Format { path: annotations.to_path_buf(), message };
        let text = std::fs::read_to_string(annotations)
            .map_err(|source| DataError::Io { path: annotations.to_path_buf(), source })?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
        let list = |key: &str| json.get(key).and_then(|v| v.as_array()).cloned().unwrap_or_default();
        let mut category_ids: Vec<i64> = list("categories").iter().filter_map(|c| c.get("id")?.as_i64()).collect();
        category_ids.sort_unstable();
        let mut items = Vec::new();
        let mut index = std::collections::HashMap::new();
        for image in list("images") {
            let (Some(id), Some(file)) =
                (image.get("id").and_then(|v| v.as_i64()), image.get("file_name").and_then(|v| v.as_str()))
            else {
                return Err(format("an image without `id` or `file_name`".into()));
            };
            index.insert(id, items.len());
            items.push((images.join(file), Vec::new()));
        }
        for ann in list("annotations") {
            let image = ann.get("image_id").and_then(|v| v.as_i64()).and_then(|id| index.get(&id).copied());
            let class =
                ann.get("category_id").and_then(|v| v.as_i64()).and_then(|c| category_ids.iter().position(|k| *k == c));
            let bbox: Vec<f32> = ann
                .get("bbox")
                .and_then(|v| v.as_array())
                .map(|b| b.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect())
                .unwrap_or_default();
            match (image, class, bbox.as_slice()) {
                (Some(i), Some(class), [x, y, w, h]) => {
                    items[i].1.push(BoxLabel { class, x0: *x, y0: *y, x1: x + w, y1: y + h })
                }
                _ => {
                    return Err(format(format!(
                        "annotation {} has no valid image, category or bbox",
                        ann.get("id").map(|v| v.to_string()).unwrap_or_default()
                    )));
                }
            }
        }
        Ok(Coco { items, channels })
    }
}

impl Source for Coco {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn label(&self, index: usize) -> usize {
        self.items[index].1.first().map_or(0, |b| b.class)
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        let path = &self.items[index].0;
        let img = image::open(path).map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?;
        Ok(Image::from_dynamic(&img, self.channels))
    }
    fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
        Some(self.items[index].1.clone())
    }
}

/// IDX images and labels, held in memory as bytes (Fashion-MNIST is 47 MB).
pub struct Idx {
    images: Vec<u8>,
    labels: Vec<u8>,
    h: usize,
    w: usize,
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let (file, zipped) = if gz.exists() { (gz, true) } else { (path.to_path_buf(), false) };
    let bytes = std::fs::read(&file).map_err(|source| DataError::Io { path: file.clone(), source })?;
    if !zipped {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|source| DataError::Io { path: file, source })?;
    Ok(out)
}

fn be32(b: &[u8], i: usize) -> usize {
    u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]) as usize
}

impl Idx {
    pub fn open(root: &Path, prefix: &str) -> Result<Idx, DataError> {
        let ipath = root.join(format!("{prefix}-images-idx3-ubyte"));
        let lpath = root.join(format!("{prefix}-labels-idx1-ubyte"));
        let images = read_maybe_gz(&ipath)?;
        let labels = read_maybe_gz(&lpath)?;
        if images.len() < 16 || be32(&images, 0) != 0x803 {
            return Err(DataError::Format { path: ipath, message: "not an IDX image file".into() });
        }
        if labels.len() < 8 || be32(&labels, 0) != 0x801 {
            return Err(DataError::Format { path: lpath, message: "not an IDX label file".into() });
        }
        let (n, h, w) = (be32(&images, 1), be32(&images, 2), be32(&images, 3));
        if images.len() < 16 + n * h * w || labels.len() < 8 + n {
            return Err(DataError::Format {
                path: ipath,
                message: format!("truncated: header says {n} images of {h}×{w}"),
            });
        }
        Ok(Idx { images: images[16..16 + n * h * w].to_vec(), labels: labels[8..8 + n].to_vec(), h, w })
    }
}

impl Source for Idx {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn label(&self, index: usize) -> usize {
        self.labels[index] as usize
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        let px = self.h * self.w;
        let data = self.images[index * px..(index + 1) * px].iter().map(|&b| b as f32 / 255.0).collect();
        Ok(Image { c: 1, h: self.h, w: self.w, data })
    }
}

/// Image files with labels: image folders and CSV/JSONL indexes. Decoded on demand.
pub struct Files {
    items: Vec<(PathBuf, usize)>,
    channels: usize,
}

impl Source for Files {
    fn len(&self) -> usize {
        self.items.len()
    }
    fn label(&self, index: usize) -> usize {
        self.items[index].1
    }
    fn image(&self, index: usize) -> Result<Image, DataError> {
        let path = &self.items[index].0;
        let img = image::open(path).map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?;
        Ok(Image::from_dynamic(&img, self.channels))
    }
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp"];

fn folder(dir: &Path, classes: &[String], channels: usize) -> Result<Files, DataError> {
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
    Ok(Files { items, channels })
}

fn index_file(spec: &DatasetSpec, path: &Path, images: &Path) -> Result<Files, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let pair = if spec.source.name == "csv" {
            if i == 0 && line.to_ascii_lowercase().starts_with("path") {
                continue;
            }
            line.rsplit_once(',').map(|(p, l)| (p.trim().to_string(), l.trim().to_string()))
        } else {
            serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| {
                let p = v.get("path")?.as_str()?.to_string();
                let l = v.get("label").map(|l| l.as_str().map(String::from).unwrap_or_else(|| l.to_string()))?;
                Some((p, l))
            })
        };
        let Some((p, l)) = pair else {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!("line {} has no path and label", i + 1),
            });
        };
        let label = spec
            .classes
            .iter()
            .position(|c| *c == l)
            .or_else(|| l.parse().ok().filter(|n: &usize| *n < spec.classes.len()));
        let Some(label) = label else {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!("line {}: unknown class `{l}`", i + 1),
            });
        };
        items.push((images.join(p), label));
    }
    Ok(Files { items, channels: spec.channels })
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

/// Images with same-named PNG masks whose pixel values are class ids.
pub struct Masks {
    items: Vec<(PathBuf, PathBuf)>,
    channels: usize,
    classes: usize,
}

impl Masks {
    pub fn open(images: &Path, masks: &Path, channels: usize, classes: usize) -> Result<Masks, DataError> {
        let entries =
            std::fs::read_dir(images).map_err(|source| DataError::Io { path: images.to_path_buf(), source })?;
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        let mut items = Vec::new();
        for image in files {
            let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mask = masks.join(format!("{stem}.png"));
            if !mask.exists() {
                return Err(DataError::Format { path: image, message: format!("has no mask `{}`", mask.display()) });
            }
            items.push((image, mask));
        }
        Ok(Masks { items, channels, classes })
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
        let path = &self.items[index].0;
        let img = image::open(path).map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?;
        Ok(Image::from_dynamic(&img, self.channels))
    }
    fn mask(&self, index: usize) -> Result<Option<Image>, DataError> {
        let path = &self.items[index].1;
        let img = image::open(path).map_err(|e| DataError::Decode { path: path.clone(), message: e.to_string() })?;
        let gray = img.to_luma8();
        let (w, h) = gray.dimensions();
        let data: Vec<f32> = gray.into_raw().into_iter().map(f32::from).collect();
        if let Some(bad) = data.iter().find(|v| **v as usize >= self.classes) {
            return Err(DataError::Format {
                path: path.clone(),
                message: format!("has class id {bad}, but there are {} classes", self.classes),
            });
        }
        Ok(Some(Image { c: 1, h: h as usize, w: w as usize, data }))
    }
}

/// Opens every split of a dataset. Carved splits take a seeded random fraction of their parent,
/// which keeps the rest.
pub fn open_splits(spec: &DatasetSpec) -> Result<BTreeMap<String, Arc<dyn Source>>, DataError> {
    let path = |name: &str| spec.source.word(name).map(|p| spec.base_dir.join(p));
    let mut out: BTreeMap<String, Arc<dyn Source>> = BTreeMap::new();
    for (name, stored) in spec.stored_splits() {
        let source: Arc<dyn Source> = match spec.source.name.as_str() {
            "idx" => Arc::new(Idx::open(&path("root").unwrap_or_default(), &stored)?),
            "image_folder" => {
                Arc::new(folder(&path("root").unwrap_or_default().join(&stored), &spec.classes, spec.channels)?)
            }
            "coco" => Arc::new(Coco::open(
                &path("annotations").unwrap_or_default(),
                &path("images").unwrap_or_default(),
                spec.channels,
            )?),
            "mask_folder" => Arc::new(Masks::open(
                &path("images").unwrap_or_default(),
                &path("masks").unwrap_or_default(),
                spec.channels,
                spec.classes.len(),
            )?),
            "csv" | "jsonl" => {
                let index = path("path").unwrap_or_default();
                let images =
                    path("images").unwrap_or_else(|| index.parent().map(Path::to_path_buf).unwrap_or_default());
                Arc::new(index_file(spec, &index, &images)?)
            }
            other => return Err(DataError::Unsupported(format!("source `{other}`"))),
        };
        out.insert(name, source);
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
