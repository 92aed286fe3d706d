"""What every Lightning benchmark script records, alike (bench/lightning_*.py): the end time and
size of every training step for bench/steps.py's steady-state samples/s, the mean training loss
of the last epoch, and the time from process start to the end of the first step."""
import time

import lightning as L

from torch_resnet18 import step_end, sync


class Timed(L.LightningModule):
    """A LightningModule whose training batches start with the images; subclasses set `self.net`
    and define `training_step` and `configure_optimizers`. `t0` is the process start."""

    def __init__(self, per_epoch, warmup, t0):
        super().__init__()
        self.per_epoch, self.warmup, self.t0 = per_epoch, warmup, t0
        self.first_step, self.ends, self.sizes, self.loss_sum = None, [], [], 0.0

    def on_train_epoch_start(self):
        self.loss_sum = 0.0

    def on_train_batch_end(self, outputs, batch, k):
        self.loss_sum += outputs["loss"].detach()
        self.ends.append(step_end(k, self.per_epoch, self.warmup))
        self.sizes.append(len(batch[0]))
        if self.first_step is None:
            sync()
            self.first_step = time.time() - self.t0
