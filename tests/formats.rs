//! Real dataset layouts through the `trainc` binary: for each format, files written as the world
//! lays them out (with their quirks), `trainc check` reports the right classes and counts, and
//! `trainc run` trains one epoch on them. The format modules' own tests compare labels sample
//! by sample; these show the user's view.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;

use common::{text, trainc};

fn project(name: &str) -> common::Scratch {
    common::scratch(&format!("formats-{name}"))
}

/// A 16×16 gray image with a brighter square at `(x, y)`.
fn image(path: &Path, x: u32, y: u32) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
    let img = image::GrayImage::from_fn(16, 16, |i, j| {
        image::Luma([if (x..x + 6).contains(&i) && (y..y + 6).contains(&j) { 200 } else { 30 }])
    });
    img.save(path).expect("png");
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
    std::fs::write(path, text).expect("write");
}

/// A CenterNet model on 16×16 gray images, one epoch on dataset `d`, validated with mAP.
const DETECT: &str = "use std/heads.{centernet}
augment det(image, boxes) { resize(16, 16) }
model m(x: Image[B, 1, 16, 16]) -> (heat: [B, classes, 4, 4], size: [B, 2, 4, 4], offset: [B, 2, 4, 4]) {
  return x |> conv2d(4, k = 4, stride = 4) |> centernet(classes, width = 4)
}
train {
  model = m
  data = d { batch = 2, augment = det, eval_augment = det }
  loss = centernet_loss()
  optimizer = sgd(lr = 0.01)
  epochs = 1
  metrics = [map50, map]
}
";

/// Checks, asserting the summary's data line holds each of `expect`, then trains one epoch.
fn check_and_run(dir: &Path, dataset: &str, expect: &[&str]) {
    write(&dir.join("t.train"), &format!("{dataset}\n{DETECT}"));
    let check = trainc(dir, &["check", "t.train"]);
    assert!(check.status.success(), "{}", text(&check));
    let summary = text(&check);
    let data = summary.lines().find(|l| l.trim_start().starts_with("data")).unwrap_or_default();
    for e in expect {
        assert!(data.contains(e), "`{e}` not in `{data}`\n{summary}");
    }
    let run = trainc(dir, &["run", "t.train", "--quiet"]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(dir.join("runs/m").exists(), "{}", text(&run));
}

/// COCO 2017: a file and an image folder per split, category ids 1, 3 and 90, a crowd region,
/// an image without annotations, and a box past the image's edge.
#[test]
fn coco_2017_layout_checks_and_trains() {
    let dir = project("coco");
    let categories = r#"[{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 90, "name": "toothbrush"}]"#;
    let mut anns = Vec::new();
    for (split, n) in [("train2017", 6), ("val2017", 2)] {
        let mut images = Vec::new();
        let mut boxes = Vec::new();
        for i in 0..n {
            image(&dir.join(split).join(format!("{i:012}.png")), 2 * i, 4);
            images.push(format!(r#"{{"id": {}, "file_name": "{i:012}.png", "width": 16, "height": 16}}"#, i + 100));
            let category = [1, 3, 90][i as usize % 3];
            if i != 1 {
                boxes.push(format!(
                    r#"{{"id": {}, "image_id": {}, "category_id": {category}, "bbox": [{}, 4, 6, 13], "iscrowd": 0}}"#,
                    boxes.len() + 1,
                    i + 100,
                    2 * i
                ));
            }
        }
        boxes.push(
            r#"{"id": 99, "image_id": 100, "category_id": 1, "bbox": [0, 0, 16, 16], "iscrowd": 1, "segmentation": {"counts": [0, 256], "size": [16, 16]}}"#.to_string()
        );
        let json = format!(
            r#"{{"info": {{}}, "licenses": [], "images": [{}], "annotations": [{}], "categories": {categories}}}"#,
            images.join(", "),
            boxes.join(", ")
        );
        anns.push(json.clone());
        write(&dir.join(format!("annotations/instances_{split}.json")), &json);
    }
    let dataset = r#"dataset d = coco("annotations/instances_train2017.json", images = "train2017") {
  val = coco("annotations/instances_val2017.json", images = "val2017")
  channels = 1
}"#;
    check_and_run(&dir, dataset, &["3 classes", "train 6", "val 2"]);
}

/// Pascal VOC 2007: XML per image with a difficult object, JPEG-named entries, split files.
#[test]
fn voc_layout_checks_and_trains() {
    let dir = project("voc");
    let root = dir.join("VOCdevkit/VOC2007");
    let names = ["cat", "dog", "person"];
    for i in 0..6u32 {
        let id = format!("{:06}", i + 5);
        image(&root.join(format!("JPEGImages/{id}.png")), 2 * i, 3);
        let xml = format!(
            "<annotation>\n\t<folder>VOC2007</folder>\n\t<filename>{id}.png</filename>\n\t<size>\n\t\t<width>16</width>\n\t\t<height>16</height>\n\t\t<depth>1</depth>\n\t</size>\n\t<object>\n\t\t<name>{}</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>{}</difficult>\n\t\t<bndbox>\n\t\t\t<xmin>{}</xmin>\n\t\t\t<ymin>4</ymin>\n\t\t\t<xmax>{}</xmax>\n\t\t\t<ymax>9</ymax>\n\t\t</bndbox>\n\t</object>\n</annotation>\n",
            names[i as usize % 3],
            u8::from(i == 2),
            2 * i + 1,
            2 * i + 6
        );
        write(&root.join(format!("Annotations/{id}.xml")), &xml);
    }
    write(&root.join("ImageSets/Main/train.txt"), "000005\n000006\n000007\n000008\n");
    write(&root.join("ImageSets/Main/val.txt"), "000009\n000010\n");
    let dataset = r#"dataset d = voc("VOCdevkit/VOC2007", split_file = "ImageSets/Main/train.txt") {
  val = "val"
  channels = 1
}"#;
    check_and_run(&dir, dataset, &["3 classes", "train 4", "val 2"]);
}

/// YOLO as exported by labelling tools: images/ and labels/ with split folders, a classes.txt,
/// a segment line, and a negative image without a label file.
#[test]
fn yolo_layout_checks_and_trains() {
    let dir = project("yolo");
    write(&dir.join("shapes/classes.txt"), "square\ndisc\n");
    for (split, n) in [("train", 5u32), ("val", 2)] {
        for i in 0..n {
            image(&dir.join(format!("shapes/images/{split}/{i}.png")), 2 * i, 2);
            let (cx, cy) = ((2 * i + 3) as f32 / 16.0, 5.0 / 16.0);
            let line = match i {
                0 => continue,
                1 => format!("1 {} {} {} {} {} {}\n", cx - 0.1, cy - 0.1, cx + 0.1, cy - 0.1, cx, cy + 0.1),
                _ => format!("{} {cx} {cy} 0.375 0.375\n", i % 2),
            };
            write(&dir.join(format!("shapes/labels/{split}/{i}.txt")), &line);
        }
    }
    let dataset = "dataset d = yolo(\"shapes\") {\n  val = \"val\"\n  channels = 1\n}";
    check_and_run(&dir, dataset, &["2 classes", "train 5", "val 2"]);
}

/// The silent-val bug, as a user meets it: `val = "val2017"` on a COCO file is an error of
/// `check` and `run` never starts.
#[test]
fn a_stored_split_name_on_coco_stops_check_and_run() {
    let dir = project("stored-val");
    write(&dir.join("ann.json"), r#"{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#);
    std::fs::create_dir_all(dir.join("images")).expect("dir");
    let dataset = "dataset d = coco(\"ann.json\", images = \"images\") {\n  val = \"val2017\"\n  channels = 1\n}";
    write(&dir.join("t.train"), &format!("{dataset}\n{DETECT}"));
    for command in ["check", "run"] {
        let out = trainc(&dir, &[command, "t.train"]);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("trainc::data::stored_split"), "{}", text(&out));
    }
}

/// COCO instance segmentations (a polygon per object, a crowd RLE) as semantic masks: `check`
/// adds the background class and `run` trains a segmentation model on them.
#[test]
fn coco_instance_masks_check_and_train() {
    let dir = project("coco-masks");
    let mut images = Vec::new();
    let mut anns = Vec::new();
    for i in 0..4u32 {
        image(&dir.join(format!("images/{i}.png")), 2 * i, 4);
        images.push(format!(r#"{{"id": {i}, "file_name": "{i}.png", "width": 16, "height": 16}}"#));
        let (x0, x1) = (2 * i, 2 * i + 6);
        anns.push(format!(
            r#"{{"id": {i}, "image_id": {i}, "category_id": 7, "bbox": [{x0}, 4, 6, 6], "segmentation": [[{x0}, 4, {x1}, 4, {x1}, 10, {x0}, 10]]}}"#
        ));
    }
    anns.push(r#"{"id": 9, "image_id": 0, "category_id": 2, "bbox": [0, 12, 16, 4], "iscrowd": 1, "segmentation": {"counts": [12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4, 12, 4], "size": [16, 16]}}"#.to_string());
    let json = format!(
        r#"{{"images": [{}], "annotations": [{}], "categories": [{{"id": 7, "name": "cell"}}, {{"id": 2, "name": "debris"}}]}}"#,
        images.join(", "),
        anns.join(", ")
    );
    write(&dir.join("ann.json"), &json);
    let spec = "dataset d = coco(\"ann.json\", images = \"images\", masks = true) {
  val = split(train, 0.25, seed = 1)
  channels = 1
}
model m(x: Image[B, 1, 16, 16]) -> Mask[B, classes, 16, 16] { return x |> conv2d(classes, k = 3, padding = 1) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy()
  optimizer = sgd(lr = 0.1)
  epochs = 1
  metrics = [miou, pixel_accuracy]
}
";
    write(&dir.join("t.train"), spec);
    let check = trainc(&dir, &["check", "t.train"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("Segmentation, 3 classes"), "{}", text(&check));
    let run = trainc(&dir, &["run", "t.train", "--quiet"]);
    assert!(run.status.success(), "{}", text(&run));
}

/// A palette PNG as VOC stores a segmentation mask: 8-bit indexed colour with VOC's colour map
/// in `PLTE` (index 1 dark red, 15 person pink, 255 the cream object border).
fn palette_png(path: &Path, size: u32, indices: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
    let mut palette = vec![0u8; 256 * 3];
    palette[3..6].copy_from_slice(&[128, 0, 0]);
    palette[45..48].copy_from_slice(&[192, 128, 128]);
    palette[255 * 3..].copy_from_slice(&[224, 224, 192]);
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut encoder = png::Encoder::new(file, size, size);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette);
    let mut writer = encoder.write_header().expect("header");
    writer.write_image_data(indices).expect("data");
}

/// VOC2012 segmentation: `SegmentationClass/*.png` palette masks (an aeroplane and a person,
/// each outlined by the 255 border), JPEG images, `ImageSets/Segmentation` split files; `check`
/// gives VOC's 21 classes and the split counts, and `run` trains with mIoU (which skips 255).
#[test]
fn voc_segmentation_layout_checks_and_trains() {
    let dir = project("voc-seg");
    let root = dir.join("VOCdevkit/VOC2012");
    let mut ids = Vec::new();
    for i in 0..6u32 {
        let id = format!("2012_{:06}", i + 3);
        let (x, class) = (2 * i, if i % 2 == 0 { 1 } else { 15 });
        image(&root.join(format!("JPEGImages/{id}.jpg")), x, 4);
        let indices: Vec<u8> = (0..256u32)
            .map(|p| {
                let (px, py) = (p % 16, p / 16);
                let inside = |m: u32| (x + m..x + 6 - m).contains(&px) && (4 + m..10 - m).contains(&py);
                if inside(1) {
                    class
                } else if inside(0) {
                    255
                } else {
                    0
                }
            })
            .collect();
        palette_png(&root.join(format!("SegmentationClass/{id}.png")), 16, &indices);
        ids.push(id);
    }
    write(&root.join("ImageSets/Segmentation/train.txt"), &format!("{}\n", ids[..4].join("\n")));
    write(&root.join("ImageSets/Segmentation/val.txt"), &format!("{}\n", ids[4..].join("\n")));
    let spec = r#"dataset d = voc("VOCdevkit/VOC2012", split_file = "ImageSets/Segmentation/train.txt", masks = true) {
  val = "val"
  channels = 1
}
model m(x: Image[B, 1, 16, 16]) -> Mask[B, classes, 16, 16] { return x |> conv2d(classes, k = 3, padding = 1) }
train {
  model = m
  data = d { batch = 2 }
  loss = cross_entropy() + dice()
  optimizer = sgd(lr = 0.1)
  epochs = 1
  metrics = [miou, pixel_accuracy]
}
"#;
    write(&dir.join("t.train"), spec);
    let check = trainc(&dir, &["check", "t.train"]);
    assert!(check.status.success(), "{}", text(&check));
    let summary = text(&check);
    let data = summary.lines().find(|l| l.trim_start().starts_with("data")).unwrap_or_default();
    for e in ["Segmentation, 21 classes", "train 4", "val 2"] {
        assert!(data.contains(e), "`{e}` not in `{data}`\n{summary}");
    }
    let run = trainc(&dir, &["run", "t.train", "--quiet"]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(dir.join("runs/m").exists(), "{}", text(&run));
}
