"""Side-by-side: trainc (flex, and tch when built) against PyTorch and PyTorch Lightning on the same
recipe and the same data.

Alternates the contenders ROUNDS times (so drift on the machine hits all alike) and prints a
Markdown table of medians with trainc's ratio to each Python contender.

Recipes (`--recipe`):
- `fashion` (default, today's table): bench/fashion_cnn.train against bench/lightning_fashion.py,
  whole epochs; samples/s, epoch wall time, test accuracy, peak RSS, time to first training step,
  and the trainc/Lightning ratio for each. No plain-PyTorch column, no --limit-batches.
- `resnet18`: bench/resnet18_gpu.train (ResNet-18, Fashion-MNIST resized to 32×32, batch 128)
  against bench/torch_resnet18.py and bench/lightning_resnet18.py; metric: test accuracy.
- `unet`: bench/unet256.train (std/segmentation's U-Net, width 32, 256×256, batch 4, 3 classes)
  against bench/torch_unet.py and bench/lightning_unet.py; metric: test pixel accuracy.
- `detector`: bench/detector384.train (ResNet-18 + FPN + CenterNet, 384×384, batch 8) against
  bench/torch_detector.py and bench/lightning_detector.py; no accuracy metric (trainc's mAP is not
  reimplemented in Python); the mean training loss of the last epoch is shown as a sanity check.
The data is generated (or copied from /usr/share/datasets) under bench/data/ on first use; every
contender reads the same files. trainc's parameter count (`trainc check`) is printed, and each
Python script asserts that its model has exactly that many.

Measurement for resnet18, unet and detector: `samples/s` is steady-state throughput, the same way
for every contender (bench/steps.py): the first WARMUP (default 2) training steps of every epoch
are left out, and the samples of the remaining steps are divided by the time from the end of step
WARMUP to the end of the epoch's last step (validation is never inside it). trainc's step end
times come from its TensorBoard event file, with `log_every=1` (so trainc reads the loss back every
step; the Python loops do not). `samples/s incl. warm-up` is the whole training loop (the first
steps and data loading included). With `--limit-batches N`, every contender trains only N batches
per epoch (N > WARMUP), for the large recipes where one epoch takes hours on 2 CPU cores; accuracy
columns are then left out (trainc evaluates only N batches of the test split, the scripts none).

Usage: bench/.venv/bin/python bench/compare.py [ROUNDS] [EPOCHS] [--recipe R] [--limit-batches N] [--warmup W]
Environment: TRAINC (default target/release/trainc), TRAINC_TCH (a release binary built with
--features tch; adds a `trainc tch` contender on `--device tch`). Benchmark release builds: in a
debug build burn's generic code is compiled into trainc at trainc's opt-level (1), which measured
1.75x slower on flex.
"""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
sys.path.insert(0, os.path.join(ROOT, "bench"))
from steps import steady, tensorboard_step_ends  # noqa: E402


def peak_rss_mb(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stdout, stderr, peak RSS in MB)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{out.stderr[-3000:]}")
    rss = next(int(l.split()[-1]) for l in out.stderr.splitlines() if "Maximum resident set size" in l) / 1024
    return out.stdout, out.stderr, rss


def trainc(binary, device, epochs, seed):
    runs = tempfile.mkdtemp(prefix="trainc-bench-")
    env = dict(os.environ)
    _, _, rss = peak_rss_mb([binary, "run", "bench/fashion_cnn.train", f"epochs={epochs}", f"seed={seed}",
                             "--device", device, "--quiet", "--runs-dir", runs], env)
    run = os.path.join(runs, "cnn", os.listdir(os.path.join(runs, "cnn"))[0])
    timing = json.load(open(os.path.join(run, "timing.json")))
    summary = json.load(open(os.path.join(run, "summary.json")))
    shutil.rmtree(runs, ignore_errors=True)
    return {
        "samples_per_s": timing["samples_per_s"],
        "epoch_seconds": timing["train_seconds"] / epochs,
        "test_accuracy": summary["test"]["accuracy"],
        "peak_rss_mb": rss,
        "first_step_s": timing["first_step_s"],
    }


def lightning(epochs, seed):
    stdout, _, rss = peak_rss_mb([PY, "bench/lightning_fashion.py", str(epochs), str(seed)])
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = rss
    return result


def fashion(rounds, epochs):
    """Today's comparison: the Fashion CNN, whole epochs, trainc against Lightning. Round r seeds
    every contender with r (trainc's `seed=r`, the script's `torch.manual_seed(r)`), so the rounds
    are also the seeds the accuracies are averaged over."""
    binary = os.environ.get("TRAINC", "target/release/trainc")
    contenders = {"trainc flex": lambda seed: trainc(binary, "flex", epochs, seed)}
    if os.environ.get("TRAINC_TCH"):
        contenders["trainc tch"] = lambda seed: trainc(os.environ["TRAINC_TCH"], "tch", epochs, seed)
    contenders["Lightning"] = lambda seed: lightning(epochs, seed)
    results = alternate(contenders, rounds)
    keys = [("samples_per_s", "samples/s", True), ("epoch_seconds", "epoch wall (s)", False),
            ("test_accuracy", "test accuracy", True), ("peak_rss_mb", "peak RSS (MB)", False),
            ("first_step_s", "first step after launch (s)", False)]
    med = {n: {k: statistics.median(r[k] for r in rs) for k, _, _ in keys} for n, rs in results.items()}
    print(f"\n{rounds} rounds, {epochs} epoch(s) each, medians; ratio = trainc / Lightning\n")
    names = list(contenders)
    header = "| metric | " + " | ".join(names) + " | " + " | ".join(f"{n} / Lightning" for n in names if n != "Lightning") + " |"
    print(header)
    print("|" + "---|" * (1 + len(names) + len(names) - 1))
    for k, label, _ in keys:
        cells = [f"{med[n][k]:.4f}" if k == "test_accuracy" else f"{med[n][k]:.1f}" for n in names]
        ratios = [f"{med[n][k] / med['Lightning'][k]:.2f}×" for n in names if n != "Lightning"]
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    mean = {n: statistics.mean(r["test_accuracy"] for r in results[n]) for n in names}
    cells = [f"{mean[n]:.4f}" for n in names]
    points = [f"{100 * (mean[n] - mean['Lightning']):+.2f} points" for n in names if n != "Lightning"]
    print(f"| test accuracy, mean over seeds 0..{rounds - 1} | " + " | ".join(cells) + " | " + " | ".join(points) + " |")


def alternate(contenders, rounds):
    """Runs every contender once per round, in the same order each round (`run(r)` in round r);
    their results by name."""
    results = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            t = time.time()
            results[name].append(run(r))
            print(f"round {r + 1}/{rounds} {name}: {json.dumps(results[name][-1])} ({time.time() - t:.0f} s)", file=sys.stderr)
    return results


# ── the larger recipes ─────────────────────────────────────────────────────────────────────────

def fashion_idx(binary):
    os.makedirs(os.path.join(ROOT, "bench/data/fashion-mnist"), exist_ok=True)
    for f in glob.glob("/usr/share/datasets/fashion-mnist/*-ubyte.gz"):
        target = os.path.join(ROOT, "bench/data/fashion-mnist", os.path.basename(f))
        if not os.path.exists(target):
            shutil.copy(f, target)


def generated(kind, *folders):
    """`trainc gen-data KIND DIR [flags]` for each (DIR, flags) that does not exist yet."""
    def make(binary):
        for folder, flags in folders:
            if not os.path.isdir(os.path.join(ROOT, folder)):
                subprocess.run([binary, "gen-data", kind, folder, *flags], cwd=ROOT, check=True)
    return make


RECIPES = {
    "resnet18": dict(file="bench/resnet18_gpu.train", model="resnet", batch=128, train=60000,
                     torch="bench/torch_resnet18.py", lightning="bench/lightning_resnet18.py",
                     metric=("test_accuracy", "accuracy", "test accuracy"), data=fashion_idx),
    "unet": dict(file="bench/unet256.train", model="segmenter", batch=4, train=120,
                 torch="bench/torch_unet.py", lightning="bench/lightning_unet.py",
                 metric=("test_pixel_accuracy", "pixel_accuracy", "test pixel accuracy"),
                 data=generated("shapes-masks", ("bench/data/shapes_masks", []),
                                ("bench/data/shapes_masks_test", ["--per-class", "10", "--seed", "1"]))),
    "detector": dict(file="bench/detector384.train", model="detector", batch=8, train=120,
                     torch="bench/torch_detector.py", lightning="bench/lightning_detector.py", metric=None,
                     data=generated("shapes-coco", ("bench/data/shapes_coco", []))),
}


def train_loss(run):
    """The mean training loss of the last epoch: metrics.csv's last epoch row (it has samples_per_s)."""
    rows = [r for r in csv.DictReader(open(os.path.join(run, "metrics.csv"))) if r.get("samples_per_s")]
    return float(rows[-1]["train_loss"]) if rows else None


def trainc_recipe(recipe, binary, device, a):
    """One trainc run of a recipe; the keys of the Python scripts' JSON line."""
    runs = tempfile.mkdtemp(prefix="trainc-bench-")
    overrides = [f"epochs={a.epochs}", "log_every=1"]
    if a.limit_batches:
        overrides.append(f"data.limit_batches={a.limit_batches}")
    _, _, rss = peak_rss_mb([binary, "run", recipe["file"], *overrides, "--device", device, "--quiet",
                             "--runs-dir", runs])
    run = glob.glob(os.path.join(runs, recipe["model"], "*"))[0]
    timing = json.load(open(os.path.join(run, "timing.json")))
    summary = json.load(open(os.path.join(run, "summary.json")))
    ends = tensorboard_step_ends(glob.glob(os.path.join(run, "events.out.tfevents.*"))[0])
    per_epoch = len(ends) // a.epochs
    last = recipe["train"] - (per_epoch - 1) * recipe["batch"]
    sizes = ([recipe["batch"]] * (per_epoch - 1) + [min(last, recipe["batch"])]) * a.epochs
    result = {
        "steady_samples_per_s": steady(ends, sizes, per_epoch, a.warmup),
        "samples_per_s": timing["samples_per_s"],
        "epoch_seconds": timing["train_seconds"] / a.epochs,
        "train_loss": train_loss(run),
        "peak_rss_mb": rss,
        "first_step_s": timing["first_step_s"],
    }
    if recipe["metric"] and not a.limit_batches:
        key, metric, _ = recipe["metric"]
        result[key] = summary.get("test", {}).get(metric)
    shutil.rmtree(runs, ignore_errors=True)
    return result


def python_recipe(script, a):
    cmd = [PY, script, str(a.epochs), "--warmup", str(a.warmup)]
    if a.limit_batches:
        cmd += ["--limit-batches", str(a.limit_batches)]
    stdout, _, rss = peak_rss_mb(cmd)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = rss
    return result


def parameters(binary, recipe):
    out = subprocess.run([binary, "check", recipe["file"]], cwd=ROOT, capture_output=True, text=True)
    found = re.search(r"([\d,]+) parameters", out.stdout + out.stderr)
    return int(found.group(1).replace(",", "")) if found else None


def median(values):
    values = list(values)
    return None if any(v is None for v in values) else statistics.median(values)


def table(recipe, results, a):
    """Markdown table of medians; trainc / PyTorch and trainc / Lightning for every trainc contender
    (a difference in points for accuracies and losses, a ratio otherwise)."""
    keys = [("steady_samples_per_s", f"samples/s (after {a.warmup} warm-up steps per epoch)"),
            ("samples_per_s", "samples/s incl. warm-up"), ("epoch_seconds", "epoch wall (s)"),
            ("train_loss", "train loss (last epoch mean)")]
    if recipe["metric"] and not a.limit_batches:
        keys.append(recipe["metric"][::2])
    keys += [("peak_rss_mb", "peak RSS (MB)"), ("first_step_s", "first step after launch (s)")]
    names = list(results)
    refs = [n for n in names if not n.startswith("trainc")]
    pairs = [(n, r) for n in names if n.startswith("trainc") for r in refs]
    med = {n: {k: median(r.get(k) for r in rs) for k, _ in keys} for n, rs in results.items()}
    print("| metric | " + " | ".join(names + [f"{n} / {r}" for n, r in pairs]) + " |")
    print("|---" * (1 + len(names) + len(pairs)) + "|")
    for k, label in keys:
        def cell(v):
            return "—" if v is None else f"{v:.4f}" if k in ("train_loss", "test_accuracy", "test_pixel_accuracy") else f"{v:.2f}"
        cells = [cell(med[n][k]) for n in names]
        for n, r in pairs:
            x, y = med[n][k], med[r][k]
            if x is None or y is None:
                cells.append("—")
            elif k in ("train_loss", "test_accuracy", "test_pixel_accuracy"):
                cells.append(f"{x - y:+.4f}")
            else:
                cells.append(f"{x / y:.2f}×")
        print(f"| {label} | " + " | ".join(cells) + " |")


def larger(name, a):
    recipe = RECIPES[name]
    flex = os.environ.get("TRAINC", "target/release/trainc")
    if a.limit_batches is not None and a.limit_batches <= a.warmup:
        raise SystemExit(f"--limit-batches {a.limit_batches} leaves no step after {a.warmup} warm-up steps")
    recipe["data"](flex)
    contenders = {"trainc flex": lambda _round: trainc_recipe(recipe, flex, "flex", a)}
    if os.environ.get("TRAINC_TCH"):
        contenders["trainc tch"] = lambda _round: trainc_recipe(recipe, os.environ["TRAINC_TCH"], "tch", a)
    contenders["PyTorch"] = lambda _round: python_recipe(recipe["torch"], a)
    contenders["Lightning"] = lambda _round: python_recipe(recipe["lightning"], a)
    results = alternate(contenders, a.rounds)
    limit = f", {a.limit_batches} batches per epoch (accuracy left out)" if a.limit_batches else ""
    print(f"\n{name}: {a.rounds} alternated rounds, {a.epochs} epoch(s) each{limit}, medians; "
          f"trainc's model has {parameters(flex, recipe):,} parameters (the Python scripts assert the same)\n")
    table(recipe, results, a)


def main():
    p = argparse.ArgumentParser(description="trainc against PyTorch and Lightning, side by side")
    p.add_argument("rounds", nargs="?", type=int, default=3)
    p.add_argument("epochs", nargs="?", type=int, default=1)
    p.add_argument("--recipe", choices=["fashion", *RECIPES], default="fashion")
    p.add_argument("--limit-batches", type=int, default=None, help="train N batches per epoch (not for fashion)")
    p.add_argument("--warmup", type=int, default=2, help="steps per epoch left out of samples/s (not for fashion)")
    a = p.parse_args()
    if a.recipe == "fashion":
        if a.limit_batches:
            raise SystemExit("the fashion recipe runs whole epochs: --limit-batches is for resnet18, unet, detector")
        fashion(a.rounds, a.epochs)
    else:
        larger(a.recipe, a)


if __name__ == "__main__":
    main()
