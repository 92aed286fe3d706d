"""The detector benchmark recipe under PyTorch Lightning: bench/torch_detector.py's network
(ResNet-18 + FPN + CenterNet heads), data (scenes resized to 384×384, ImageNet normalisation,
CenterNet targets built per batch as trainc builds them), loss (trainc's centernet_loss) and
settings (batch 8, AdamW lr 5e-4, fp32; channels-last and the cuDNN autotuner on CUDA only), with
Lightning's Trainer running the loop, so the difference is Lightning's per-step overhead.
Prints one JSON line (the same keys as bench/torch_detector.py).

Usage: python bench/lightning_detector.py [EPOCHS] [--limit-batches N] [--warmup W] [--data DIR]
"""
import time

T0 = time.time()  # before any import: time to first step includes importing torch and lightning

import json
import os
import sys

import torch
import lightning as L

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import steady  # noqa: E402
from timed import Timed  # noqa: E402
from torch_detector import BATCH, arguments, batch, centernet_loss, coco, detector  # noqa: E402
from torch_resnet18 import memory_format, sync  # noqa: E402


class Batches:
    """Shuffled batches of 8 with their targets, on the training device, reshuffled each epoch, at
    most `limit` of them."""

    def __init__(self, images, boxes, classes, dev, fmt, limit=None):
        self.images, self.boxes, self.classes, self.dev, self.fmt = images, boxes, classes, dev, fmt
        n = (len(boxes) + BATCH - 1) // BATCH
        self.n = min(n, limit or n)

    def __len__(self):
        return self.n

    def __iter__(self):
        order = torch.randperm(len(self.boxes))
        for k in range(self.n):
            b = order[k * BATCH:(k + 1) * BATCH]
            yield batch(self.images[b], [self.boxes[i] for i in b], self.classes, self.dev, self.fmt)


class Net(Timed):
    def __init__(self, classes, per_epoch, warmup, fmt):
        super().__init__(per_epoch, warmup, T0)
        self.net = detector(classes).to(memory_format=fmt)

    def training_step(self, b, _):
        x, maps, objects = b
        return centernet_loss(self.net(x), maps, objects)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=5e-4)


def main():
    a = arguments()
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fmt = memory_format(dev)
    images, boxes, classes = coco(a.data)
    data = Batches(images, boxes, classes, dev, fmt, a.limit_batches)
    model = Net(classes, len(data), a.warmup, fmt)
    trainer = L.Trainer(max_epochs=a.epochs, accelerator="gpu" if dev.type == "cuda" else "cpu", devices=1,
                        logger=False, benchmark=True, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    start = time.time()
    trainer.fit(model, data)
    sync()
    train_seconds = time.time() - start
    print(json.dumps({
        "samples_per_s": sum(model.sizes) / train_seconds,
        "steady_samples_per_s": steady(model.ends, model.sizes, len(data), a.warmup),
        "epoch_seconds": train_seconds / a.epochs,
        "train_loss": float(model.loss_sum) / len(data),
        "first_step_s": model.first_step,
        "parameters": sum(p.numel() for p in model.net.parameters()),
        "torch": torch.__version__,
        "lightning": L.__version__,
    }))


if __name__ == "__main__":
    main()
