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
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

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
    let img = open_image(path).map_err(|e| DataError::Decode { path: path.to_path_buf(), message: e.to_string() })?;
    Ok(Image::from_dynamic(&img, channels))
}

/// Decodes an image file upright: the EXIF orientation a camera wrote (JPEG, TIFF, PNG `eXIf`)
/// is applied, so pixels, boxes drawn on the upright image and `predict`'s coordinates agree.
pub fn open_image(path: &Path) -> image::ImageResult<image::DynamicImage> {
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::open(path)?.with_guessed_format()?.into_decoder()?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    Ok(img)
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
            Arc::new(Masks::open(&path(&a.images), &path(&a.masks), spec.channels, spec.classes.len(), a.instances)?)
        }
        ir::Source::Voc(a) if a.masks => {
            Arc::new(formats::voc::VocMasks::open(&path(&a.root), a, stored, spec.classes.len(), spec.channels)?)
        }
        ir::Source::Voc(a) => Arc::new(Voc::open(&path(&a.root), a, stored, &spec.classes, spec.channels)?),
        ir::Source::Yolo(a) => Arc::new(Yolo::open(&path(&a.path), stored, &spec.classes, spec.channels)?),
    })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    /// A path for a file named `name` in a folder that is removed when the test ends.
    fn temp(name: &str) -> (crate::scratch::Scratch, PathBuf) {
        let dir = crate::scratch::scratch(&format!("source-{name}"));
        let path = dir.join(name);
        (dir, path)
    }

    /// A palette (indexed-colour) PNG decodes to the colours its `PLTE` names, in the channels
    /// the dataset declares.
    #[test]
    fn palette_pngs_decode_to_their_colours() {
        let (_dir, path) = temp("palette.png");
        let mut palette = vec![0u8; 256 * 3];
        palette[3..6].copy_from_slice(&[255, 0, 0]);
        palette[6..9].copy_from_slice(&[0, 0, 255]);
        let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let mut encoder = png::Encoder::new(file, 2, 1);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(palette);
        encoder.write_header().expect("header").write_image_data(&[1, 2]).expect("data");
        let rgb = decode(&path, 3).expect("decodes");
        assert_eq!((rgb.c, rgb.h, rgb.w), (3, 1, 2));
        // Planar: red of both pixels, then green, then blue.
        assert_eq!(rgb.data, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let gray = decode(&path, 1).expect("decodes");
        assert_eq!((gray.c, gray.data.len()), (1, 2));
        assert!(gray.data[0] > 0.0 && gray.data[1] > 0.0 && gray.data[0] != gray.data[1], "{:?}", gray.data);
    }

    /// A JPEG whose EXIF says "rotate 90° clockwise to view" (orientation 6), as phones write.
    fn rotated_jpeg(path: &Path) {
        // 4 wide, 2 high; the left column bright.
        let img = image::RgbImage::from_fn(4, 2, |x, _| if x == 0 { image::Rgb([255; 3]) } else { image::Rgb([0; 3]) });
        let mut jpeg = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).expect("encode");
        // APP1: "Exif\0\0", a big-endian TIFF header, one IFD entry: Orientation (0x0112) SHORT 6.
        let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(&exif);
        let out: Vec<u8> = jpeg[..2].iter().chain(&app1).chain(&jpeg[2..]).copied().collect();
        std::fs::write(path, out).expect("write");
    }

    #[test]
    fn exif_orientation_is_applied() {
        let (_dir, path) = temp("rotated.jpg");
        rotated_jpeg(&path);
        let img = decode(&path, 1).expect("decodes");
        // Turned upright: 2 wide, 4 high, the bright column now the top row.
        assert_eq!((img.w, img.h), (2, 4));
        assert!(img.data[0] > 0.8 && img.data[1] > 0.8 && img.data[7] < 0.2, "{:?}", img.data);
    }

    #[test]
    fn sixteen_bit_tiff_and_png_become_floats() {
        let px: Vec<u16> = vec![0, 257, 4095, 65535];
        let buf = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(2, 2, px).expect("buffer");
        for name in ["deep.tif", "deep.png"] {
            let (_dir, path) = temp(name);
            buf.save(&path).expect("save");
            let img = decode(&path, 1).expect("decodes");
            assert_eq!(img.data, vec![0.0, 257.0 / 65535.0, 4095.0 / 65535.0, 1.0], "{name}");
            assert_eq!(decode(&path, 3).expect("decodes").c, 3, "gray to RGB");
        }
    }

    #[test]
    fn rgba_images_take_the_declared_channels() {
        let rgba = image::RgbaImage::from_pixel(3, 2, image::Rgba([255, 0, 0, 10]));
        let (_dir, path) = temp("rgba.png");
        rgba.save(&path).expect("save");
        let img = decode(&path, 3).expect("decodes");
        assert_eq!((img.c, img.data[0], img.data[6]), (3, 1.0, 0.0), "alpha dropped");
        assert_eq!(decode(&path, 1).expect("decodes").c, 1);
    }
}
