//! Losses on class logits, weighted and summed as the `loss` expression says.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};

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
            Loss::Bce => {
                // max(x, 0) − x·t + log(1 + e^−|x|), the stable form of BCE with logits.
                let x = logits.clone();
                (x.clone().clamp_min(0.0) - x.clone() * one_hot() + (x.abs().neg().exp() + 1.0).log()).mean()
            }
            Loss::Mse => (logits.clone() - one_hot()).powf_scalar(2.0).mean(),
            Loss::L1 => (logits.clone() - one_hot()).abs().mean(),
            &Loss::SmoothL1 { beta } => {
                let d = (logits.clone() - one_hot()).abs();
                let small = d.clone().lower_elem(beta);
                let quadratic = d.clone().powf_scalar(2.0) * (0.5 / beta);
                let linear = d - 0.5 * beta;
                linear.mask_where(small, quadratic).mean()
            }
            &Loss::Dice { smooth } => {
                // 1 − mean over classes of (2·Σ p·t + s) / (Σ p + Σ t + s), p = softmax.
                let p = burn::tensor::activation::softmax(logits.clone(), 1);
                let t = one_hot();
                let inter = (p.clone() * t.clone()).sum_dim(0) * 2.0 + smooth;
                let denom = p.sum_dim(0) + t.sum_dim(0) + smooth;
                (inter / denom).mean().neg() + 1.0
            }
            Loss::CenterNet { .. } => {
                unreachable!("the checker lets `centernet_loss` train detection only, which has no class logits")
            }
        };
        let weighted = value * term.weight;
        total = Some(match total {
            Some(t) => t + weighted,
            None => weighted,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([1], device))
}

/// `[B, C, H, W]` logits as `[B·H·W, C]` rows, matching the loader's pixel order of the masks.
pub fn pixels(logits: Tensor<4>) -> Tensor<2> {
    let classes = logits.dims()[1];
    logits.permute([0, 2, 3, 1]).reshape([-1, classes as i64])
}
