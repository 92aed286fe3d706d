//! `<run>/plots/`, redrawn after every epoch while `plots = true` (the default, as in
//! Ultralytics; Lightning leaves plots to loggers): `results.png` — the losses, every validation
//! metric and the learning rate per epoch —, `confusion_matrix.png` (classification and
//! segmentation, with class names) and `val_predictions.png`, a grid of 16 validation images
//! spread over the split with what the evaluated weights predict: the class (green when right,
//! red when wrong, `predicted / true`), the boxes (thick: found, thin: true) or the mask overlay.
//! Every file is written atomically, so a viewer refreshing it never reads half a PNG.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;

use super::{Control, EpochEnd, Hook, load_state, save_state};
use crate::data::{Source, augment};
use crate::exec::Net;
use crate::ir::{Task, TrainSpec};
use crate::plot::{self, Chart, Heatmap, Outline, Series, Tile};
use crate::run::RunError;
use crate::task::{self, PredictInput, Prediction, class_name};

/// Images in the prediction grid, and to a row.
const SHOWN: usize = 16;
const COLUMNS: usize = 8;
/// Detections drawn per image: the best, above this score.
const MIN_SCORE: f32 = 0.3;
const MAX_BOXES: usize = 10;

/// One epoch's numbers, kept for the curves (and in `state.json`, for a resumed run).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    pub lr: f64,
    pub metrics: BTreeMap<String, f64>,
}

pub struct Plots {
    pub dir: PathBuf,
    pub history: Vec<EpochPoint>,
    pub val: Option<Arc<dyn Source>>,
    pub device: Device,
    /// Height and width of the model's input.
    pub input: (usize, usize),
}

impl Plots {
    pub fn new(run: &std::path::Path, val: Option<Arc<dyn Source>>, device: Device, input: (usize, usize)) -> Plots {
        Plots { dir: run.join("plots"), history: Vec::new(), val, device, input }
    }

    fn save(&self, name: &str, canvas: &plot::Canvas) -> Result<(), RunError> {
        std::fs::create_dir_all(&self.dir).map_err(RunError::write(&self.dir))?;
        Ok(plot::save_png(&self.dir.join(name), canvas)?)
    }

    /// The grid of validation predictions with the evaluated weights.
    fn predictions(&self, net: &Net, spec: &TrainSpec) -> Result<Vec<Tile>, RunError> {
        let Some(val) = &self.val else { return Ok(Vec::new()) };
        let n = val.len().min(SHOWN);
        let runner = task::runner(spec.data.dataset.task);
        let classes = &spec.data.dataset.classes;
        let mut tiles = Vec::with_capacity(n);
        for k in 0..n {
            // Spread over the split: sorted datasets show more than their first class.
            let i = k * val.len() / n;
            let img = val.image(i)?;
            let frame = augment::eval_frame(&spec.data.eval_augment, (img.h, img.w), Some(self.input));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
            let x = augment::apply(&spec.data.eval_augment, img.clone(), &mut rng, false)
                .resize(self.input.0, self.input.1);
            let x = Tensor::<4>::from_data(TensorData::new(x.data, [1, x.c, x.h, x.w]), &self.device);
            let predicted = runner.predict(net.forward(vec![x]), &PredictInput { classes, frame })?;
            tiles.push(tile(&**val, i, canvas_of(&img), predicted, classes)?);
        }
        Ok(tiles)
    }
}

/// An image's pixels (floats, 1 or 3 channels, `[0, 1]`) as 8-bit RGB.
pub fn canvas_of(img: &augment::Image) -> plot::Canvas {
    let plane = img.h * img.w;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    plot::Canvas::from_fn(img.w as u32, img.h as u32, |x, y| {
        let at = y as usize * img.w + x as usize;
        let c = |ch: usize| byte(img.data.get((ch.min(img.c - 1)) * plane + at).copied().unwrap_or(0.0));
        image::Rgb([c(0), c(1), c(2)])
    })
}

/// The tile of sample `i`: its image, what was predicted and what is true.
fn tile(
    val: &dyn Source,
    i: usize,
    image: plot::Canvas,
    predicted: Prediction,
    classes: &[String],
) -> Result<Tile, RunError> {
    let mut tile = Tile { image, caption: String::new(), correct: None, boxes: Vec::new(), mask: None };
    match predicted {
        Prediction::Classes(probs) => {
            let best = (0..probs.len()).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap_or(0);
            let truth = val.label(i);
            tile.correct = Some(best == truth);
            tile.caption = if best == truth {
                class_name(classes, best).to_string()
            } else {
                format!("{} / {}", class_name(classes, best), class_name(classes, truth))
            };
        }
        Prediction::Boxes(found) => {
            let truth = val.boxes(i).unwrap_or_default();
            let thin = truth.iter().map(|b| Outline {
                x0: b.x0,
                y0: b.y0,
                x1: b.x1,
                y1: b.y1,
                label: String::new(),
                color: b.class,
                thin: true,
            });
            let kept: Vec<_> = found.iter().filter(|d| d.score >= MIN_SCORE).take(MAX_BOXES).collect();
            let thick = kept.iter().map(|d| Outline {
                x0: d.x0,
                y0: d.y0,
                x1: d.x1,
                y1: d.y1,
                label: format!("{} {:.2}", class_name(classes, d.class), d.score),
                color: d.class,
                thin: false,
            });
            tile.boxes = thin.chain(thick).collect();
            tile.caption = format!("{} found, {} true", kept.len(), truth.len());
        }
        Prediction::Mask { classes: pixels, .. } => {
            let truth = val.mask(i)?;
            let right = truth.as_ref().map(|t| {
                let same = t.data.iter().zip(&pixels).filter(|(a, b)| **a as u32 == **b).count();
                same as f64 / pixels.len().max(1) as f64
            });
            tile.caption = right.map_or_else(String::new, |r| format!("{:.0}% of pixels right", r * 100.0));
            tile.mask = Some(pixels);
        }
    }
    Ok(tile)
}

/// The panels of `results.png`: the losses together, each validation metric, the learning rate.
pub fn result_charts(history: &[EpochPoint]) -> Vec<Chart> {
    let series = |key: &str| {
        let points = history.iter().filter_map(|p| Some((p.epoch as f64, *p.metrics.get(key)?))).collect();
        Series::line(key, points)
    };
    let panel = |title: &str, series: Vec<Series>| Chart {
        title: title.into(),
        x_label: "epoch".into(),
        series,
        ..Chart::default()
    };
    let mut keys: Vec<&String> = history.iter().flat_map(|p| p.metrics.keys()).collect();
    keys.sort();
    keys.dedup();
    let losses: Vec<Series> = keys.iter().filter(|k| k.ends_with(".loss")).map(|k| series(k)).collect();
    let mut charts = vec![panel("loss", losses)];
    charts.extend(keys.iter().filter(|k| !k.ends_with(".loss")).map(|k| panel(k, vec![series(k)])));
    let lr = history.iter().map(|p| (p.epoch as f64, p.lr)).collect();
    charts.push(panel("learning rate", vec![Series::line("lr", lr)]));
    charts
}

impl Hook for Plots {
    fn name(&self) -> &'static str {
        "plots"
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.history.retain(|p| p.epoch < end.epoch);
        self.history.push(EpochPoint { epoch: end.epoch, lr: end.lr, metrics: end.metrics.clone() });
        let spec = &end.live.spec;
        if !spec.plots {
            return Ok(Control::Continue);
        }
        self.save("results.png", &plot::charts(&result_charts(&self.history), 3, (380, 280))?)?;
        let task = spec.data.dataset.task;
        if let Some(m) = end.confusion.filter(|m| task != Task::Detection && m.iter().flatten().any(|&n| n > 0)) {
            let title = format!("confusion matrix, validation, epoch {}", end.epoch);
            self.save(
                "confusion_matrix.png",
                &plot::heatmap(&Heatmap::confusion(title, &spec.data.dataset.classes, m))?,
            )?;
        }
        let tiles = self.predictions(end.eval_net, spec)?;
        if !tiles.is_empty() {
            self.save("val_predictions.png", &plot::image_grid(&tiles, COLUMNS)?)?;
        }
        Ok(Control::Continue)
    }

    fn state(&self) -> Option<serde_json::Value> {
        save_state(&self.history)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), RunError> {
        self.history = load_state(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(epoch: usize, metrics: &[(&str, f64)]) -> EpochPoint {
        EpochPoint {
            epoch,
            lr: 0.1 / epoch as f64,
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn losses_share_a_panel_and_each_metric_has_one() {
        let history = [
            point(1, &[("train.loss", 1.0), ("val.loss", 1.1), ("val.accuracy", 0.5)]),
            point(2, &[("train.loss", 0.5), ("val.loss", 0.7), ("val.accuracy", 0.8)]),
        ];
        let charts = result_charts(&history);
        let titles: Vec<&str> = charts.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["loss", "val.accuracy", "learning rate"]);
        let names: Vec<&str> = charts[0].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["train.loss", "val.loss"]);
        assert_eq!(charts[1].series[0].points, vec![(1.0, 0.5), (2.0, 0.8)]);
        assert_eq!(charts[2].series[0].points, vec![(1.0, 0.1), (2.0, 0.05)]);
    }

    #[test]
    fn images_become_rgb_from_one_or_three_channels() {
        let gray = augment::Image { c: 1, h: 1, w: 2, data: vec![0.0, 1.0] };
        assert_eq!(canvas_of(&gray).get_pixel(1, 0).0, [255, 255, 255]);
        let rgb = augment::Image { c: 3, h: 1, w: 1, data: vec![1.0, 0.5, 2.0] };
        assert_eq!(canvas_of(&rgb).get_pixel(0, 0).0, [255, 128, 255]);
    }
}
