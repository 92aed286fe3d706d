"""The U-Net benchmark recipe under PyTorch Lightning: bench/torch_unet.py's model, data and
settings (std/segmentation's U-Net, width 32, on the mask scenes resized to 256×256, batch 4,
cross-entropy, Adam lr 1e-3, fp32; channels-last and the cuDNN autotuner on CUDA only), with
Lightning's Trainer running the loop. Batches are resized and normalised from the images decoded
once into memory, as the plain loop does, so the difference is Lightning's per-step overhead.
Prints one JSON line (the same keys as bench/torch_unet.py).

Usage: python bench/lightning_unet.py [EPOCHS] [--limit-batches N] [--warmup W] [--data DIR] [--test DIR]
"""
import time

T0 = time.time()  # before any import: time to first step includes importing torch and lightning

import json
import os
import sys

import torch
import torch.nn.functional as F
import lightning as L

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from steps import steady  # noqa: E402
from timed import Timed  # noqa: E402
from torch_resnet18 import memory_format, sync  # noqa: E402
from torch_unet import BATCH, arguments, batch, masks_folder, pixel_accuracy, unet  # noqa: E402


class Batches:
    """Shuffled batches of 4, resized and normalised on the training device, reshuffled each
    epoch, at most `limit` of them."""

    def __init__(self, images, masks, dev, fmt, limit=None):
        self.images, self.masks, self.dev, self.fmt = images, masks, dev, fmt
        n = (len(masks) + BATCH - 1) // BATCH
        self.n = min(n, limit or n)

    def __len__(self):
        return self.n

    def __iter__(self):
        order = torch.randperm(len(self.masks))
        for k in range(self.n):
            b = order[k * BATCH:(k + 1) * BATCH]
            yield batch(self.images[b], self.masks[b], self.dev, self.fmt)


class Net(Timed):
    def __init__(self, per_epoch, warmup, fmt):
        super().__init__(per_epoch, warmup, T0)
        self.net = unet().to(memory_format=fmt)

    def training_step(self, b, _):
        x, y = b
        return F.cross_entropy(self.net(x), y, ignore_index=255)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def main():
    a = arguments()
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fmt = memory_format(dev)
    images, masks = masks_folder(a.data)
    data = Batches(images, masks, dev, fmt, a.limit_batches)
    model = Net(len(data), a.warmup, fmt)
    trainer = L.Trainer(max_epochs=a.epochs, accelerator="gpu" if dev.type == "cuda" else "cpu", devices=1,
                        logger=False, benchmark=True, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    start = time.time()
    trainer.fit(model, data)
    sync()
    train_seconds = time.time() - start
    net = model.net.to(dev)
    test = None if a.limit_batches else pixel_accuracy(net, *masks_folder(a.test), dev, fmt)
    print(json.dumps({
        "samples_per_s": sum(model.sizes) / train_seconds,
        "steady_samples_per_s": steady(model.ends, model.sizes, len(data), a.warmup),
        "epoch_seconds": train_seconds / a.epochs,
        "train_loss": float(model.loss_sum) / len(data),
        "test_pixel_accuracy": test,
        "first_step_s": model.first_step,
        "parameters": sum(p.numel() for p in net.parameters()),
        "torch": torch.__version__,
        "lightning": L.__version__,
    }))


if __name__ == "__main__":
    main()
