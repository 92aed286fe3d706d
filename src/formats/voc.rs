//! `voc(root, split_file = "")`: Pascal VOC detection, as `VOCdevkit/VOC2007` is laid out:
//! `Annotations/<id>.xml` (one `<object>` per box: `<name>`, `<difficult>`, `<bndbox>` with
//! 1-based inclusive `xmin ymin xmax ymax`), `JPEGImages/<filename>`, and split files
//! `ImageSets/Main/<split>.txt` listing ids (the first word of each line).
//!
//! - The `train` split reads `split_file`, or every annotation when it is not given; a stored
//!   split `val = "val"` reads `ImageSets/Main/val.txt`, `val = "lists/val.txt"` that file.
//! - The classes are the objects' names, sorted (VOC's 20 classes are in that order); a dataset
//!   may list more classes than the data uses, never fewer.
//! - `difficult` objects are kept as `Ignore::Difficult` boxes: they train nothing and the
//!   metric ignores detections on them, as the VOC protocol does.
//! - Boxes become `(xmin − 1, ymin − 1, xmax, ymax)` in pixels, clipped to `<size>`.
//!
//! `voc(root, masks = true)` is VOC segmentation: `SegmentationClass/<id>.png` palette masks
//! with `JPEGImages/<id>.jpg`, split files in `ImageSets/Segmentation` (or every mask when no
//! split file is given). A mask's pixels are its palette *indices* (not the colours the palette
//! gives them), read with the `png` crate untransformed; 255 is VOC's object border, the ignore
//! label the losses and metrics skip. The classes are VOC's 21 ([`VOC_CLASSES`], background
//! first) unless the dataset lists its own, as a VOC-layout dataset of other classes does.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Probe;
use crate::host::Host;
use crate::ir::{Call, DatasetSpec};

pub const NAME: &str = "voc";

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The year folder (`VOCdevkit/VOC2007`).
    pub root: String,
    /// The ids of the `train` split, relative to `root`; "" for every annotation.
    pub split_file: String,
    /// `masks = true`: segmentation from `SegmentationClass/` palette masks.
    pub masks: bool,
}

impl Args {
    pub fn from_call(call: &Call) -> Option<Args> {
        Some(Args {
            root: call.word("root")?.into(),
            split_file: call.word("split_file").unwrap_or("").into(),
            masks: call.bool("masks").unwrap_or(false),
        })
    }
}

/// The 21 classes of VOC segmentation, in palette-index order (0 is the background).
pub const VOC_CLASSES: [&str; 21] = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// One `<object>`: its class name, whether it is `difficult`, and its box in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub name: String,
    pub difficult: bool,
    pub bbox: (f32, f32, f32, f32),
}

/// One annotation file: the image's file name (`<filename>`), size and objects.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub filename: Option<String>,
    pub objects: Vec<Object>,
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim())
}

/// Every `<tag>…</tag>` block of `xml`, in order.
fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// Parses one annotation file (the small part of XML VOC uses: nested tags, no attributes that
/// matter). An object without a `<name>` or a complete `<bndbox>` is an error naming it.
pub fn parse(xml: &str) -> Result<Annotation, String> {
    let number = |block: &str, name: &str| tag(block, name).and_then(|v| v.parse::<f32>().ok());
    let size = tag(xml, "size").and_then(|s| number(s, "width").zip(number(s, "height")));
    let mut objects = Vec::new();
    for (i, object) in blocks(xml, "object").into_iter().enumerate() {
        let name = tag(object, "name").filter(|n| !n.is_empty());
        let bndbox = tag(object, "bndbox");
        let corners =
            bndbox.and_then(|b| Some((number(b, "xmin")?, number(b, "ymin")?, number(b, "xmax")?, number(b, "ymax")?)));
        let (Some(name), Some((xmin, ymin, xmax, ymax))) = (name, corners) else {
            return Err(format!("object {} has no `<name>` or no complete `<bndbox>`", i + 1));
        };
        let (mut x0, mut y0, mut x1, mut y1) = (xmin - 1.0, ymin - 1.0, xmax, ymax);
        if let Some((w, h)) = size {
            (x0, y0, x1, y1) = (x0.clamp(0.0, w), y0.clamp(0.0, h), x1.clamp(0.0, w), y1.clamp(0.0, h));
        }
        let difficult = tag(object, "difficult").is_some_and(|d| d == "1");
        objects.push(Object { name: name.to_string(), difficult, bbox: (x0, y0, x1, y1) });
    }
    Ok(Annotation { filename: tag(xml, "filename").map(String::from), objects })
}

/// The ids of a split file: the first word of each non-empty line (`ImageSets/Main/cat_train.txt`
/// adds a second column, which is not an id).
pub fn split_ids(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

/// The split file a stored split reads, relative to the root: `""` is the source's
/// `split_file`, a bare name one of `ImageSets/Main`, anything with a `/` or `.txt` itself.
/// `None` when the split reads every annotation.
pub fn split_file(args: &Args, stored: &str) -> Option<String> {
    match stored {
        "" if args.split_file.is_empty() => None,
        "" => Some(args.split_file.clone()),
        s if s.contains('/') || s.ends_with(".txt") => Some(s.into()),
        s if args.masks => Some(format!("ImageSets/Segmentation/{s}.txt")),
        s => Some(format!("ImageSets/Main/{s}.txt")),
    }
}

/// The ids of one stored split, read through `host`: its split file's, or every annotation's
/// stem (every mask's with `masks`). The error is the file or folder that could not be read.
pub fn ids(host: &dyn Host, root: &Path, args: &Args, stored: &str) -> Result<Vec<String>, PathBuf> {
    match split_file(args, stored) {
        Some(file) => {
            let path = root.join(file);
            host.read_to_string(&path).map(|t| split_ids(&t)).map_err(|_| path)
        }
        None => {
            let (folder, ext) = if args.masks { ("SegmentationClass", ".png") } else { ("Annotations", ".xml") };
            let dir = root.join(folder);
            let entries = host.list_dir(&dir).map_err(|_| dir)?;
            Ok(entries
                .into_iter()
                .filter(|(n, d)| !d && n.ends_with(ext))
                .map(|(n, _)| n.trim_end_matches(ext).to_string())
                .collect())
        }
    }
}

/// The image file of an annotation: its `<filename>`, else `<id>.jpg`.
pub fn image_name(id: &str, annotation: &Annotation) -> String {
    annotation.filename.clone().unwrap_or_else(|| format!("{id}.jpg"))
}

/// Reads every stored split's ids and annotations (never an image): counts them, reports
/// missing or malformed annotation files and missing images, and returns the objects' names.
pub fn probe(args: &Args, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    let root = spec.base_dir.join(&args.root);
    if !p.host.exists(&root) {
        p.missing(&root, p.arg(0));
        return None;
    }
    if args.masks {
        return probe_masks(args, &root, spec, p);
    }
    let mut names = BTreeSet::new();
    for (split, stored) in spec.stored_splits() {
        let at = p.split(&split);
        let ids = match ids(p.host, &root, args, &stored) {
            Ok(ids) => ids,
            Err(path) => {
                p.missing(&path, at);
                continue;
            }
        };
        let mut images = Vec::new();
        for id in &ids {
            let file = root.join("Annotations").join(format!("{id}.xml"));
            let text = p.read_text(&file, at)?;
            match parse(&text) {
                Ok(annotation) => {
                    names.extend(annotation.objects.iter().map(|o| o.name.clone()));
                    images.push(image_name(id, &annotation));
                }
                Err(message) => {
                    p.format(
                        format!("`{}`: {message}", file.display()),
                        "each object needs `<name>` and `<bndbox>`",
                        at,
                    );
                    return None;
                }
            }
        }
        let folder = root.join("JPEGImages");
        p.missing_images(&root.join("Annotations"), &folder, images.iter().map(String::as_str), at);
        spec.counts.insert(split, ids.len());
    }
    Some(names.into_iter().collect())
}

/// VOC segmentation: every stored split's ids, their masks and images (existence only), and
/// VOC's 21 class names (a listed class list replaces them).
fn probe_masks(args: &Args, root: &Path, spec: &mut DatasetSpec, p: &mut Probe) -> Option<Vec<String>> {
    for (split, stored) in spec.stored_splits() {
        let at = p.split(&split);
        let ids = match ids(p.host, root, args, &stored) {
            Ok(ids) => ids,
            Err(path) => {
                p.missing(&path, at);
                continue;
            }
        };
        let listing = split_file(args, &stored).map_or_else(|| root.join("SegmentationClass"), |f| root.join(f));
        let masks: Vec<String> = ids.iter().map(|id| format!("{id}.png")).collect();
        p.missing_images(&listing, &root.join("SegmentationClass"), masks.iter().map(String::as_str), at);
        let images: Vec<String> = ids.iter().map(|id| format!("{id}.jpg")).collect();
        p.missing_images(&listing, &root.join("JPEGImages"), images.iter().map(String::as_str), at);
        spec.counts.insert(split, ids.len());
    }
    Some(VOC_CLASSES.iter().map(|c| c.to_string()).collect())
}

#[cfg(feature = "train")]
pub use load::Voc;
#[cfg(feature = "train")]
pub use masks_load::{VocMasks, palette_indices};

#[cfg(feature = "train")]
// The loader half reads the data files themselves.
#[allow(clippy::disallowed_methods)]
mod load {
    use std::path::{Path, PathBuf};

    use super::{Args, ids, image_name, parse};
    use crate::data::source::decode;
    use crate::data::{BoxLabel, DataError, Ignore, Image, Source};
    use crate::host::FsHost;

    /// VOC detection: images and their boxes, named classes numbered by the checked list.
    pub struct Voc {
        items: Vec<(PathBuf, Vec<BoxLabel>)>,
        channels: usize,
    }

    impl Voc {
        pub fn open(
            root: &Path,
            args: &Args,
            stored: &str,
            classes: &[String],
            channels: usize,
        ) -> Result<Voc, DataError> {
            let ids = ids(&FsHost, root, args, stored).map_err(|path| DataError::Io {
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "cannot be read"),
                path,
            })?;
            let mut items = Vec::new();
            for id in ids {
                let file = root.join("Annotations").join(format!("{id}.xml"));
                let text =
                    std::fs::read_to_string(&file).map_err(|source| DataError::Io { path: file.clone(), source })?;
                let format = |message: String| DataError::Format { path: file.clone(), message };
                let annotation = parse(&text).map_err(format)?;
                let mut boxes = Vec::new();
                for o in &annotation.objects {
                    let Some(class) = classes.iter().position(|c| *c == o.name) else {
                        return Err(format(format!("object `{}` is not one of the dataset's classes", o.name)));
                    };
                    let (x0, y0, x1, y1) = o.bbox;
                    let ignore = if o.difficult { Ignore::Difficult } else { Ignore::No };
                    boxes.push(BoxLabel { class, x0, y0, x1, y1, ignore });
                }
                items.push((root.join("JPEGImages").join(image_name(&id, &annotation)), boxes));
            }
            Ok(Voc { items, channels })
        }
    }

    impl Source for Voc {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn label(&self, index: usize) -> usize {
            self.items[index].1.iter().find(|b| b.ignore == Ignore::No).map_or(0, |b| b.class)
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            decode(&self.items[index].0, self.channels)
        }
        fn boxes(&self, index: usize) -> Option<Vec<BoxLabel>> {
            Some(self.items[index].1.clone())
        }
    }
}

#[cfg(feature = "train")]
#[allow(clippy::disallowed_methods)]
mod masks_load {
    use std::path::{Path, PathBuf};

    use super::{Args, ids};
    use crate::data::source::decode;
    use crate::data::{DataError, Image, Source};
    use crate::formats::IGNORE;
    use crate::host::FsHost;

    /// The pixels of a palette (or ≤ 8-bit gray) PNG as its stored indices, `(w, h, pixels)`:
    /// the `image` crate would expand a palette to its colours, so this reads with `png`
    /// untransformed and unpacks 1-, 2- and 4-bit rows.
    pub fn palette_indices(path: &Path) -> Result<(usize, usize, Vec<u8>), String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; reader.output_buffer_size().ok_or("is too large")?];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        let depth = info.bit_depth as usize;
        if !matches!(info.color_type, png::ColorType::Indexed | png::ColorType::Grayscale) || depth > 8 {
            return Err(format!(
                "is a {:?} {depth}-bit PNG, not a palette (indexed) or 8-bit gray mask",
                info.color_type
            ));
        }
        let (w, h) = (info.width as usize, info.height as usize);
        let mut out = Vec::with_capacity(w * h);
        for row in buf.chunks(info.line_size).take(h) {
            for x in 0..w {
                let shift = 8 - depth - (x * depth % 8);
                out.push((row[x * depth / 8] >> shift) & ((1u16 << depth) - 1) as u8);
            }
        }
        Ok((w, h, out))
    }

    /// VOC segmentation: images with their palette masks, in split-file order.
    pub struct VocMasks {
        items: Vec<(PathBuf, PathBuf)>,
        channels: usize,
        classes: usize,
    }

    impl VocMasks {
        pub fn open(
            root: &Path,
            args: &Args,
            stored: &str,
            classes: usize,
            channels: usize,
        ) -> Result<VocMasks, DataError> {
            let ids = ids(&FsHost, root, args, stored).map_err(|path| DataError::Io {
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "cannot be read"),
                path,
            })?;
            let items = ids
                .iter()
                .map(|id| {
                    (
                        root.join("JPEGImages").join(format!("{id}.jpg")),
                        root.join("SegmentationClass").join(format!("{id}.png")),
                    )
                })
                .collect();
            Ok(VocMasks { items, channels, classes })
        }
    }

    impl Source for VocMasks {
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
            let (w, h, pixels) =
                palette_indices(path).map_err(|message| DataError::Decode { path: path.clone(), message })?;
            if let Some(bad) = pixels.iter().find(|&&v| v as usize >= self.classes && v as usize != IGNORE) {
                return Err(DataError::Format {
                    path: path.clone(),
                    message: format!("has class id {bad}, but there are {} classes (255 is ignored)", self.classes),
                });
            }
            Ok(Some(Image { c: 1, h, w, data: pixels.into_iter().map(f32::from).collect() }))
        }
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn objects_parts_and_difficult_flags_are_read() {
        let xml = "<annotation><filename>000005.jpg</filename><size><width>500</width><height>375</height><depth>3</depth></size>
<object><name>chair</name><pose>Rear</pose><truncated>0</truncated><difficult>0</difficult>
<bndbox><xmin>263</xmin><ymin>211</ymin><xmax>324</xmax><ymax>339</ymax></bndbox></object>
<object><name>person</name><difficult>1</difficult><bndbox><xmin>1</xmin><ymin>10</ymin><xmax>600</xmax><ymax>20</ymax></bndbox>
<part><name>hand</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>6</xmax><ymax>6</ymax></bndbox></part></object></annotation>";
        let a = parse(xml).expect("parses");
        assert_eq!(a.filename.as_deref(), Some("000005.jpg"));
        assert_eq!(a.objects.len(), 2);
        assert_eq!(a.objects[0], Object { name: "chair".into(), difficult: false, bbox: (262.0, 210.0, 324.0, 339.0) });
        // The part's name and box are not the object's; the box is clipped to the image.
        assert_eq!(a.objects[1], Object { name: "person".into(), difficult: true, bbox: (0.0, 9.0, 500.0, 20.0) });
        assert!(parse("<object><name>cat</name></object>").is_err());
        assert_eq!(split_ids("000005\n\n000007  -1\n"), ["000005", "000007"]);
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::super::testing;

    /// Writes a VOC year folder: images drawn in their first object's class gray, one difficult
    /// object, split files, and a stray annotation that is in no split.
    pub fn write(dir: &std::path::Path) {
        let objects = [("bird", false), ("cat", false), ("dog", true), ("cat", false)];
        for (i, (name, difficult)) in objects.iter().enumerate() {
            let gray = match *name {
                "bird" => 40,
                "cat" => 80,
                _ => 120,
            };
            testing::gray(&dir.join("JPEGImages").join(format!("00000{i}.png")), gray, 16);
            let xml = format!(
                "<annotation>\n  <filename>00000{i}.png</filename>\n  <size><width>16</width><height>16</height><depth>1</depth></size>\n  <object>\n    <name>{name}</name>\n    <difficult>{}</difficult>\n    <bndbox><xmin>2</xmin><ymin>2</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>\n  </object>\n</annotation>\n",
                u8::from(*difficult)
            );
            std::fs::create_dir_all(dir.join("Annotations")).expect("dir");
            std::fs::write(dir.join("Annotations").join(format!("00000{i}.xml")), xml).expect("write");
        }
        std::fs::create_dir_all(dir.join("ImageSets/Main")).expect("dir");
        std::fs::write(dir.join("ImageSets/Main/train.txt"), "000000\n000001\n000002\n").expect("write");
        std::fs::write(dir.join("ImageSets/Main/val.txt"), "000003\n").expect("write");
    }

    #[test]
    fn check_and_run_agree_on_the_classes() {
        let dir = testing::dir("voc");
        write(&dir);
        let text = format!(
            "dataset d = voc(\"{}\", split_file = \"ImageSets/Main/train.txt\") {{\n  val = \"val\"\n  channels = 1\n}}\n",
            dir.display()
        );
        let spec = testing::check(&dir, &format!("{text}{}", testing::DETECT.replace("C, ", "1, ")));
        assert_eq!(spec.classes, ["bird", "cat", "dog"]);
        assert_eq!((spec.counts["train"], spec.counts["val"]), (3, 1));
        let splits = testing::open(&spec);
        let train = splits["train"].as_ref();
        let boxes: Vec<Vec<crate::data::BoxLabel>> = (0..3).map(|i| train.boxes(i).expect("boxes")).collect();
        assert_eq!(boxes[0][0].x0, 1.0, "VOC corners are 1-based");
        assert_eq!(boxes[2][0].ignore, crate::data::Ignore::Difficult);
        let drawn: Vec<usize> = testing::first_pixels(train).iter().map(|v| *v as usize / 40 - 1).collect();
        assert_eq!(boxes.iter().map(|b| b[0].class).collect::<Vec<_>>(), drawn);
    }

    /// A palette PNG as VOC stores its masks: 8-bit indexed colour, VOC's colour map in `PLTE`
    /// (index 1 is dark red, 255 the cream border colour).
    pub fn palette_png(path: &std::path::Path, size: u32, indices: &[u8]) {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        let mut palette = vec![0u8; 256 * 3];
        palette[3..6].copy_from_slice(&[128, 0, 0]);
        palette[6..9].copy_from_slice(&[0, 128, 0]);
        palette[255 * 3..].copy_from_slice(&[224, 224, 192]);
        let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
        let mut encoder = png::Encoder::new(file, size, size);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(palette);
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(indices).expect("data");
    }

    /// `masks = true`: palette masks read as their indices (not their colours), 255 kept as the
    /// ignore label, VOC's 21 classes unless the dataset lists its own, split files from
    /// `ImageSets/Segmentation`.
    #[test]
    fn segmentation_masks_are_palette_indices() {
        let dir = testing::dir("voc-seg");
        for i in 0..3u8 {
            testing::gray(&dir.join("JPEGImages").join(format!("2007_00000{i}.jpg")), 40, 4);
            let mut indices = vec![0u8; 16];
            indices[5] = 1 + i % 2;
            indices[6] = 255;
            palette_png(&dir.join("SegmentationClass").join(format!("2007_00000{i}.png")), 4, &indices);
        }
        std::fs::create_dir_all(dir.join("ImageSets/Segmentation")).expect("dir");
        std::fs::write(dir.join("ImageSets/Segmentation/train.txt"), "2007_000000\n2007_000001\n").expect("write");
        std::fs::write(dir.join("ImageSets/Segmentation/val.txt"), "2007_000002\n").expect("write");
        let segment = "model m(x: Image[B, 1, 4, 4]) -> Mask[B, classes, 4, 4] { return x |> conv2d(classes, k = 1) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy()
  optimizer = sgd(lr = 0.1)
  epochs = 1
}
";
        let source =
            format!("voc(\"{}\", split_file = \"ImageSets/Segmentation/train.txt\", masks = true)", dir.display());
        let spec =
            testing::check(&dir, &format!("dataset d = {source} {{\n  val = \"val\"\n  channels = 1\n}}\n{segment}"));
        assert_eq!(spec.task, crate::ir::Task::Segmentation);
        assert_eq!(spec.classes, super::VOC_CLASSES);
        assert_eq!((spec.counts["train"], spec.counts["val"]), (2, 1));
        let splits = testing::open(&spec);
        let mask = splits["train"].mask(1).expect("mask").expect("a segmentation source");
        assert_eq!((mask.data[0], mask.data[5], mask.data[6]), (0.0, 2.0, 255.0));
        // A VOC-layout dataset of its own classes lists them; an index past them is refused.
        let listed =
            format!("dataset d = {source} {{\n  classes = [\"background\", \"tumour\"]\n  channels = 1\n}}\n{segment}");
        let spec = testing::check(&dir, &listed);
        assert_eq!(spec.classes, ["background", "tumour"]);
        let splits = testing::open(&spec);
        assert_eq!(splits["train"].mask(0).expect("class 1").expect("mask").data[5], 1.0);
        let error = splits["train"].mask(1).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("2007_000001.png") && error.contains("class id 2"), "{error}");
    }
}
