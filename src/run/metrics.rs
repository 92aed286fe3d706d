//! Metrics of an evaluation pass: accuracy, top-k, macro precision/recall/F1 and confusion from
//! class predictions; mIoU and pixel accuracy for segmentation; mAP for detection.

use std::collections::BTreeMap;

use crate::data::BoxLabel;
use crate::exec::detect::{self, Detection};
use crate::ir::Metric;

/// Predictions gathered over an evaluation pass: one per sample, or per pixel for segmentation.
#[derive(Default)]
pub struct Tally {
    pub classes: usize,
    /// Row-major `[n, classes]`; kept only when top-k is asked for (it needs the ranking).
    pub logits: Vec<f32>,
    pub preds: Vec<usize>,
    pub labels: Vec<usize>,
    pub loss_sum: f64,
    pub batches: usize,
    /// Detection: decoded boxes and the ground truth, per image.
    pub detections: Vec<Vec<Detection>>,
    pub truth: Vec<Vec<BoxLabel>>,
}

impl Tally {
    fn ranked(&self, i: usize) -> Vec<usize> {
        let row = &self.logits[i * self.classes..(i + 1) * self.classes];
        let mut idx: Vec<usize> = (0..self.classes).collect();
        idx.sort_by(|a, b| row[*b].total_cmp(&row[*a]));
        idx
    }

    pub fn confusion(&self) -> Vec<Vec<u64>> {
        let mut m = vec![vec![0u64; self.classes]; self.classes];
        for (&label, &pred) in self.labels.iter().zip(&self.preds) {
            if label < self.classes && pred < self.classes {
                m[label][pred] += 1;
            }
        }
        m
    }

    /// The requested metrics (and `loss`) by name.
    ///
    /// A label outside the class list (segmentation's ignore label 255, VOC's object borders) is
    /// left out of every metric, as torchmetrics' `ignore_index` does.
    pub fn compute(&self, metrics: &[Metric]) -> BTreeMap<String, f64> {
        let counted = self.labels.iter().filter(|l| **l < self.classes).count();
        let n = counted.max(1) as f64;
        let mut out = BTreeMap::new();
        out.insert("loss".to_string(), self.loss_sum / self.batches.max(1) as f64);
        let confusion = self.confusion();
        let per_class = |c: usize| {
            let tp = confusion[c][c] as f64;
            let predicted: f64 = (0..self.classes).map(|r| confusion[r][c] as f64).sum();
            let actual: f64 = confusion[c].iter().map(|v| *v as f64).sum();
            let p = if predicted > 0.0 { tp / predicted } else { 0.0 };
            let r = if actual > 0.0 { tp / actual } else { 0.0 };
            (p, r)
        };
        let present: Vec<usize> = (0..self.classes).filter(|c| confusion[*c].iter().sum::<u64>() > 0).collect();
        let macro_avg = |f: &dyn Fn(f64, f64) -> f64| {
            present
                .iter()
                .map(|c| {
                    let (p, r) = per_class(*c);
                    f(p, r)
                })
                .sum::<f64>()
                / present.len().max(1) as f64
        };
        for m in metrics {
            match *m {
                Metric::Accuracy | Metric::PixelAccuracy => {
                    let correct =
                        self.labels.iter().zip(&self.preds).filter(|(l, p)| **l < self.classes && l == p).count();
                    out.insert(m.name().into(), correct as f64 / n);
                }
                Metric::Miou => {
                    // Mean over the classes that occur in the labels or the predictions.
                    let ious: Vec<f64> = (0..self.classes)
                        .filter_map(|c| {
                            let tp = confusion[c][c] as f64;
                            let fp: f64 = (0..self.classes).filter(|r| *r != c).map(|r| confusion[r][c] as f64).sum();
                            let fn_: f64 = (0..self.classes).filter(|p| *p != c).map(|p| confusion[c][p] as f64).sum();
                            (tp + fp + fn_ > 0.0).then(|| tp / (tp + fp + fn_))
                        })
                        .collect();
                    out.insert(m.name().into(), ious.iter().sum::<f64>() / ious.len().max(1) as f64);
                }
                Metric::TopK { k } => {
                    let hits = (0..self.labels.len())
                        .filter(|i| self.labels[*i] < self.classes)
                        .filter(|i| self.ranked(*i)[..k.min(self.classes)].contains(&self.labels[*i]))
                        .count();
                    out.insert(m.name().into(), hits as f64 / n);
                }
                Metric::Map50 => {
                    out.insert(m.name().into(), detect::mean_ap(&self.detections, &self.truth, self.classes, 0.5));
                }
                Metric::Map => {
                    out.insert(m.name().into(), detect::mean_ap_coco(&self.detections, &self.truth, self.classes));
                }
                Metric::Precision => {
                    out.insert(m.name().into(), macro_avg(&|p, _| p));
                }
                Metric::Recall => {
                    out.insert(m.name().into(), macro_avg(&|_, r| r));
                }
                Metric::F1 => {
                    out.insert(
                        m.name().into(),
                        macro_avg(&|p, r| if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 }),
                    );
                }
                // Written to the run directory as a table, not a number.
                Metric::ConfusionMatrix => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_and_macro_f1() {
        let t = Tally {
            classes: 2,
            logits: vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0],
            preds: vec![0, 1, 0],
            labels: vec![0, 1, 1],
            loss_sum: 3.0,
            batches: 3,
            ..Tally::default()
        };
        let m = t.compute(&[Metric::Accuracy, Metric::F1, Metric::Miou]);
        // IoU: class 0 = 1/2, class 1 = 1/2.
        assert!((m["miou"] - 0.5).abs() < 1e-9);
        assert!((m["accuracy"] - 2.0 / 3.0).abs() < 1e-9);
        assert!((m["loss"] - 1.0).abs() < 1e-9);
        // class 0: p = 1/2, r = 1 → f1 2/3; class 1: p = 1, r = 1/2 → f1 2/3.
        assert!((m["f1"] - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn pixels_labelled_255_are_ignored() {
        let t = Tally { classes: 2, preds: vec![0, 1, 1, 0], labels: vec![0, 1, 255, 255], ..Tally::default() };
        let m = t.compute(&[Metric::PixelAccuracy, Metric::Miou]);
        assert_eq!((m["pixel_accuracy"], m["miou"]), (1.0, 1.0));
    }
}
