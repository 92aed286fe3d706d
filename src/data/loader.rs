//! A prefetching batch loader. A background thread assembles the next batches while the model
//! trains on the current one; inside it, `workers` threads decode and augment disjoint slices of
//! the batch. Output is identical for a given seed whatever the number of workers.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::augment::{BoxLabel, Frame, Image, apply_pair, eval_frame};
use super::mix;
use super::mix::{Mixed, mix_batch};
use super::source::{DataError, Source};
use crate::ir::{Augment, Mix};

/// One batch, ready to become tensors: `x` is `[B, C, H, W]` row-major; `y` holds `B` labels, or
/// `B·H·W` pixel class ids for segmentation.
pub struct Batch {
    pub x: Vec<f32>,
    pub shape: [usize; 4],
    pub y: Vec<i64>,
    /// Per image, its boxes after augmentation (detection; empty otherwise).
    pub boxes: Vec<Vec<BoxLabel>>,
    /// Per image, where the evaluation pipeline put its pixels, so that boxes go back to the
    /// original image's pixels (empty in training, whose random steps have no single frame).
    pub frames: Vec<Frame>,
    /// How `train { mix = … }` mixed the batch (`data::mix`): the labels are then soft targets.
    pub mixed: Option<Mixed>,
}

pub struct Loader {
    pub source: Arc<dyn Source>,
    pub steps: Arc<Vec<Augment>>,
    pub batch: usize,
    pub workers: usize,
    pub seed: u64,
    pub train: bool,
    pub balanced: bool,
    pub shuffle: bool,
    pub limit_batches: Option<usize>,
    /// `train { mix = … }` for training batches; empty otherwise.
    pub mix: Arc<Vec<Mix>>,
    /// The part of each epoch this rank reads in a data-parallel run (`dist`).
    pub shard: Shard,
}

impl Batch {
    /// The batch cut into at most `parts` consecutive slices of sizes differing by at most one
    /// (the first ones take the remainder), with their labels, boxes, frames and mix partners:
    /// each device's share in an in-process data-parallel step. Never an empty slice.
    pub fn split(self, parts: usize) -> Vec<Batch> {
        let [n, c, h, w] = self.shape;
        let parts = parts.clamp(1, n.max(1));
        if parts == 1 {
            return vec![self];
        }
        // Labels per sample: 1 (classification) or H·W (segmentation).
        let per_label = self.y.len() / n.max(1);
        let mut out = Vec::with_capacity(parts);
        let mut start = 0;
        for part in 0..parts {
            let len = n / parts + usize::from(part < n % parts);
            let range = start..start + len;
            out.push(Batch {
                shape: [len, c, h, w],
                x: self.x[range.start * c * h * w..range.end * c * h * w].to_vec(),
                y: self.y[range.start * per_label..range.end * per_label].to_vec(),
                boxes: self.boxes.get(range.clone()).map(<[_]>::to_vec).unwrap_or_default(),
                frames: self.frames.get(range.clone()).map(<[_]>::to_vec).unwrap_or_default(),
                mixed: self.mixed.as_ref().map(|m| Mixed { lam: m.lam, partners: m.partners[range.clone()].to_vec() }),
            });
            start = range.end;
        }
        out
    }
}

/// A rank's share of the data: every `size`-th sample of the epoch's order from `rank` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub size: usize,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard { rank: 0, size: 1 }
    }
}

impl Loader {
    /// The loader of a split as the program declares it: the training pipeline, shuffled or
    /// balanced, for training; the evaluation pipeline in order otherwise.
    pub fn for_split(spec: &crate::ir::TrainSpec, source: Arc<dyn Source>, train: bool) -> Loader {
        let data = &spec.data;
        Loader {
            source,
            steps: Arc::new(if train { data.augment.clone() } else { data.eval_augment.clone() }),
            batch: data.batch,
            workers: data.workers,
            seed: spec.seed,
            train,
            balanced: data.balanced,
            shuffle: data.shuffle,
            limit_batches: data.limit_batches,
            mix: Arc::new(if train { spec.mix.clone() } else { Vec::new() }),
            shard: Shard::default(),
        }
    }

    /// This rank's part of the data, in batches of the global batch ÷ `shard.size` (a multiple,
    /// which the caller checks): the `k`-th batches of all ranks together are the `k`-th batch
    /// of one process reading the whole set.
    pub fn shard(mut self, shard: Shard) -> Loader {
        self.batch = (self.batch / shard.size.max(1)).max(1);
        self.shard = shard;
        self
    }

    /// The sample order of an epoch: shuffled (or class-balanced) from `(seed, epoch)`; with a
    /// shard, this rank's part of it.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let order = self.whole_order(epoch);
        let Shard { rank, size } = self.shard;
        if size <= 1 {
            return order;
        }
        // Like PyTorch's `DistributedSampler`: pad with the first samples to a multiple of the
        // ranks, so every rank has as many batches (and collectives) as the others.
        let total = order.len().div_ceil(size) * size;
        let padded = order.iter().copied().cycle().take(if order.is_empty() { 0 } else { total });
        padded.skip(rank).step_by(size).collect()
    }

    /// The order of the whole set, before sharding, cut to `limit_batches` global batches.
    fn whole_order(&self, epoch: u64) -> Vec<usize> {
        let n = self.source.len();
        let mut rng = ChaCha8Rng::seed_from_u64(mix(&[self.seed, epoch, 1]));
        let mut order: Vec<usize> = if self.train && self.balanced {
            // Draw n samples with each class equally likely.
            let mut by_class: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
            for i in 0..n {
                by_class.entry(self.source.label(i)).or_default().push(i);
            }
            let classes: Vec<&Vec<usize>> = by_class.values().collect();
            (0..n)
                .map(|_| {
                    let members = classes[rand::Rng::random_range(&mut rng, 0..classes.len())];
                    members[rand::Rng::random_range(&mut rng, 0..members.len())]
                })
                .collect()
        } else {
            (0..n).collect()
        };
        if self.train && self.shuffle && !self.balanced {
            order.shuffle(&mut rng);
        }
        let global = self.batch.max(1) * self.shard.size.max(1);
        let batches = order.len().div_ceil(global);
        let keep = self.limit_batches.map_or(batches, |l| l.min(batches));
        order.truncate((keep * global).min(order.len()));
        order
    }

    pub fn num_batches(&self, epoch: u64) -> usize {
        self.order(epoch).len().div_ceil(self.batch.max(1))
    }

    /// Starts producing an epoch's batches; `skip` batches are skipped (resume mid-epoch).
    pub fn epoch(&self, epoch: u64, skip: usize) -> Receiver<Result<Batch, DataError>> {
        let order = self.order(epoch);
        let (tx, rx) = sync_channel(2);
        let source = self.source.clone();
        let steps = self.steps.clone();
        let (batch, workers, seed, train) = (self.batch.max(1), self.workers.max(1), self.seed, self.train);
        let mixes = self.mix.clone();
        std::thread::spawn(move || {
            for (index, chunk) in order.chunks(batch).enumerate().skip(skip) {
                let mut result = assemble(&*source, &steps, chunk, workers, seed, epoch, train);
                if let Ok(b) = &mut result {
                    let mut rng = ChaCha8Rng::seed_from_u64(mix(&[seed, epoch, index as u64, 2]));
                    mix_batch(b, &mixes, &mut rng);
                }
                let stop = result.is_err();
                if tx.send(result).is_err() || stop {
                    return;
                }
            }
        });
        rx
    }
}

/// An augmented image, its label or mask pixels, its boxes, and its frame in evaluation.
type Sample = (Image, Vec<i64>, Vec<BoxLabel>, Option<Frame>);

#[allow(clippy::too_many_arguments)]
fn assemble(
    source: &dyn Source,
    steps: &[Augment],
    indices: &[usize],
    workers: usize,
    seed: u64,
    epoch: u64,
    train: bool,
) -> Result<Batch, DataError> {
    // Targets: the label, or for segmentation every pixel's class id.
    let load = |i: usize| -> Result<Sample, DataError> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(&[seed, epoch, i as u64]));
        let image = source.image(i)?;
        let frame = (!train).then(|| eval_frame(steps, (image.h, image.w), None));
        let (img, mask, boxes) = apply_pair(steps, image, source.mask(i)?, source.boxes(i), &mut rng, train);
        match mask {
            Some(m) if (m.h, m.w) != (img.h, img.w) => {
                Err(DataError::MaskSize { index: i, mask_h: m.h, mask_w: m.w, image_h: img.h, image_w: img.w })
            }
            Some(m) => Ok((img, m.data.iter().map(|v| *v as i64).collect(), Vec::new(), frame)),
            None => Ok((img, vec![source.label(i) as i64], boxes.unwrap_or_default(), frame)),
        }
    };
    let per = indices.len().div_ceil(workers);
    let parts: Vec<Result<Vec<Sample>, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = indices
            .chunks(per.max(1))
            .map(|part| (part, s.spawn(move || part.iter().map(|&i| load(i)).collect::<Result<Vec<_>, _>>())))
            .collect();
        handles
            .into_iter()
            .map(|(part, h)| {
                let worker = || DataError::Worker { first: part[0], last: part[part.len() - 1] };
                h.join().unwrap_or_else(|_| Err(worker()))
            })
            .collect()
    });
    let mut samples = Vec::with_capacity(indices.len());
    for part in parts {
        samples.extend(part?);
    }
    let (c, h, w) = samples.first().map_or((0, 0, 0), |(img, ..)| (img.c, img.h, img.w));
    let mut x = Vec::with_capacity(samples.len() * c * h * w);
    let mut y = Vec::with_capacity(samples.len());
    let n = samples.len();
    let mut boxes = Vec::with_capacity(n);
    let mut frames = Vec::new();
    for ((img, label, sample_boxes, frame), &i) in samples.into_iter().zip(indices) {
        if (img.c, img.h, img.w) != (c, h, w) {
            return Err(DataError::SampleSize {
                index: i,
                found: format!("{}×{}×{}", img.c, img.h, img.w),
                batch: format!("{c}×{h}×{w}"),
            });
        }
        x.extend_from_slice(&img.data);
        y.extend(label);
        boxes.push(sample_boxes);
        frames.extend(frame);
    }
    Ok(Batch { shape: [n, c, h, w], x, y, boxes, frames, mixed: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images whose pixels encode their index, so batches can be compared exactly.
    struct Counting(usize);

    impl Source for Counting {
        fn len(&self) -> usize {
            self.0
        }
        fn label(&self, index: usize) -> usize {
            index % 3
        }
        fn image(&self, index: usize) -> Result<Image, DataError> {
            Ok(Image { c: 1, h: 4, w: 4, data: (0..16).map(|p| (index * 16 + p) as f32 / 1000.0).collect() })
        }
    }

    fn loader(workers: usize) -> Loader {
        let steps = vec![Augment::Hflip { p: 0.5 }, Augment::RandomCrop { size: 4, padding: 1 }];
        Loader {
            source: Arc::new(Counting(37)),
            steps: Arc::new(steps),
            batch: 8,
            workers,
            seed: 11,
            train: true,
            balanced: false,
            shuffle: true,
            limit_batches: None,
            mix: Default::default(),
            shard: Shard::default(),
        }
    }

    fn collect(l: &Loader, epoch: u64) -> Vec<(Vec<f32>, Vec<i64>)> {
        l.epoch(epoch, 0).into_iter().map(|b| b.map(|b| (b.x, b.y)).expect("batch")).collect()
    }

    #[test]
    fn batches_do_not_depend_on_the_number_of_workers() {
        let one = collect(&loader(1), 2);
        assert_eq!(one.len(), 5);
        assert_eq!(one, collect(&loader(3), 2));
        assert_eq!(one, collect(&loader(8), 2));
        assert_ne!(one, collect(&loader(1), 3), "another epoch shuffles differently");
    }

    #[test]
    fn limit_and_balance() {
        let mut l = loader(2);
        l.limit_batches = Some(2);
        assert_eq!(l.num_batches(0), 2);
        l.balanced = true;
        l.limit_batches = None;
        let order = l.order(0);
        let mut per_class = [0usize; 3];
        for i in order {
            per_class[i % 3] += 1;
        }
        assert!(per_class.iter().all(|n| *n >= 6), "{per_class:?}");
    }

    #[test]
    fn shards_interleave_into_the_batches_of_one_process() {
        let whole = loader(1);
        let (order, global) = (whole.order(3), whole.batch);
        let ranks: Vec<Vec<usize>> = (0..2).map(|rank| loader(1).shard(Shard { rank, size: 2 }).order(3)).collect();
        // 37 samples pad to 38: each rank 19, the first sample again at the end.
        assert_eq!(ranks[0].len(), 19);
        assert_eq!(ranks[1].len(), 19);
        assert_eq!(ranks[1][18], order[0]);
        for k in 0..4 {
            let mut together: Vec<usize> = ranks.iter().flat_map(|r| r[k * 4..k * 4 + 4].to_vec()).collect();
            let mut one: Vec<usize> = order[k * global..(k + 1) * global].to_vec();
            together.sort_unstable();
            one.sort_unstable();
            assert_eq!(together, one, "global batch {k}");
        }
        let mut limited = loader(1).shard(Shard { rank: 1, size: 2 });
        limited.limit_batches = Some(2);
        assert_eq!(limited.num_batches(3), 2, "limit_batches counts global batches");
    }

    #[test]
    fn a_split_batch_keeps_every_sample_with_its_labels_and_partners() {
        // 5 segmentation-like samples of 1×1×2 with 2 labels each, mixed.
        let y: Vec<i64> = (0..10).collect();
        let batch = Batch {
            shape: [5, 1, 1, 2],
            x: (0..10).map(|v| v as f32).collect(),
            y: y.clone(),
            boxes: vec![Vec::new(); 5],
            frames: Vec::new(),
            mixed: Some(Mixed { lam: 0.3, partners: vec![4, 0, 1, 2, 3] }),
        };
        let parts = batch.split(2);
        assert_eq!(parts.iter().map(|p| p.shape[0]).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!(parts[1].x, vec![6.0, 7.0, 8.0, 9.0]);
        assert_eq!(parts[1].y, vec![6, 7, 8, 9]);
        assert_eq!(parts[1].boxes.len(), 2);
        assert_eq!(parts[0].mixed.as_ref().map(|m| m.partners.clone()), Some(vec![4, 0, 1]));
        let two = Batch {
            shape: [2, 1, 1, 1],
            x: vec![0.0, 1.0],
            y: vec![0, 1],
            boxes: Vec::new(),
            frames: Vec::new(),
            mixed: None,
        };
        assert_eq!(two.split(4).len(), 2, "never an empty slice");
    }
}
