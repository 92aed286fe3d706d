"""The detector benchmark recipe in plain PyTorch, identical to bench/detector384.train.

examples/detector.train's network layer for layer: std/backbones' ResNet-18 (torchvision's
layout, bench/torch_resnet18.py's blocks) giving c3, c4, c5; std/necks' FPN at width 128 (1×1
laterals with bias, nearest ×2 upsampling, a 3×3 conv on p3 — trainc drops p4 and p5, which the
model never reads, so they are left out here too); std/heads' CenterNet heads (3×3 conv 64 →
ReLU → 1×1 conv, the heat head's bias starting at −2.19 as trainc sets it). The parameter count
is asserted against trainc's. Data: the `trainc gen-data shapes-coco` scenes (64×64 PNGs, COCO
boxes) decoded once into memory; every batch is resized to 384×384 (bilinear, half-pixel centres,
as trainc's `resize`), normalised with ImageNet's statistics, and its CenterNet targets built on
the CPU exactly as src/exec/detect.rs builds them (Gaussian peaks with CornerNet's radius, sizes
and sub-cell offsets at the centre cells of 48×48 heads). The loss is trainc's `centernet_loss`
term for term: penalty-reduced focal loss on the heatmap + 0.1 × L1 size + 1 × L1 offset, each
over the number of objects. Batch 8, AdamW lr 5e-4, no augmentation, fp32 eager; channels-last and
the cuDNN autotuner on CUDA only. Prints one JSON line (no accuracy metric: trainc's mAP is not
reimplemented here; the mean training loss of the last epoch is the sanity check).
bench/lightning_detector.py runs the same model, data and loss under Lightning.

Usage: python bench/torch_detector.py [EPOCHS] [--limit-batches N] [--warmup W] [--data DIR]
"""
import time

T0 = time.time()

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import scene_arguments, steady  # noqa: E402
from torch_resnet18 import Basic, conv_bn_relu, memory_format, step_end, sync  # noqa: E402

SIZE, BATCH, STRIDE = 384, 8, 8
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
HEAT_PRIOR_BIAS = -2.19
WEIGHTS = (1.0, 0.1, 1.0)  # heat, size, offset
# `trainc check bench/detector384.train`: "detector: 11,660,934 parameters".
TRAINC_PARAMETERS = 11_660_934


def coco(root):
    """Images ([N, 3, h, w] uint8), boxes per image ([class, x0, y0, x1, y1] in pixels, clipped to
    the image, without the empty ones) and the class count, as trainc's `coco` reads them: class i
    is the i-th category by id."""
    d = json.load(open(f"{root}/annotations.json"))
    ids = sorted(c["id"] for c in d["categories"])
    entries = sorted(d["images"], key=lambda e: e["file_name"])
    boxes = {e["id"]: [] for e in entries}
    for a in d["annotations"]:
        e = next(e for e in entries if e["id"] == a["image_id"])
        x, y, w, h = a["bbox"]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, e["width"]), min(y + h, e["height"])
        if x1 > x0 and y1 > y0 and not a.get("iscrowd"):
            boxes[a["image_id"]].append((ids.index(a["category_id"]), x0, y0, x1, y1))
    images = np.stack([np.asarray(Image.open(f"{root}/images/{e['file_name']}").convert("RGB")) for e in entries])
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), [boxes[e["id"]] for e in entries], len(ids)


def gaussian_radius(h, w, m=0.7):
    """src/exec/detect.rs::gaussian_radius (CornerNet's three cases)."""
    def root(a, b, c, sign):
        return (b + sign * math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return min(root(1, h + w, w * h * (1 - m) / (1 + m), -1), root(4, 2 * (h + w), (1 - m) * w * h, -1),
               root(4 * m, -2 * m * (h + w), (m - 1) * w * h, 1))


def targets(boxes, classes, image, cells):
    """src/exec/detect.rs::Targets::new: dense [B, ·, h, w] maps of heat, centre, size, offset and
    the regression mask, and the object count, for boxes in the resized image's pixels."""
    b, h, w = len(boxes), cells, cells
    s = image / cells
    heat, centre = np.zeros((b, classes, h, w), np.float32), np.zeros((b, classes, h, w), np.float32)
    size, offset, regress = (np.zeros((b, 2, h, w), np.float32) for _ in range(3))
    objects = 0
    for i, image_boxes in enumerate(boxes):
        for c, x0, y0, x1, y1 in image_boxes:
            bw, bh = (x1 - x0) / s, (y1 - y0) / s
            if bw <= 0 or bh <= 0:
                continue
            cx, cy = (x0 + x1) / 2 / s, (y0 + y1) / 2 / s
            ix, iy = min(int(math.floor(cx)), w - 1), min(int(math.floor(cy)), h - 1)
            r = max(int(math.floor(gaussian_radius(bh, bw))), 0)
            sigma = (2 * r + 1) / 6
            ys, xs = np.arange(iy - r, iy + r + 1), np.arange(ix - r, ix + r + 1)
            g = np.exp(-((ys - iy)[:, None] ** 2 + (xs - ix)[None, :] ** 2) / (2 * sigma * sigma)).astype(np.float32)
            yk, xk = (ys >= 0) & (ys < h), (xs >= 0) & (xs < w)
            plane = heat[i, c]
            sub = np.ix_(ys[yk], xs[xk])
            plane[sub] = np.maximum(plane[sub], g[np.ix_(yk, xk)])
            heat[i, c, iy, ix] = centre[i, c, iy, ix] = 1.0
            size[i, :, iy, ix] = (bw, bh)
            offset[i, :, iy, ix] = (cx - ix, cy - iy)
            regress[i, :, iy, ix] = 1.0
            objects += 1
    return [torch.from_numpy(t) for t in (heat, centre, size, offset, regress)], objects


def batch(images, boxes, classes, dev, memory_format=torch.contiguous_format):
    """trainc's `resize(384, 384); normalize(imagenet)` on a batch, and its targets (boxes scaled
    with the pixels, as trainc's `move_boxes` does for a resize)."""
    h, w = images.shape[2:]
    x = F.interpolate(images.to(dev).float() / 255.0, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    x = (x - MEAN.to(dev)[:, None, None]) / STD.to(dev)[:, None, None]
    sx, sy = SIZE / w, SIZE / h
    scaled = [[(c, x0 * sx, y0 * sy, x1 * sx, y1 * sy) for c, x0, y0, x1, y1 in bs] for bs in boxes]
    maps, objects = targets(scaled, classes, SIZE, SIZE // STRIDE)
    return x.contiguous(memory_format=memory_format), [m.to(dev) for m in maps], objects


def centernet_loss(heads, maps, objects):
    """src/exec/detect.rs::centernet_loss, term for term."""
    heat, size, offset = heads
    gt, centre, tsize, toffset, regress = maps
    n = max(objects, 1)
    p = torch.sigmoid(heat)
    positive = F.logsigmoid(heat) * (1 - p) ** 2 * centre
    negative = F.logsigmoid(-heat) * p ** 2 * (1 - gt) ** 4 * (1 - centre)
    focal = -(positive.sum() + negative.sum()) / n
    l1_size = ((size - tsize).abs() * regress).sum() / n
    l1_offset = ((offset - toffset).abs() * regress).sum() / n
    return focal * WEIGHTS[0] + l1_size * WEIGHTS[1] + l1_offset * WEIGHTS[2]


def head(c, out, width=64):
    return nn.Sequential(nn.Conv2d(c, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, out, 1))


class Detector(nn.Module):
    """resnet18 → fpn(c3, c4, c5, width = 128) → centernet(p3, classes)."""

    def __init__(self, classes, width=128):
        super().__init__()
        self.c2 = nn.Sequential(conv_bn_relu(3, 64, k=7, stride=2), nn.MaxPool2d(3, 2, 1), Basic(64, 64), Basic(64, 64))
        self.c3 = nn.Sequential(Basic(64, 128, 2), Basic(128, 128))
        self.c4 = nn.Sequential(Basic(128, 256, 2), Basic(256, 256))
        self.c5 = nn.Sequential(Basic(256, 512, 2), Basic(512, 512))
        self.l3, self.l4, self.l5 = nn.Conv2d(128, width, 1), nn.Conv2d(256, width, 1), nn.Conv2d(512, width, 1)
        self.p3 = nn.Conv2d(width, width, 3, 1, 1)
        self.heat, self.size, self.offset = head(width, classes), head(width, 2), head(width, 2)
        with torch.no_grad():
            self.heat[-1].bias.fill_(HEAT_PRIOR_BIAS)

    def forward(self, x):
        c3 = self.c3(self.c2(x))
        c4 = self.c4(c3)
        c5 = self.c5(c4)
        l5 = self.l5(c5)
        l4 = self.l4(c4) + F.interpolate(l5, scale_factor=2, mode="nearest")
        l3 = self.l3(c3) + F.interpolate(l4, scale_factor=2, mode="nearest")
        p3 = self.p3(l3)
        return self.heat(p3), self.size(p3), self.offset(p3)


def detector(classes):
    model = Detector(classes)
    n = sum(p.numel() for p in model.parameters())
    assert n == TRAINC_PARAMETERS, f"{n} parameters, trainc's detector has {TRAINC_PARAMETERS}"
    return model


def arguments():
    return scene_arguments("bench/data/shapes_coco").parse_args()


def main():
    a = arguments()
    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fmt = memory_format(dev)
    torch.backends.cudnn.benchmark = True
    images, boxes, classes = coco(a.data)
    model = detector(classes).to(dev, memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
    per_epoch = (len(boxes) + BATCH - 1) // BATCH
    per_epoch = min(per_epoch, a.limit_batches or per_epoch)
    ends, sizes, first_step = [], [], None
    sync()
    start = time.time()
    for _ in range(a.epochs):
        model.train()
        order = torch.randperm(len(boxes))
        loss_sum = 0.0
        for k in range(per_epoch):
            b = order[k * BATCH:(k + 1) * BATCH]
            x, maps, objects = batch(images[b], [boxes[i] for i in b], classes, dev, fmt)
            loss = centernet_loss(model(x), maps, objects)
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
    print(json.dumps({
        "samples_per_s": sum(sizes) / train_seconds,
        "steady_samples_per_s": steady(ends, sizes, per_epoch, a.warmup),
        "epoch_seconds": train_seconds / a.epochs,
        "train_loss": float(loss_sum) / per_epoch,
        "first_step_s": first_step,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
