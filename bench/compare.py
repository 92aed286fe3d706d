"""Side-by-side: trainc (flex, and tch when built) against PyTorch Lightning on the same recipe.

Alternates the contenders ROUNDS times (so drift on the machine hits both alike) and prints a
Markdown table of medians: samples/s, epoch wall time, test accuracy, peak RSS, time to first
training step, and the trainc/Lightning ratio for each.

Usage: bench/.venv/bin/python bench/compare.py [ROUNDS] [EPOCHS]
Environment: TRAINC (default target/release/trainc), TRAINC_TCH (a release binary built with
--features tch). Benchmark release builds: in a debug build burn's generic code is compiled into
trainc at trainc's opt-level (1), which measured 1.75x slower on flex.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def peak_rss_mb(cmd, env=None):
    """Runs cmd under /usr/bin/time -v; returns (stdout, stderr, peak RSS in MB)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{out.stderr[-3000:]}")
    rss = next(int(l.split()[-1]) for l in out.stderr.splitlines() if "Maximum resident set size" in l) / 1024
    return out.stdout, out.stderr, rss


def trainc(binary, device, epochs):
    runs = tempfile.mkdtemp(prefix="trainc-bench-")
    env = dict(os.environ)
    _, _, rss = peak_rss_mb([binary, "run", "bench/fashion_cnn.train", f"epochs={epochs}", "--device", device,
                             "--quiet", "--runs-dir", runs], env)
    run = os.path.join(runs, "cnn", os.listdir(os.path.join(runs, "cnn"))[0])
    timing = json.load(open(os.path.join(run, "timing.json")))
    summary = json.load(open(os.path.join(run, "summary.json")))
    return {
        "samples_per_s": timing["samples_per_s"],
        "epoch_seconds": timing["train_seconds"] / epochs,
        "test_accuracy": summary["test"]["accuracy"],
        "peak_rss_mb": rss,
        "first_step_s": timing["first_step_s"],
    }


def lightning(epochs):
    stdout, _, rss = peak_rss_mb([PY, "bench/lightning_fashion.py", str(epochs)])
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = rss
    return result


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    contenders = {"trainc flex": lambda: trainc(os.environ.get("TRAINC", "target/release/trainc"), "flex", epochs)}
    if os.environ.get("TRAINC_TCH"):
        contenders["trainc tch"] = lambda: trainc(os.environ["TRAINC_TCH"], "tch", epochs)
    contenders["Lightning"] = lambda: lightning(epochs)
    results = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            t = time.time()
            results[name].append(run())
            print(f"round {r + 1}/{rounds} {name}: {json.dumps(results[name][-1])} ({time.time() - t:.0f} s)", file=sys.stderr)
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


if __name__ == "__main__":
    main()
