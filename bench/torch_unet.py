"""The U-Net benchmark recipe in plain PyTorch, identical to bench/unet256.train.

std/segmentation's `unet` (width 32) laid out layer for layer: double_conv = (3×3 conv without
bias → batch norm → ReLU) twice; three max-pool stages down to width 256, three 2×2 stride-2
transposed convolutions (with bias) up, each concatenated [upsampled, skip] and double-conv'ed,
and a 1×1 conv (with bias) to the classes. The parameter count is asserted against trainc's.
Data: the `trainc gen-data shapes-masks` PNGs (64×64 scenes, masks of class ids), decoded once
into memory; every batch is resized to 256×256 as trainc's `resize` does (images bilinear with
half-pixel centres, masks nearest) and normalised with mean 0.5, std 0.25, in the training loop.
Batch 4, per-pixel cross-entropy (255 ignored), Adam lr 1e-3, no augmentation, fp32 eager;
channels-last and the cuDNN autotuner on CUDA only (NCHW on the CPU, PyTorch's default).
Prints one JSON line; `steady_samples_per_s` leaves out the first WARMUP steps of every epoch
(bench/steps.py), `samples_per_s` is the whole training loop.
bench/lightning_unet.py runs the same model and data under Lightning.

Usage: python bench/torch_unet.py [EPOCHS] [--limit-batches N] [--warmup W] [--data DIR] [--test DIR]
(with --limit-batches the test split is not evaluated: pixel_accuracy is null.)
"""
import time

T0 = time.time()

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import scene_arguments, steady  # noqa: E402
from torch_resnet18 import memory_format, step_end, sync  # noqa: E402

SIZE, BATCH, CLASSES = 256, 4, 3
MEAN, STD = 0.5, 0.25
# `trainc check bench/unet256.train`: "segmenter: 1,927,075 parameters".
TRAINC_PARAMETERS = 1_927_075


def masks_folder(root):
    """Images ([N, 3, h, w] uint8) and masks ([N, h, w] uint8) of a mask folder, by file name."""
    names = sorted(os.listdir(f"{root}/images"))
    images = np.stack([np.asarray(Image.open(f"{root}/images/{n}").convert("RGB")) for n in names])
    masks = np.stack([np.asarray(Image.open(f"{root}/masks/{os.path.splitext(n)[0]}.png")) for n in names])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(masks)


def batch(images, masks, dev, memory_format=torch.contiguous_format):
    """trainc's `resize(256, 256); normalize(mean = 0.5, std = 0.25)` on a batch: pixels / 255,
    bilinear (align_corners=False, no antialiasing) for images, nearest for masks."""
    x = F.interpolate(images.to(dev).float() / 255.0, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    y = F.interpolate(masks.to(dev)[:, None].float(), size=(SIZE, SIZE), mode="nearest")[:, 0].long()
    return ((x - MEAN) / STD).contiguous(memory_format=memory_format), y


def double_conv(c, out):
    return nn.Sequential(
        nn.Conv2d(c, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
        nn.Conv2d(out, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
    )


class UNet(nn.Module):
    """std/segmentation.unet(x, classes, width)."""

    def __init__(self, channels, classes, width=32):
        super().__init__()
        w = width
        self.e1, self.e2 = double_conv(channels, w), double_conv(w, 2 * w)
        self.e3, self.mid = double_conv(2 * w, 4 * w), double_conv(4 * w, 8 * w)
        self.up3, self.d3 = nn.ConvTranspose2d(8 * w, 4 * w, 2, 2), double_conv(8 * w, 4 * w)
        self.up2, self.d2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2), double_conv(4 * w, 2 * w)
        self.up1, self.d1 = nn.ConvTranspose2d(2 * w, w, 2, 2), double_conv(2 * w, w)
        self.out = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(F.max_pool2d(e1, 2))
        e3 = self.e3(F.max_pool2d(e2, 2))
        mid = self.mid(F.max_pool2d(e3, 2))
        d3 = self.d3(torch.cat([self.up3(mid), e3], 1))
        d2 = self.d2(torch.cat([self.up2(d3), e2], 1))
        d1 = self.d1(torch.cat([self.up1(d2), e1], 1))
        return self.out(d1)


def unet():
    model = UNet(3, CLASSES, 32)
    n = sum(p.numel() for p in model.parameters())
    assert n == TRAINC_PARAMETERS, f"{n} parameters, trainc's U-Net has {TRAINC_PARAMETERS}"
    return model


def pixel_accuracy(model, images, masks, dev, memory_format):
    """Correct pixels / labelled pixels (255 is the ignore label) over the test split."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for i in range(0, len(masks), BATCH):
            x, y = batch(images[i:i + BATCH], masks[i:i + BATCH], dev, memory_format)
            keep = y != 255
            correct += ((model(x).argmax(1) == y) & keep).sum().item()
            total += keep.sum().item()
    return correct / max(total, 1)


def arguments():
    p = scene_arguments("bench/data/shapes_masks")
    p.add_argument("--test", default="bench/data/shapes_masks_test")
    return p.parse_args()


def main():
    a = arguments()
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fmt = memory_format(dev)
    torch.backends.cudnn.benchmark = True
    images, masks = masks_folder(a.data)
    model = unet().to(dev, memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per_epoch = (len(masks) + BATCH - 1) // BATCH
    per_epoch = min(per_epoch, a.limit_batches or per_epoch)
    ends, sizes, first_step = [], [], None
    sync()
    start = time.time()
    for _ in range(a.epochs):
        model.train()
        order = torch.randperm(len(masks))
        loss_sum = 0.0
        for k in range(per_epoch):
            b = order[k * BATCH:(k + 1) * BATCH]
            x, y = batch(images[b], masks[b], dev, fmt)
            loss = F.cross_entropy(model(x), y, ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            ends.append(step_end(k, per_epoch, a.warmup))
            sizes.append(len(b))
            if first_step is None:
                sync()
                first_step = time.time() - T0
    train_seconds = time.time() - start
    test = None if a.limit_batches else pixel_accuracy(model, *masks_folder(a.test), dev, fmt)
    print(json.dumps({
        "samples_per_s": sum(sizes) / train_seconds,
        "steady_samples_per_s": steady(ends, sizes, per_epoch, a.warmup),
        "epoch_seconds": train_seconds / a.epochs,
        "train_loss": float(loss_sum) / per_epoch,
        "test_pixel_accuracy": test,
        "first_step_s": first_step,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
