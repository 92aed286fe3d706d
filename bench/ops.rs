//! Per-op timings of the Fashion-MNIST CNN's layers on a backend, to see where a training step
//! goes: `cargo bench --bench ops [-- DEVICE]` (DEVICE = flex, the default, or tch with
//! `--features tch`). Prints a Markdown table of medians over 20 runs after 3 warm-ups.
//!
//! Besides burn's conv2d it times trainc's (`exec::conv`, `exec::im2col`: NCHW columns and matrix
//! products). `cargo bench --bench ops -- flex convs` times the benchmark models' convolutions
//! (ResNet-18, U-Net) one by one instead, and `cargo bench --bench ops -- kernels` trainc's two
//! kernels for 3×3 convolutions (im2col and Winograd) against each other on the same shapes.
//!
//! Last, a conv 3×3 + batch norm block (ResNet-18 and U-Net shapes) forward + backward as burn
//! runs it and as trainc does (`exec::conv::conv2d`, `exec::net::batch_norm`: libtorch's own
//! backward on tch, `exec::tch_ops`), and one AdamW step over the CNN's parameters as burn and
//! as trainc (`exec::adam`) take it, alternating the two and reporting medians.

use std::time::Instant;

use burn::nn::BatchNormConfig;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor};

const RUNS: usize = 20;

/// Medians of `runs` alternated timings of `a` and `b` (after a warm-up of each), so that drift
/// on a shared machine hits both alike.
fn alternated_ms(runs: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    a();
    b();
    let mut times = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        a();
        times.0.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        b();
        times.1.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(times.0), median(times.1))
}

/// Conv 3×3 (padding 1, no bias) + batch norm in training mode, forward + backward, burn's
/// ops against trainc's, on `[batch, c, hw, hw]`.
fn conv_bn_block(ad: &Device, batch: usize, c: usize, hw: usize, runs: usize) {
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([batch, c, hw, hw], normal, ad).require_grad();
    let w = Tensor::<4>::random([c, c, 3, 3], normal, ad).require_grad();
    let bn = BatchNormConfig::new(c).init(ad);
    let options = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let (burn, ours) = alternated_ms(
        runs,
        || {
            let _ = bn.forward(conv2d(x.clone(), w.clone(), None, options())).sum().backward();
        },
        || {
            let h = trainc::exec::conv::conv2d(x.clone(), w.clone(), None, options());
            let _ = trainc::exec::net::batch_norm(&bn, h).sum().backward();
        },
    );
    println!("| conv 3×3 + batch norm, burn / trainc | [{batch},{c},{hw},{hw}] | | {burn:.2} / {ours:.2} |");
}

/// Conv 3×3 (padding 1, no bias) alone, forward + backward with the input gradient, burn's
/// `conv2d` against trainc's, on `[batch, c, hw, hw]` → `o` channels.
fn conv_alone(ad: &Device, batch: usize, [c, o]: [usize; 2], hw: usize, runs: usize) {
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([batch, c, hw, hw], normal, ad).require_grad();
    let w = Tensor::<4>::random([o, c, 3, 3], normal, ad).require_grad();
    let options = || ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    let (burn, ours) = alternated_ms(
        runs,
        || {
            let _ = conv2d(x.clone(), w.clone(), None, options()).sum().backward();
        },
        || {
            let _ = trainc::exec::conv::conv2d(x.clone(), w.clone(), None, options()).sum().backward();
        },
    );
    println!("| conv 3×3 alone, burn / trainc | [{batch},{c},{hw},{hw}] → {o} | | {burn:.2} / {ours:.2} |");
}

/// Transposed conv k 2, stride 2 (the U-Net's upsampling), forward + backward, burn's
/// `conv_transpose2d` against trainc's, on `[batch, c, hw, hw]` → `o` channels.
fn conv_transpose_alone(ad: &Device, batch: usize, [c, o]: [usize; 2], hw: usize, runs: usize) {
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([batch, c, hw, hw], normal, ad).require_grad();
    let w = Tensor::<4>::random([c, o, 2, 2], normal, ad).require_grad();
    let b = Tensor::<1>::random([o], normal, ad).require_grad();
    let options = || ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1);
    let (burn, ours) = alternated_ms(
        runs,
        || {
            let out = burn::tensor::module::conv_transpose2d(x.clone(), w.clone(), Some(b.clone()), options());
            let _ = out.sum().backward();
        },
        || {
            let out = trainc::exec::conv_transpose::conv_transpose2d(x.clone(), w.clone(), Some(b.clone()), options());
            let _ = out.sum().backward();
        },
    );
    println!(
        "| conv transpose 2×2 stride 2, burn / trainc | [{batch},{c},{hw},{hw}] → {o} | | {burn:.2} / {ours:.2} |"
    );
}

/// Batch norm in training mode alone, forward + backward, burn's `BatchNorm::forward` against
/// trainc's (`exec::net::batch_norm`), on `[batch, c, hw, hw]`.
fn batch_norm_alone(ad: &Device, batch: usize, c: usize, hw: usize, runs: usize) {
    let x = Tensor::<4>::random([batch, c, hw, hw], Distribution::Normal(0.0, 1.0), ad).require_grad();
    let bn = BatchNormConfig::new(c).init(ad);
    let (burn, ours) = alternated_ms(
        runs,
        || {
            let _ = bn.forward(x.clone()).sum().backward();
        },
        || {
            let _ = trainc::exec::net::batch_norm(&bn, x.clone()).sum().backward();
        },
    );
    println!("| batch norm alone, burn / trainc | [{batch},{c},{hw},{hw}] | | {burn:.2} / {ours:.2} |");
}

/// The convolutions of the benchmark models (BENCHMARKS.md, issue 17) one by one.
fn model_convs(ad: &Device) {
    // ResNet-18 on 32×32 images, batch 128: stages 1 to 4.
    for (c, hw) in [(64, 8), (128, 4), (256, 2), (512, 1)] {
        conv_alone(ad, 128, [c, c], hw, RUNS);
    }
    // The stdlib U-Net, width 32, on 256×256 images, batch 4: first level and the last decoder's.
    conv_alone(ad, 4, [32, 32], 256, 7);
    conv_alone(ad, 4, [64, 32], 256, 7);
    conv_alone(ad, 4, [128, 128], 64, 7);
    conv_transpose_alone(ad, 4, [256, 128], 32, 7);
    conv_transpose_alone(ad, 4, [64, 32], 128, 7);
    batch_norm_alone(ad, 4, 32, 256, 7);
    batch_norm_alone(ad, 128, 64, 8, RUNS);
}

/// trainc's two kernels for 3×3 convolutions with stride 1 on the same data: im2col
/// (`exec::im2col`) against Winograd F(2×2, 3×3) (`exec::winograd`), forward and forward +
/// backward (input, weight and bias gradients), medians of alternated runs in ms.
fn kernels() {
    use trainc::exec::{im2col, winograd};
    println!(
        "| convolution | im2col fwd | Winograd fwd | im2col fwd + bwd | Winograd fwd + bwd | speed-up | trainc runs |"
    );
    println!("|---|---|---|---|---|---|---|");
    let shapes = [
        // The Fashion-MNIST CNN's second layer (no padding).
        (64, [32, 64], 26, 0, RUNS),
        // ResNet-18 on 32×32 images, batch 128: stages 1 to 3.
        (128, [64, 64], 8, 1, RUNS),
        (128, [128, 128], 4, 1, RUNS),
        (128, [256, 256], 2, 1, RUNS),
        // The stdlib U-Net, width 32, on 256×256 images, batch 4: levels 1, 2 and 3.
        (4, [32, 32], 256, 1, 7),
        (4, [64, 64], 128, 1, 7),
        (4, [128, 128], 64, 1, 7),
    ];
    let mut state = 0x2545_f491_u32;
    let mut values = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    };
    // `kernels HW` times only the maps of that size.
    let only: Option<usize> = std::env::args().filter_map(|a| a.parse().ok()).next();
    for (batch, [c, o], hw, pad, runs) in shapes.into_iter().filter(|s| only.is_none_or(|hw| s.2 == hw)) {
        let options = ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
        let g = im2col::Geometry::new([batch, c, hw, hw], [o, c, 3, 3], &options).expect("a convolution");
        let (x, w, b) = (values(batch * c * hw * hw), values(o * c * 9), values(o));
        let dy = values(batch * o * g.out[0] * g.out[1]);
        let (fwd_im2col, fwd_winograd) = alternated_ms(
            runs,
            || drop(std::hint::black_box(im2col::forward(&g, &x, &w, Some(&b), false))),
            || drop(std::hint::black_box(winograd::forward(&g, &x, &w, Some(&b), false))),
        );
        let (both_im2col, both_winograd) = alternated_ms(
            runs,
            || {
                std::hint::black_box(im2col::forward(&g, &x, &w, Some(&b), false));
                std::hint::black_box(im2col::backward(&g, &x, &w, &dy, true, None));
            },
            || {
                std::hint::black_box(winograd::forward(&g, &x, &w, Some(&b), false));
                std::hint::black_box(winograd::backward(&g, &x, &w, &dy, true, None));
            },
        );
        println!(
            "| [{batch},{c},{hw},{hw}] → {o}, pad {pad} | {fwd_im2col:.2} | {fwd_winograd:.2} | {both_im2col:.2} | \
             {both_winograd:.2} | {:.2}× | {} |",
            both_im2col / both_winograd,
            if winograd::applies(&g) { "Winograd" } else { "im2col" }
        );
    }
}

/// One AdamW step over the Fashion-MNIST CNN's parameters (1.2 M values in 8 tensors), burn's
/// `AdamW` against trainc's fused step (`exec::adam`: one pass on flex, in-place libtorch ops on
/// tch), alternated, each keeping its own moments from step to step.
fn adamw_steps(device: &Device) {
    use burn::optim::{AdamWConfig, Optimizer};
    use trainc::exec::adam::{Decay, FusedAdamW, Hyper};
    let shapes = [[32, 9], [1, 32], [64, 288], [1, 64], [128, 9216], [1, 128], [10, 128], [1, 10]];
    let normal = Distribution::Normal(0.0, 1.0);
    let tensors = || shapes.map(|s| Tensor::<2>::random(s, normal, device));
    let grads = tensors();
    let config = AdamWConfig::new().with_weight_decay(0.01).with_epsilon(1e-8);
    let hyper = Hyper { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8, decay: Decay::Decoupled(0.01) };
    let fused = FusedAdamW { fallback: config.build(), hyper };
    let burn = config.build();
    let mut ours = (tensors().map(Some), shapes.map(|_| None));
    let mut theirs = (tensors().map(Some), shapes.map(|_| None));
    let (burn_ms, fused_ms) = alternated_ms(
        RUNS,
        || {
            for (i, g) in grads.iter().enumerate() {
                let p = theirs.0[i].take().expect("a parameter");
                let (p, s) = burn.step(1e-3, p, g.clone(), theirs.1[i].take());
                (theirs.0[i], theirs.1[i]) = (Some(p), s);
            }
        },
        || {
            for (i, g) in grads.iter().enumerate() {
                let p = ours.0[i].take().expect("a parameter");
                let (p, s) = fused.step(1e-3, p, g.clone(), ours.1[i].take());
                (ours.0[i], ours.1[i]) = (Some(p), s);
            }
        },
    );
    println!("| AdamW step, burn / trainc (fused) | 8 tensors, 1.2 M values | | {burn_ms:.2} / {fused_ms:.2} |");
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

#[allow(deprecated)]
fn main() {
    // As `trainc run` does: freed buffers stay mapped, so no op pays page faults for the last
    // one's memory (BENCHMARKS.md, "Keeping freed memory between steps").
    trainc::run::allocator::keep_freed_memory();
    let name = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "flex".into());
    let device = match name.as_str() {
        #[cfg(feature = "tch")]
        "tch" => Device::libtorch(),
        _ => Device::flex(),
    };
    let ad = device.clone().autodiff();
    if std::env::args().any(|a| a == "kernels") {
        return kernels();
    }
    if std::env::args().any(|a| a == "convs") {
        println!("| op | shape | forward | forward + backward |\n|---|---|---|---|");
        return model_convs(&ad);
    }
    let batch = 64;
    println!("backend {name}, batch {batch}, median of {RUNS} runs (ms)\n");
    println!("| op | shape | forward | forward + backward |");
    println!("|---|---|---|---|");
    let normal = Distribution::Normal(0.0, 1.0);
    for (c, o, hw, input_grad) in [(1, 32, 28, false), (32, 64, 26, true)] {
        let shape = format!("[{batch},{c},{hw},{hw}] → {o}, k3");
        let x = Tensor::<4>::random([batch, c, hw, hw], normal, &device);
        let w = Tensor::<4>::random([o, c, 3, 3], normal, &device);
        let b = Tensor::<1>::random([o], normal, &device);
        let options = || ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let fwd = median_ms(|| {
            conv2d(x.clone(), w.clone(), Some(b.clone()), options()).sum().into_scalar::<f32>();
        });
        let fwd_ours = median_ms(|| {
            trainc::exec::conv::conv2d(x.clone(), w.clone(), Some(b.clone()), options()).sum().into_scalar::<f32>();
        });
        let xa = Tensor::<4>::from_data(x.to_data(), &ad);
        let xa = if input_grad { xa.require_grad() } else { xa };
        let wa = Tensor::<4>::from_data(w.to_data(), &ad).require_grad();
        let ba = Tensor::<1>::from_data(b.to_data(), &ad).require_grad();
        let both = median_ms(|| {
            let _ = conv2d(xa.clone(), wa.clone(), Some(ba.clone()), options()).sum().backward();
        });
        let ours = median_ms(|| {
            let _ = trainc::exec::conv::conv2d(xa.clone(), wa.clone(), Some(ba.clone()), options()).sum().backward();
        });
        // Which backward part costs what: input gradient alone (weight held constant).
        println!("| conv2d (burn) | {shape} | {fwd:.2} | {both:.2} |");
        if input_grad {
            let w_const = Tensor::<4>::from_data(w.to_data(), &ad);
            let x_only = median_ms(|| {
                let _ = conv2d(xa.clone(), w_const.clone(), None, options()).sum().backward();
            });
            println!("| conv2d (burn), input gradient only | {shape} | | {x_only:.2} |");
        }
        println!("| conv2d (trainc: im2col kernel) | {shape} | {fwd_ours:.2} | {ours:.2} |");
    }
    let x = Tensor::<4>::random([batch, 64, 24, 24], normal, &ad).require_grad();
    let pool = median_ms(|| {
        let _ = max_pool2d(x.clone(), MaxPoolOptions::new([2, 2])).sum().backward();
    });
    println!("| max_pool2d | [{batch},64,24,24] | | {pool:.2} |");
    let pool_layer = burn::nn::pool::MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
    let ours = median_ms(|| {
        let _ = trainc::exec::pool::max_pool2d(&pool_layer, x.clone()).sum().backward();
    });
    println!("| max_pool2d (trainc: tiling windows) | [{batch},64,24,24] | | {ours:.2} |");
    // The same 2×2 pool as a reshape and two max reductions (autodiff derives the backward).
    let pool_reshape = median_ms(|| {
        let _ = x.clone().reshape([batch, 64, 12, 2, 12, 2]).max_dim(5).max_dim(3).sum().backward();
    });
    println!("| max_pool2d 2×2 as reshape + max_dim | [{batch},64,24,24] | | {pool_reshape:.2} |");
    let relu = median_ms(|| {
        let _ = burn::tensor::activation::relu(x.clone()).sum().backward();
    });
    println!("| relu | [{batch},64,24,24] | | {relu:.2} |");
    let h = Tensor::<2>::random([batch, 9216], normal, &ad).require_grad();
    let fc = Tensor::<2>::random([9216, 128], normal, &ad).require_grad();
    let linear = median_ms(|| {
        let _ = h.clone().matmul(fc.clone()).sum().backward();
    });
    println!("| linear (matmul) | [{batch},9216] × [9216,128] | | {linear:.2} |");
    // ResNet-18 on 32×32 images: stages 1 and 4 (after the stride-2 stem and pool); U-Net, width
    // 32, on 256×256 images (its first level).
    conv_bn_block(&ad, 32, 64, 8, RUNS);
    conv_bn_block(&ad, 32, 512, 1, RUNS);
    conv_bn_block(&ad, 4, 32, 256, 7);
    adamw_steps(&device);
}
