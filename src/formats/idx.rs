//! `idx(root)`: MNIST-style IDX files in a folder, `<split>-images-idx3-ubyte` and
//! `<split>-labels-idx1-ubyte`, each optionally gzipped. Labels are class ids: the dataset lists
//! the class names. The probe reads the 16-byte headers; the loader holds the bytes in memory.

use std::io::Read;
use std::path::Path;

use super::Probe;
use crate::ir::DatasetSpec;
use crate::syntax::span::Span;

pub const NAME: &str = "idx";

/// The magic number of an IDX file of images (3 dimensions).
pub const IMAGES: u32 = 0x0803;
/// The magic number of an IDX file of labels (1 dimension).
pub const LABELS: u32 = 0x0801;

/// Its one argument: the root folder.
pub type Args = super::RootArgs;

/// The file of a split's images or labels (without `.gz`).
pub fn file_name(prefix: &str, magic: u32) -> String {
    if magic == IMAGES { format!("{prefix}-images-idx3-ubyte") } else { format!("{prefix}-labels-idx1-ubyte") }
}

/// Parses an IDX header: the item count, then each further dimension. `None` when the bytes
/// are too short or the magic number is not `magic`.
pub fn header(bytes: &[u8], magic: u32) -> Option<Vec<usize>> {
    let dims = (magic & 0xff) as usize;
    if bytes.len() < 4 + 4 * dims {
        return None;
    }
    let word = |i: usize| u32::from_be_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
    (word(0) == magic).then(|| (1..=dims).map(|i| word(i) as usize).collect())
}

/// The size of a header with `magic`'s dimensions, where the data starts.
pub fn header_len(magic: u32) -> usize {
    4 + 4 * (magic & 0xff) as usize
}

pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let root = spec.base_dir.join(&args.root);
    if !p.host.exists(&root) {
        p.missing(&root, p.arg(0));
        return None;
    }
    for (split, prefix) in spec.stored_splits() {
        let at = p.split(&split);
        let images = probe_header(p, &root, &file_name(&prefix, IMAGES), IMAGES, at)?;
        let labels = probe_header(p, &root, &file_name(&prefix, LABELS), LABELS, at)?;
        if images[0] != labels[0] {
            p.format(
                format!("split `{split}` has {} images but {} labels", images[0], labels[0]),
                "the image and label files must come from the same release",
                at,
            );
        }
        spec.counts.insert(split, images[0]);
        spec.image_size = Some((images[1], images[2]));
    }
    None
}

/// Reads an IDX header (plain or `.gz`) through the host, reporting a missing or malformed file.
fn probe_header(p: &mut Probe, root: &Path, stem: &str, magic: u32, at: Span) -> Option<Vec<usize>> {
    let plain = root.join(stem);
    let gz = root.join(format!("{stem}.gz"));
    let (path, bytes) = match p.host.read_head(&gz, 4096) {
        Ok(b) => (gz, gunzip_head(&b, header_len(magic))),
        Err(_) => match p.host.read_head(&plain, header_len(magic)) {
            Ok(b) => (plain, Some(b)),
            Err(_) => {
                p.missing(&root.join(format!("{stem}[.gz]")), at);
                return None;
            }
        },
    };
    let parsed = bytes.and_then(|b| header(&b, magic));
    let Some(dims) = parsed else {
        p.format(
            format!("`{}` is not an IDX file with magic {magic:#06x}", path.display()),
            "IDX files start with 0x00000803 (images) or 0x00000801 (labels)",
            at,
        );
        return None;
    };
    if magic == IMAGES && (dims[1] == 0 || dims[2] == 0) {
        p.format(
            format!("`{}` holds {}×{} images", path.display(), dims[1], dims[2]),
            "the file is truncated or not an image file",
            at,
        );
        return None;
    }
    Some(dims)
}

fn gunzip_head(compressed: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut out = vec![0; n];
    flate2::read::GzDecoder::new(compressed).read_exact(&mut out).ok()?;
    Some(out)
}

#[cfg(feature = "train")]
pub use load::Idx;

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::io::Read;
    use std::path::{Path, PathBuf};

    use super::{IMAGES, LABELS, file_name, header, header_len};
    use crate::data::{DataError, Image, Source};

    /// IDX images and labels, held in memory as bytes (Fashion-MNIST is 47 MB).
    pub struct Idx {
        images: Vec<u8>,
        labels: Vec<u8>,
        h: usize,
        w: usize,
    }

    impl Idx {
        pub fn open(root: &Path, prefix: &str) -> Result<Idx, DataError> {
            let ipath = root.join(file_name(prefix, IMAGES));
            let lpath = root.join(file_name(prefix, LABELS));
            let images = read_maybe_gz(&ipath)?;
            let labels = read_maybe_gz(&lpath)?;
            let Some(dims) = header(&images, IMAGES) else {
                return Err(DataError::Format { path: ipath, message: "not an IDX image file".into() });
            };
            if header(&labels, LABELS).is_none() {
                return Err(DataError::Format { path: lpath, message: "not an IDX label file".into() });
            }
            let (n, h, w) = (dims[0], dims[1], dims[2]);
            let (i0, l0) = (header_len(IMAGES), header_len(LABELS));
            if images.len() < i0 + n * h * w || labels.len() < l0 + n {
                return Err(DataError::Format {
                    path: ipath,
                    message: format!("truncated: header says {n} images of {h}×{w}"),
                });
            }
            Ok(Idx { images: images[i0..i0 + n * h * w].to_vec(), labels: labels[l0..l0 + n].to_vec(), h, w })
        }
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
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = magic.to_be_bytes().to_vec();
        for d in dims {
            out.extend(d.to_be_bytes());
        }
        out.extend(data);
        out
    }

    /// IDX files carry class ids: `check` takes the listed names, and every label `run` loads
    /// names the class the test drew it as.
    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("idx");
        let names = ["zero", "one", "two"];
        let labels: Vec<u8> = vec![0, 1, 2, 2, 1, 0];
        // Each image is 8×8 of the gray level 40 × (label + 1).
        let pixels: Vec<u8> = labels.iter().flat_map(|l| vec![40 * (l + 1); 64]).collect();
        std::fs::write(dir.join("train-images-idx3-ubyte"), idx(0x0803, &[6, 8, 8], &pixels)).expect("write");
        std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(0x0801, &[6], &labels)).expect("write");
        let text = format!(
            "dataset d = idx(\"{}\") {{ classes = [\"zero\", \"one\", \"two\"] }}\n{}",
            dir.display(),
            testing::CLASSIFY.replace("C, H, W", "1, 8, 8")
        );
        let spec = testing::check(&dir, &text);
        assert_eq!(spec.classes, names);
        assert_eq!(spec.counts["train"], 6);
        let splits = testing::open(&spec);
        let train = &splits["train"];
        let drawn: Vec<&str> =
            testing::first_pixels(train.as_ref()).iter().map(|v| names[*v as usize / 40 - 1]).collect();
        assert_eq!(testing::loaded_names(&spec, train.as_ref()), drawn);
    }
}
