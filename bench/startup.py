"""What the Python stack pays before it can validate a config: import lightning, compose the same
config with Hydra, validate it with Pydantic. Prints seconds for each part and the total.

Usage: bench/.venv/bin/python bench/startup.py   (run in a fresh process each time)
"""
import time

T0 = time.time()
import lightning  # noqa: E402,F401

T1 = time.time()
import os  # noqa: E402
import tempfile  # noqa: E402

from hydra import compose, initialize_config_dir  # noqa: E402

CONFIG = """
data: {root: /usr/share/datasets/fashion-mnist, batch_size: 64, val_fraction: 0.1, seed: 1}
model: {channels: [32, 64], hidden: 128, num_classes: 10}
optimizer: {name: adamw, lr: 0.001, weight_decay: 0.0001}
trainer: {max_epochs: 3}
"""
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(CONFIG)
    with initialize_config_dir(config_dir=d, version_base=None):
        cfg = compose(config_name="config", overrides=["optimizer.lr=3e-4"])
T2 = time.time()

from omegaconf import OmegaConf  # noqa: E402
from pydantic import BaseModel, Field, PositiveFloat  # noqa: E402


class Data(BaseModel):
    root: str
    batch_size: int = Field(gt=0)
    val_fraction: float = Field(gt=0, lt=1)
    seed: int


class Model(BaseModel):
    channels: list[int]
    hidden: int
    num_classes: int


class Optimizer(BaseModel):
    name: str
    lr: PositiveFloat
    weight_decay: float = Field(ge=0)


class Trainer(BaseModel):
    max_epochs: int = Field(gt=0)


class Config(BaseModel):
    data: Data
    model: Model
    optimizer: Optimizer
    trainer: Trainer


Config.model_validate(OmegaConf.to_container(cfg))
T3 = time.time()
print(f"{T1 - T0:.3f} {T2 - T1:.3f} {T3 - T2:.3f} {T3 - T0:.3f}")
