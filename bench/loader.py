"""Image-loader throughput, trainc against torchvision (issue #12, point 6).

Writes a JPEG image folder (2 classes x 256 images, 320x240, quality 90) unless it exists, then
times an epoch of decode + Resize((224, 224)) + RandomHorizontalFlip + ToTensor + Normalize
(ImageNet) + batching (64) with the same number of workers in:
  - torchvision: ImageFolder + DataLoader(num_workers=N)
  - trainc: its Loader with N worker threads (bench/loader.rs, run through cargo)
and prints a Markdown table (best of 3 epochs after a warm-up epoch).

    OMP_NUM_THREADS=1 $HOME/.cache/trainc-torch-venv/bin/python bench/loader.py [--workers 2]
        [--cargo "cargo bench --bench loader --"]   # release; the dev profile: "cargo test --bench loader --"
"""
import argparse, json, os, shlex, subprocess, sys, time

import numpy as np
from PIL import Image


def write_images(root, per_class=256):
    rng = np.random.default_rng(0)
    for c in ["a", "b"]:
        d = os.path.join(root, "train", c)
        os.makedirs(d, exist_ok=True)
        for i in range(per_class):
            base = rng.integers(0, 255, size=(1, 1, 3))
            noise = rng.integers(0, 60, size=(240, 320, 3))
            Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(os.path.join(d, f"{i:04}.jpg"), quality=90)


def torchvision_rate(root, workers):
    import torch
    from torchvision import datasets, transforms

    torch.set_num_threads(1)
    tf = transforms.Compose([
        transforms.Resize((224, 224)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(os.path.join(root, "train"), tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers,
                                     persistent_workers=workers > 0)
    best = 0.0
    for epoch in range(4):
        start, seen = time.perf_counter(), 0
        for x, _ in dl:
            seen += x.shape[0]
        if epoch > 0:
            best = max(best, seen / (time.perf_counter() - start))
    return len(ds), best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="bench/data/loader")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cargo", default="cargo bench --bench loader --")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.data, "train")):
        write_images(a.data)
    images, tv = torchvision_rate(a.data, a.workers)
    out = subprocess.run(shlex.split(a.cargo) + [a.data, str(a.workers)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    line = [l for l in out.stdout.splitlines() if l.startswith('{"loader"')][-1]
    tc = json.loads(line)["images_per_s"]
    print(f"| loader | images | workers | images/s |\n|---|---|---|---|")
    print(f"| torchvision ImageFolder + DataLoader | {images} | {a.workers} | {tv:.1f} |")
    print(f"| trainc Loader | {images} | {a.workers} | {tc:.1f} |")
    print(f"\ntrainc / torchvision: {tc / tv:.2f}x")


if __name__ == "__main__":
    main()
