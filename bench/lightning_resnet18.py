"""The GPU benchmark recipe under PyTorch Lightning: bench/torch_resnet18.py's model, data and
settings (ResNet-18 on Fashion-MNIST at 32×32, AdamW lr 1e-3, batch 128, fp32, channels-last on
CUDA, cuDNN autotuner), with Lightning's Trainer running the loop. Batches are drawn on the GPU from the
dataset kept there (as the plain loop does), so the difference is Lightning's per-step overhead.
Prints one JSON line.

Usage: python bench/lightning_resnet18.py [EPOCHS] [IDX_DIR] [LIMIT] [--limit-batches N] [--warmup W]
(LIMIT: train on the first LIMIT images only, for a smoke test; without a GPU it runs on the CPU.
--limit-batches and --warmup as in bench/torch_resnet18.py.)
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
from torch_resnet18 import (  # noqa: E402
    TRAINC_PARAMETERS, arguments, batches_per_epoch, idx, memory_format, resnet18, sync, test_accuracy)


class Batches:
    """Shuffled batches of 128 from tensors already on the GPU, reshuffled each epoch, at most
    `limit` of them."""

    def __init__(self, x, y, limit=None, size=128):
        self.x, self.y, self.size = x, y, size
        self.n = batches_per_epoch(len(y), limit, size)

    def __len__(self):
        return self.n

    def __iter__(self):
        order = torch.randperm(len(self.y), device=self.y.device)
        for k in range(self.n):
            b = order[k * self.size:(k + 1) * self.size]
            yield self.x[b], self.y[b]


class Net(Timed):
    def __init__(self, per_epoch, warmup, fmt):
        super().__init__(per_epoch, warmup, T0)
        self.net = resnet18(1, 10).to(memory_format=fmt)
        n = sum(p.numel() for p in self.net.parameters())
        assert n == TRAINC_PARAMETERS, f"{n} parameters, trainc's ResNet-18 has {TRAINC_PARAMETERS}"

    def training_step(self, batch, _):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def main():
    a = arguments()
    epochs = a.epochs
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    (x, y), (tx, ty) = idx(a.root, "train"), idx(a.root, "t10k")
    limit = a.limit or len(y)
    x, y, tx, ty = (t.to(dev) for t in (x[:limit], y[:limit], tx, ty))
    fmt = memory_format(dev)
    x, tx = (t.contiguous(memory_format=fmt) for t in (x, tx))
    data = Batches(x, y, a.limit_batches)
    model = Net(len(data), a.warmup, fmt)
    trainer = L.Trainer(max_epochs=epochs, accelerator="gpu" if dev.type == "cuda" else "cpu", devices=1, logger=False, benchmark=True,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.time()
    trainer.fit(model, data)
    sync()
    train_seconds = time.time() - start
    net = model.net.to(dev)
    print(json.dumps({
        "samples_per_s": sum(model.sizes) / train_seconds,
        "steady_samples_per_s": steady(model.ends, model.sizes, len(data), a.warmup),
        "epoch_seconds": train_seconds / epochs,
        "train_loss": float(model.loss_sum) / len(data),
        "test_accuracy": None if a.limit_batches else test_accuracy(net, tx, ty),
        "first_step_s": model.first_step,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0,
        "torch": torch.__version__,
        "lightning": L.__version__,
    }))


if __name__ == "__main__":
    main()
