//! Synthetic datasets for examples and tests (`trainc gen-data`): shapes on noise as an image
//! folder, COCO boxes or segmentation masks. Seeded, so a seed always draws the same data.

use std::path::Path;

use rand::{Rng, SeedableRng};

/// Why a synthetic dataset could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GenError {
    #[error("unknown kind `{kind}`: the generators are `shapes-folder`, `shapes-coco` and `shapes-masks`")]
    #[diagnostic(code(trainc::gen::kind))]
    UnknownKind { kind: String },
    #[error("cannot write `{path}`: {message}")]
    #[diagnostic(code(trainc::gen::write), help("check that the output folder is writable"))]
    Write { path: std::path::PathBuf, message: String },
}

/// Writes the synthetic dataset `kind` to `out`; returns the line to print, or what went wrong.
pub fn generate(kind: &str, out: &Path, per_class: usize, seed: u64) -> Result<String, GenError> {
    match kind {
        "shapes-folder" => shapes_folder(out, per_class, seed),
        "shapes-coco" | "shapes-masks" => shapes_scenes(kind, out, per_class * 3, seed),
        _ => Err(GenError::UnknownKind { kind: kind.into() }),
    }
}

/// Scenes of one to three shapes on noise: COCO boxes (`shapes-coco`) or PNG masks of class ids
/// (`shapes-masks`, 0 = background).
fn shapes_scenes(kind: &str, out: &Path, count: usize, seed: u64) -> Result<String, GenError> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let images = out.join("images");
    let masks = out.join("masks");
    for dir in [&images, &masks] {
        if (kind == "shapes-masks" || dir == &images) && std::fs::create_dir_all(dir).is_err() {
            return Err(GenError::Write { path: dir.to_path_buf(), message: "cannot create the folder".into() });
        }
    }
    let size = 64u32;
    let mut coco_images = Vec::new();
    let mut annotations = Vec::new();
    for i in 0..count {
        let n = rng.random_range(1..=3);
        let shapes: Vec<(u8, f32, f32, f32)> = (0..n)
            .map(|_| {
                let r = rng.random_range(6.0..14.0f32);
                (
                    rng.random_range(1..=2u8),
                    rng.random_range(r..size as f32 - r),
                    rng.random_range(r..size as f32 - r),
                    r,
                )
            })
            .collect();
        let inside = |x: u32, y: u32| -> u8 {
            let mut class = 0;
            for &(c, cx, cy, r) in &shapes {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let hit = if c == 1 { dx.abs() <= r && dy.abs() <= r } else { dx * dx + dy * dy <= r * r };
                if hit {
                    class = c;
                }
            }
            class
        };
        let img = image::RgbImage::from_fn(size, size, |x, y| {
            let noise = ((x * 7 + y * 13 + i as u32 * 31) % 23) as u8;
            match inside(x, y) {
                0 => image::Rgb([20 + noise, 30 + noise, 40 + noise]),
                1 => image::Rgb([220, 200 - noise, 60]),
                _ => image::Rgb([60, 200 - noise, 220]),
            }
        });
        let name = format!("{i:04}.png");
        if let Err(e) = img.save(images.join(&name)) {
            return Err(GenError::Write { path: images.join(&name), message: e.to_string() });
        }
        if kind == "shapes-masks" {
            let mask = image::GrayImage::from_fn(size, size, |x, y| image::Luma([inside(x, y)]));
            if let Err(e) = mask.save(masks.join(&name)) {
                return Err(GenError::Write { path: masks.join(&name), message: e.to_string() });
            }
        }
        coco_images.push(serde_json::json!({"id": i + 1, "file_name": name, "width": size, "height": size}));
        for &(c, cx, cy, r) in &shapes {
            let id = annotations.len() + 1;
            annotations.push(serde_json::json!({"id": id, "image_id": i + 1, "category_id": c, "bbox": [cx - r, cy - r, 2.0 * r, 2.0 * r], "area": 4.0 * r * r, "iscrowd": 0}));
        }
    }
    if kind == "shapes-coco" {
        let json = serde_json::json!({
            "images": coco_images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "disc"}],
        });
        if let Err(e) = std::fs::write(out.join("annotations.json"), serde_json::to_string(&json).unwrap_or_default()) {
            return Err(GenError::Write { path: out.join("annotations.json"), message: e.to_string() });
        }
    }
    Ok(format!("wrote {count} {kind} scenes to {}", out.display()))
}

/// An image folder of squares, discs and triangles of random size, colour and position on a
/// noisy background; `train/` and `val/` splits.
fn shapes_folder(out: &Path, per_class: usize, seed: u64) -> Result<String, GenError> {
    let kind = "shapes-folder";
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let classes = ["disc", "square", "triangle"];
    for (split, n) in [("train", per_class), ("val", per_class.div_ceil(4))] {
        for (label, class) in classes.iter().enumerate() {
            let dir = out.join(split).join(class);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                return Err(GenError::Write { path: dir.clone(), message: e.to_string() });
            }
            for i in 0..n {
                let size = 48u32;
                let bg = [rng.random_range(0..80u8), rng.random_range(0..80u8), rng.random_range(0..80u8)];
                let fg = [rng.random_range(150..=255u8), rng.random_range(150..=255u8), rng.random_range(150..=255u8)];
                let r = rng.random_range(8..16) as f32;
                let (cx, cy) = (rng.random_range(r..size as f32 - r), rng.random_range(r..size as f32 - r));
                let img = image::RgbImage::from_fn(size, size, |x, y| {
                    let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                    let inside = match label {
                        0 => dx * dx + dy * dy <= r * r,
                        1 => dx.abs() <= r * 0.8 && dy.abs() <= r * 0.8,
                        _ => dy <= r * 0.8 && dy >= -r * 0.8 && dx.abs() <= (dy + r * 0.8) * 0.6,
                    };
                    let noise = ((x * 7 + y * 13 + i as u32 * 31) % 17) as u8;
                    if inside {
                        image::Rgb(fg)
                    } else {
                        image::Rgb([
                            bg[0].saturating_add(noise),
                            bg[1].saturating_add(noise),
                            bg[2].saturating_add(noise),
                        ])
                    }
                });
                let path = dir.join(format!("{i:04}.png"));
                if let Err(e) = img.save(&path) {
                    return Err(GenError::Write { path: path.clone(), message: e.to_string() });
                }
            }
        }
    }
    Ok(format!("wrote {} ({} classes) to {}", kind, classes.len(), out.display()))
}
