//! Image-loader throughput: a JPEG image folder decoded, augmented to 224×224 (resize, random
//! horizontal flip, ImageNet normalisation) and batched (64) by trainc's `Loader` with N worker
//! threads — the same transforms and workers `bench/loader.py` gives torchvision's `ImageFolder`
//! + `DataLoader`, which runs this program and prints both.
//!
//! `cargo bench --bench loader -- DIR [WORKERS]` (release), or in the dev profile
//! `cargo test --bench loader -- DIR [WORKERS]`; DIR holds `train/<class>/*.jpg`. Prints one line
//! of JSON: images/s of the best of 3 epochs after a warm-up epoch.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use trainc::data::{Loader, Source};
use trainc::ir::{Augment, Normalization};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "bench/data/loader".into())).join("train");
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    #[allow(clippy::disallowed_methods)]
    let mut classes: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run bench/loader.py to write the images)", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    let source = trainc::formats::image_folder::open(&dir, &classes, 3).expect("the image folder opens");
    let images = source.len();
    let steps = vec![
        Augment::Resize { height: 224, width: 224 },
        Augment::Hflip { p: 0.5 },
        Augment::Normalize { stats: Normalization::Imagenet },
    ];
    let loader = Loader {
        source: Arc::new(source),
        steps: Arc::new(steps),
        batch: 64,
        workers,
        seed: 0,
        train: true,
        balanced: false,
        shuffle: true,
        limit_batches: None,
        mix: Default::default(),
        shard: Default::default(),
    };
    let mut best = 0.0f64;
    for epoch in 0..4 {
        let start = Instant::now();
        let mut seen = 0;
        for batch in loader.epoch(epoch, 0) {
            seen += batch.expect("a batch").shape[0];
        }
        let rate = seen as f64 / start.elapsed().as_secs_f64();
        if epoch > 0 {
            best = best.max(rate);
        }
    }
    println!("{{\"loader\": \"trainc\", \"images\": {images}, \"workers\": {workers}, \"images_per_s\": {best:.1}}}");
}
