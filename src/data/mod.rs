//! Data: sources of labelled images (each format's loader is in `crate::formats`), seeded splits,
//! augmentations, a prefetching loader and synthetic datasets.
//!
//! Randomness is per sample: the generator for sample `i` in epoch `e` is seeded from
//! `(seed, e, i)`, so a batch is the same whatever the number of worker threads.

pub mod augment;
pub mod bad;
pub mod drawn;
pub mod loader;
pub mod mix;
pub mod source;
pub mod synthetic;

pub use augment::{BoxLabel, Frame, Ignore, Image};
pub use loader::{Batch, Loader, Shard};
pub use source::{DataError, IMAGE_EXTENSIONS, Source, open_splits};

/// The loaders of each format, which live with their format's probe in `crate::formats`.
pub use crate::formats::{coco::Coco, idx::Idx, mask_folder::Masks, voc::Voc, yolo::Yolo};

/// A 64-bit mix of several numbers (splitmix64 steps), for per-sample seeds.
pub fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6).wrapping_add(h >> 2);
        h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 31;
    }
    h
}
