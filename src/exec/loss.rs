//! Losses on class logits, weighted and summed as the `loss` expression says.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::ir::{Loss, LossTerm};

/// The mean loss over logits `[N, C]` and labels `[N]`: samples, or pixels for segmentation
/// (see [`pixels`]).
pub fn classification(terms: &[LossTerm], logits: Tensor<2>, labels: Tensor<1, Int>, device: &Device) -> Tensor<1> {
    let classes = logits.dims()[1];
    let mut total: Option<Tensor<1>> = None;
    for term in terms {
        let one_hot = || labels.clone().one_hot::<2>(classes).float();
        let value = match &term.loss {
            Loss::CrossEntropy { label_smoothing, weights } => {
                let smoothing = (*label_smoothing > 0.0).then_some(*label_smoothing as f32);
                let weights = weights.as_ref().map(|w| w.iter().map(|x| *x as f32).collect());
                CrossEntropyLossConfig::new()
                    .with_smoothing(smoothing)
                    .with_weights(weights)
                    .init(device)
                    .forward(logits.clone(), labels.clone())
            }
            &Loss::Focal { alpha, gamma } => {
                let logp = log_softmax(logits.clone(), 1).gather(1, labels.clone().reshape([-1, 1])).reshape([-1]);
                let p = logp.clone().exp();
                ((p.neg() + 1.0).powf_scalar(gamma) * logp * (-alpha)).mean()
            }
            Loss::CenterNet { .. } | Loss::Fcos { .. } => {
                unreachable!("the checker lets detection losses train detection only, which has no class logits")
            }
            dense_loss => dense(dense_loss, &logits, one_hot()),
        };
        let weighted = value * term.weight;
        total = Some(match total {
            Some(t) => t + weighted,
            None => weighted,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([1], device))
}

/// The losses that read the targets as a dense `[N, C]` tensor (one-hot labels or soft targets
/// alike): BCE, MSE, L1, smooth L1 and Dice.
fn dense(loss: &Loss, logits: &Tensor<2>, t: Tensor<2>) -> Tensor<1> {
    match loss {
        Loss::Bce => {
            // max(x, 0) − x·t + log(1 + e^−|x|), the stable form of BCE with logits.
            let x = logits.clone();
            (x.clone().clamp_min(0.0) - x.clone() * t + (x.abs().neg().exp() + 1.0).log()).mean()
        }
        Loss::Mse => (logits.clone() - t).powf_scalar(2.0).mean(),
        Loss::L1 => (logits.clone() - t).abs().mean(),
        &Loss::SmoothL1 { beta } => {
            let d = (logits.clone() - t).abs();
            let small = d.clone().lower_elem(beta);
            let quadratic = d.clone().powf_scalar(2.0) * (0.5 / beta);
            let linear = d - 0.5 * beta;
            linear.mask_where(small, quadratic).mean()
        }
        &Loss::Dice { smooth } => {
            // 1 − mean over classes of (2·Σ p·t + s) / (Σ p + Σ t + s), p = softmax.
            let p = burn::tensor::activation::softmax(logits.clone(), 1);
            let inter = (p.clone() * t.clone()).sum_dim(0) * 2.0 + smooth;
            let denom = p.sum_dim(0) + t.sum_dim(0) + smooth;
            (inter / denom).mean().neg() + 1.0
        }
        Loss::CrossEntropy { .. } | Loss::Focal { .. } | Loss::CenterNet { .. } | Loss::Fcos { .. } => {
            unreachable!("cross-entropy, focal and the detection losses read labels, not dense targets")
        }
    }
}

/// The mean loss over logits `[N, C]` and soft targets `[N, C]` (rows summing to 1: mixup and
/// cutmix, `data::mix`). Each loss is its one-hot form with the one-hot replaced by the targets:
/// cross-entropy is `−Σ_c w_c·t_c·log p_c` with `t` smoothed to `(1 − ε)·t + ε/C` (PyTorch's
/// cross-entropy with probability targets, and timm's mixup with smoothing), focal is
/// `−α Σ_c t_c (1 − p_c)^γ log p_c`; on one-hot targets every one equals [`classification`].
pub fn soft(terms: &[LossTerm], logits: Tensor<2>, targets: Tensor<2>, device: &Device) -> Tensor<1> {
    let classes = logits.dims()[1];
    let mut total: Option<Tensor<1>> = None;
    for term in terms {
        let t = targets.clone();
        let value = match &term.loss {
            Loss::CrossEntropy { label_smoothing, weights } => {
                let eps = *label_smoothing;
                let t = t * (1.0 - eps) + eps / classes as f64;
                let nll = log_softmax(logits.clone(), 1).neg() * t;
                let nll = match weights {
                    Some(w) => {
                        let w: Vec<f32> = w.iter().map(|x| *x as f32).collect();
                        nll * Tensor::<1>::from_data(TensorData::new(w, [classes]), device).reshape([1, classes as i64])
                    }
                    None => nll,
                };
                nll.sum_dim(1).mean()
            }
            &Loss::Focal { alpha, gamma } => {
                let logp = log_softmax(logits.clone(), 1);
                let p = logp.clone().exp();
                ((p.neg() + 1.0).powf_scalar(gamma) * logp * t * (-alpha)).sum_dim(1).mean()
            }
            Loss::CenterNet { .. } | Loss::Fcos { .. } => {
                unreachable!("the checker lets detection losses train detection only, which has no class logits")
            }
            dense_loss => dense(dense_loss, &logits, t),
        };
        let weighted = value * term.weight;
        total = Some(match total {
            Some(t) => t + weighted,
            None => weighted,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([1], device))
}

/// The mean loss over the rows whose label is a class (`0..C`): a label outside the list (the
/// segmentation ignore label 255, VOC's object borders, COCO's crowd regions) drops its row
/// before any loss sees it, so ignored pixels add nothing and every mean is over counted rows.
/// A batch with no counted row gives 0, still tied to the logits so a backward pass works.
pub fn counted(terms: &[LossTerm], logits: Tensor<2>, labels: &[i64], device: &Device) -> Tensor<1> {
    let classes = logits.dims()[1] as i64;
    let kept: Vec<i64> = (0..labels.len() as i64).filter(|&i| (0..classes).contains(&labels[i as usize])).collect();
    if kept.is_empty() {
        return (logits.sum() * 0.0).reshape([1]);
    }
    let n = kept.len();
    let (logits, labels) = if n == labels.len() {
        (logits, labels.to_vec())
    } else {
        let index = Tensor::<1, Int>::from_data(TensorData::new(kept.clone(), [n]), device);
        (logits.select(0, index), kept.iter().map(|&i| labels[i as usize]).collect())
    };
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    classification(terms, logits, labels, device)
}

/// `[B, C, H, W]` logits as `[B·H·W, C]` rows, matching the loader's pixel order of the masks.
pub fn pixels(logits: Tensor<4>) -> Tensor<2> {
    let classes = logits.dims()[1];
    logits.permute([0, 2, 3, 1]).reshape([-1, classes as i64])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(loss: Loss) -> LossTerm {
        LossTerm { loss, weight: 1.0, output: String::new() }
    }

    fn value(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    /// Pixels labelled 255 add nothing: the loss with them equals the loss over the counted
    /// pixels alone (the mean is over those), for every loss the segmentation task trains with.
    #[test]
    fn ignored_pixels_add_nothing_to_any_loss() {
        let device = Device::flex();
        let rows = [[2.0f32, -1.0, 0.5], [0.1, 0.3, -2.0], [5.0, 5.0, -5.0], [-1.0, 0.0, 1.0], [9.0, -9.0, 0.0]];
        let all: Vec<f32> = rows.iter().flatten().copied().collect();
        let labels = [0i64, 255, 2, 255, 1];
        let kept: Vec<f32> = [0usize, 2, 4].iter().flat_map(|&i| rows[i]).collect();
        let losses = [
            Loss::CrossEntropy { label_smoothing: 0.1, weights: None },
            Loss::Dice { smooth: 1.0 },
            Loss::Focal { alpha: 0.25, gamma: 2.0 },
            Loss::Bce,
            Loss::Mse,
        ];
        for loss in losses {
            let terms = [term(loss.clone())];
            let logits = Tensor::<2>::from_data(TensorData::new(all.clone(), [5, 3]), &device);
            let with = value(counted(&terms, logits, &labels, &device));
            let logits = Tensor::<2>::from_data(TensorData::new(kept.clone(), [3, 3]), &device);
            let without = value(counted(&terms, logits, &[0, 2, 1], &device));
            assert!((with - without).abs() < 1e-6, "{loss:?}: {with} vs {without}");
            assert!(with.is_finite() && with > 0.0, "{loss:?}: {with}");
        }
        // Cross-entropy over the counted pixels by hand: the mean of −log softmax at the label.
        let ce = |r: &[f32; 3], y: usize| -> f32 { r.iter().map(|v| v.exp()).sum::<f32>().ln() - r[y] };
        let expected = (ce(&rows[0], 0) + ce(&rows[2], 2) + ce(&rows[4], 1)) / 3.0;
        let terms = [term(Loss::CrossEntropy { label_smoothing: 0.0, weights: None })];
        let logits = Tensor::<2>::from_data(TensorData::new(all.clone(), [5, 3]), &device);
        let got = value(counted(&terms, logits, &labels, &device));
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
        // A batch of ignored pixels only gives 0, not NaN.
        let logits = Tensor::<2>::from_data(TensorData::new(all, [5, 3]), &device);
        assert_eq!(value(counted(&terms, logits, &[255; 5], &device)), 0.0);
    }

    /// Soft targets that are one-hot give every loss its hard-label value; a mixed target is the
    /// mix of the two cross-entropies (λ·CE(y_a) + (1 − λ)·CE(y_b), as timm computes mixup).
    #[test]
    fn soft_targets_agree_with_hard_labels_and_mix_linearly() {
        let device = Device::flex();
        let rows = vec![2.0f32, -1.0, 0.5, 0.1, 0.3, -2.0];
        let logits = || Tensor::<2>::from_data(TensorData::new(rows.clone(), [2, 3]), &device);
        let labels = || Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let one_hot =
            || Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0], [2, 3]), &device);
        let losses = [
            Loss::CrossEntropy { label_smoothing: 0.1, weights: None },
            Loss::CrossEntropy { label_smoothing: 0.0, weights: None },
            Loss::Focal { alpha: 0.25, gamma: 2.0 },
            Loss::Bce,
            Loss::Mse,
            Loss::SmoothL1 { beta: 1.0 },
            Loss::Dice { smooth: 1.0 },
        ];
        for loss in losses {
            let terms = [term(loss.clone())];
            let hard = value(classification(&terms, logits(), labels(), &device));
            let soft = value(soft(&terms, logits(), one_hot(), &device));
            assert!((hard - soft).abs() < 1e-5, "{loss:?}: {hard} vs {soft}");
        }
        let lam = 0.3f32;
        let mixed = vec![lam, 0.0, 1.0 - lam, 0.0, 1.0 - lam, lam];
        let mixed = Tensor::<2>::from_data(TensorData::new(mixed, [2, 3]), &device);
        let ce = [term(Loss::CrossEntropy { label_smoothing: 0.0, weights: None })];
        let other = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 1], [2]), &device);
        let expected = lam * value(classification(&ce, logits(), labels(), &device))
            + (1.0 - lam) * value(classification(&ce, logits(), other, &device));
        let got = value(soft(&ce, logits(), mixed, &device));
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }
}
