"""The GPU benchmark recipe in plain PyTorch, identical to bench/resnet18_gpu.train.

ResNet-18 laid out as std/backbones' `resnet18` + `classifier` (torchvision's layout: 7×7 stride-2
stem, max-pool, four stages of two basic blocks, global average pool, linear) on Fashion-MNIST
resized to 32×32 (bilinear, half-pixel centres like trainc's resize), normalised, AdamW lr 1e-3,
batch 128, no augmentation, fp32 eager, channels-last (on CUDA; NCHW on the CPU), cuDNN autotuner on (trainc does the same on
CUDA: src/exec/tch_ops.rs). The dataset is put on the GPU once, so this is the fastest plain loop
PyTorch offers (no DataLoader workers, no Lightning overhead). Prints one JSON line.
bench/lightning_resnet18.py runs the same model and data under Lightning.

Usage: python bench/torch_resnet18.py [EPOCHS] [IDX_DIR] [LIMIT] [--limit-batches N] [--warmup W]
(LIMIT: train on the first LIMIT images only, for a smoke test; without a GPU it runs on the CPU.
--limit-batches: N batches per epoch, test accuracy not evaluated (null). `steady_samples_per_s`
leaves out the first W steps of every epoch, bench/steps.py; `samples_per_s` is the whole loop.)
"""
import time

T0 = time.time()

import argparse
import gzip
import json
import os
import sys

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import steady  # noqa: E402

# `trainc check bench/resnet18_gpu.train`: "resnet: 11,175,370 parameters".
TRAINC_PARAMETERS = 11_175_370


def idx(root, prefix):
    # torch.frombuffer rather than numpy: the GPU machine's Python has torch but not numpy.
    with gzip.open(f"{root}/{prefix}-images-idx3-ubyte.gz") as f:
        images = torch.frombuffer(bytearray(f.read()[16:]), dtype=torch.uint8).reshape(-1, 1, 28, 28)
    with gzip.open(f"{root}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = torch.frombuffer(bytearray(f.read()[8:]), dtype=torch.uint8)
    x = images.float() / 255.0
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return (x - 0.286) / 0.353, labels.long()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def memory_format(dev):
    """Channels-last on CUDA (what cuDNN is fastest with, and trainc's tch path uses there); on the
    CPU PyTorch's default NCHW, which is what a plain CPU loop gets."""
    return torch.channels_last if dev.type == "cuda" else torch.contiguous_format


def step_end(k, per_epoch, warmup):
    """The end time of step k of an epoch where bench/steps.py reads it (the end of the warm-up
    and of the epoch; None elsewhere), so a GPU is synchronised twice an epoch, not every step."""
    if k in (warmup - 1, per_epoch - 1):
        sync()
        return time.time()
    return None


def conv_bn_relu(c, out, k=3, stride=1):
    return nn.Sequential(nn.Conv2d(c, out, k, stride, k // 2, bias=False), nn.BatchNorm2d(out), nn.ReLU())


class Basic(nn.Module):
    def __init__(self, c, out, stride=1):
        super().__init__()
        self.a = conv_bn_relu(c, out, stride=stride)
        self.b = nn.Sequential(nn.Conv2d(out, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out))
        self.s = None if stride == 1 and c == out else nn.Sequential(
            nn.Conv2d(c, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + (x if self.s is None else self.s(x)))


def resnet18(channels, classes):
    return nn.Sequential(
        conv_bn_relu(channels, 64, k=7, stride=2), nn.MaxPool2d(3, 2, 1),
        Basic(64, 64), Basic(64, 64),
        Basic(64, 128, 2), Basic(128, 128),
        Basic(128, 256, 2), Basic(256, 256),
        Basic(256, 512, 2), Basic(512, 512),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes),
    )


def arguments():
    p = argparse.ArgumentParser()
    p.add_argument("epochs", nargs="?", type=int, default=2)
    p.add_argument("root", nargs="?", default="bench/data/fashion-mnist")
    p.add_argument("limit", nargs="?", type=int, default=None)
    p.add_argument("--limit-batches", type=int, default=None)
    p.add_argument("--warmup", type=int, default=2)
    return p.parse_args()


def batches_per_epoch(n, limit_batches, size=128):
    n = (n + size - 1) // size
    return min(n, limit_batches or n)


def test_accuracy(model, tx, ty):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(ty), 512):
            correct += (model(tx[i:i + 512]).argmax(1) == ty[i:i + 512]).sum().item()
    return correct / len(ty)


def main():
    a = arguments()
    epochs = a.epochs
    torch.manual_seed(0)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    (x, y), (tx, ty) = idx(a.root, "train"), idx(a.root, "t10k")
    limit = a.limit or len(y)
    x, y, tx, ty = (t.to(dev) for t in (x[:limit], y[:limit], tx, ty))
    fmt = memory_format(dev)
    x, tx = (t.contiguous(memory_format=fmt) for t in (x, tx))
    model = resnet18(1, 10).to(dev, memory_format=fmt)
    n = sum(p.numel() for p in model.parameters())
    assert n == TRAINC_PARAMETERS, f"{n} parameters, trainc's ResNet-18 has {TRAINC_PARAMETERS}"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    first_step = None
    per_epoch = batches_per_epoch(len(y), a.limit_batches)
    ends, sizes = [], []
    sync()
    start = time.time()
    seen = 0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), device=dev)
        loss_sum = 0.0
        for k in range(per_epoch):
            b = order[k * 128:(k + 1) * 128]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            seen += len(b)
            ends.append(step_end(k, per_epoch, a.warmup))
            sizes.append(len(b))
            if first_step is None:
                sync()
                first_step = time.time() - T0
    sync()
    train_seconds = time.time() - start
    print(json.dumps({
        "samples_per_s": seen / train_seconds,
        "steady_samples_per_s": steady(ends, sizes, per_epoch, a.warmup),
        "epoch_seconds": train_seconds / epochs,
        "train_loss": float(loss_sum) / per_epoch,
        "test_accuracy": None if a.limit_batches else test_accuracy(model, tx, ty),
        "first_step_s": first_step,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
