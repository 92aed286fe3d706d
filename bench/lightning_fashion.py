"""The Fashion-MNIST CNN recipe in PyTorch Lightning, identical to bench/fashion_cnn.train.

conv 32 → conv 64 → max-pool → fc 128 → fc 10, AdamW lr 1e-3 (PyTorch defaults otherwise), batch 64,
no augmentation, normalisation (x/255 − 0.286)/0.353, CPU with 2 threads, the 60,000 training images,
tested on the 10,000 test images. Prints one JSON line with the measurements.

Usage: python bench/lightning_fashion.py [EPOCHS] [SEED]
"""
import time

T0 = time.time()  # before any import: time to first step includes importing torch and lightning

import gzip
import json
import resource
import sys

import numpy as np
import torch
import lightning as L
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = "/usr/share/datasets/fashion-mnist"


def idx(prefix):
    with gzip.open(f"{ROOT}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{ROOT}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.286) / 0.353
    return TensorDataset(x, torch.from_numpy(labels.astype(np.int64)))


class Cnn(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10),
        )
        self.first_step = None
        self.correct = 0
        self.seen = 0

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def on_train_batch_end(self, *_):
        if self.first_step is None:
            self.first_step = time.time() - T0

    def test_step(self, batch, _):
        x, y = batch
        self.correct += (self(x).argmax(1) == y).sum().item()
        self.seen += len(y)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(2)
    torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    train, test = idx("train"), idx("t10k")
    model = Cnn()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start = time.time()
    trainer.fit(model, DataLoader(train, batch_size=64, shuffle=True))
    train_seconds = time.time() - start
    trainer.test(model, DataLoader(test, batch_size=64), verbose=False)
    print(json.dumps({
        "first_step_s": model.first_step,
        "train_seconds": train_seconds,
        "samples_per_s": len(train) * epochs / train_seconds,
        "epoch_seconds": train_seconds / epochs,
        "test_accuracy": model.correct / model.seen,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "total_s": time.time() - T0,
    }))


if __name__ == "__main__":
    main()
