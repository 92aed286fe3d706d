#!/usr/bin/env python3
"""Delay from a save to the edit being applied, for `trainc watch` on the Fashion-MNIST example.

Starts `trainc watch` on a copy of examples/fashion_mnist.train, then saves N learning-rate edits,
alternately by renaming a temporary file over it (Vim) and by writing in place (VS Code), each
after the previous one was applied. For each save it reads the `applied` entry of `edits.jsonl`:

  save→applied  wall clock from just before the save to the entry's `time` (the step it was
                applied at had ended); what the user waits for
  event→applied `latency_ms`: from the first file event (debounce, re-check, wait for the step)
  check         `check_ms`: the re-check alone (parse, resolve, shapes, IDX headers)

Usage: bench/watch_latency.py [--bin PATH] [--edits N] [--device flex]
Needs the Debian package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for profile in ("release", "debug"):
        path = os.path.join(target, profile, "trainc")
        if os.path.exists(path):
            return path
    sys.exit("no trainc binary: build one or pass --bin")


def wait(what, label, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        value = what()
        if value:
            return value
        time.sleep(0.005)
    sys.exit(f"timed out waiting for {label}")


def applied(run):
    path = os.path.join(run, "edits.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [e for e in map(json.loads, f.read().splitlines()) if e["status"] == "applied"]


def save(path, text, rename):
    if rename:
        tmp = os.path.join(os.path.dirname(path), ".fm.train.swp")
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=None)
    ap.add_argument("--edits", type=int, default=10)
    ap.add_argument("--device", default="flex")
    args = ap.parse_args()
    binary = args.bin or default_bin()
    work = tempfile.mkdtemp(prefix="trainc-watch-bench-")
    spec = os.path.join(work, "fm.train")
    text = open(os.path.join(ROOT, "examples", "fashion_mnist.train")).read().replace("epochs    = 3", "epochs    = 50")
    open(spec, "w").write(text)
    err = open(os.path.join(work, "err.txt"), "w")
    proc = subprocess.Popen([binary, "watch", spec, "--device", args.device, "--runs-dir", os.path.join(work, "runs")],
                            cwd=work, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait(lambda: "first training step" in open(os.path.join(work, "err.txt")).read(), "the first step")
        runs = os.path.join(work, "runs", "cnn")
        run = os.path.join(runs, sorted(os.listdir(runs))[-1])
        rows = []
        lr = "1e-3"
        for i in range(args.edits):
            new = f"{5 + i}e-4"
            text = text.replace(f"adamw(lr = {lr}", f"adamw(lr = {new}")
            lr = new
            rename = i % 2 == 0
            t0 = time.time()
            save(spec, text, rename)
            entry = wait(lambda: len(applied(run)) > i and applied(run)[i], f"edit {i + 1}")
            rows.append((i + 1, "rename" if rename else "in place", entry["check_ms"], entry["latency_ms"],
                         (entry["time"] - t0) * 1e3, entry["step"]))
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"trainc watch, save → applied (Fashion-MNIST example, {args.device}); {platform.node()}, "
          f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'edit':>4}  {'save':<8}  {'check ms':>8}  {'event→applied ms':>16}  {'save→applied ms':>15}  {'step':>6}")
    for r in rows:
        print(f"{r[0]:>4}  {r[1]:<8}  {r[2]:>8.1f}  {r[3]:>16.1f}  {r[4]:>15.1f}  {r[5]:>6}")
    total = sorted(r[4] for r in rows)
    print(f"save→applied: median {total[len(total) // 2]:.0f} ms, max {total[-1]:.0f} ms "
          f"(debounce 120 ms quiet, capped at 500 ms)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
