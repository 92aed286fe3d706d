"""The GPU benchmark recipe under PyTorch Lightning: bench/torch_resnet18.py's model, data and
settings (ResNet-18 on Fashion-MNIST at 32×32, AdamW lr 1e-3, batch 128, fp32, channels-last, cuDNN
autotuner), with Lightning's Trainer running the loop. Batches are drawn on the GPU from the
dataset kept there (as the plain loop does), so the difference is Lightning's per-step overhead.
Prints one JSON line.

Usage: python bench/lightning_resnet18.py [EPOCHS] [IDX_DIR] [LIMIT]
(LIMIT: train on the first LIMIT images only, for a smoke test; without a GPU it runs on the CPU.)
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
from torch_resnet18 import idx, resnet18, sync  # noqa: E402


class Batches:
    """Shuffled batches of 128 from tensors already on the GPU, reshuffled each epoch."""

    def __init__(self, x, y, size=128):
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return (len(self.y) + self.size - 1) // self.size

    def __iter__(self):
        order = torch.randperm(len(self.y), device=self.y.device)
        for i in range(0, len(self.y), self.size):
            b = order[i:i + self.size]
            yield self.x[b], self.y[b]


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = resnet18(1, 10).to(memory_format=torch.channels_last)
        self.first_step = None

    def training_step(self, batch, _):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def on_train_batch_end(self, *_):
        if self.first_step is None:
            sync()
            self.first_step = time.time() - T0

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    root = sys.argv[2] if len(sys.argv) > 2 else "bench/data/fashion-mnist"
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    (x, y), (tx, ty) = idx(root, "train"), idx(root, "t10k")
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else len(y)
    x, y, tx, ty = (t.to(dev) for t in (x[:limit], y[:limit], tx, ty))
    x, tx = (t.contiguous(memory_format=torch.channels_last) for t in (x, tx))
    model = Net()
    trainer = L.Trainer(max_epochs=epochs, accelerator="gpu" if dev.type == "cuda" else "cpu", devices=1, logger=False, benchmark=True,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.time()
    trainer.fit(model, Batches(x, y))
    sync()
    train_seconds = time.time() - start
    net = model.net.to(dev).eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(ty), 512):
            correct += (net(tx[i:i + 512]).argmax(1) == ty[i:i + 512]).sum().item()
    print(json.dumps({
        "samples_per_s": len(y) * epochs / train_seconds,
        "epoch_seconds": train_seconds / epochs,
        "test_accuracy": correct / len(ty),
        "first_step_s": model.first_step,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0,
        "torch": torch.__version__,
        "lightning": L.__version__,
    }))


if __name__ == "__main__":
    main()
