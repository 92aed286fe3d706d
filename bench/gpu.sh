#!/usr/bin/env bash
# The GPU comparison: trainc on `--device tch:cuda:0` against plain PyTorch on the same recipe
# (bench/resnet18_gpu.train, bench/torch_resnet18.py), alternating ROUNDS times. Prints one JSON
# line per run. Needs: a trainc built with `--features tch` against the machine's torch (set
# TRAINC), the machine's python with torch+CUDA, and the Fashion-MNIST IDX files in
# bench/data/fashion-mnist/.
# Usage: TRAINC=path/to/trainc bash bench/gpu.sh [ROUNDS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2}"
epochs="${2:-2}"
trainc="${TRAINC:-target/release/trainc}"
torch_lib="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$torch_lib:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
runs="$(mktemp -d)"
for r in $(seq "$rounds"); do
  dir="$runs/$r"
  start=$(date +%s.%N)
  "$trainc" run bench/resnet18_gpu.train "epochs=$epochs" --device tch:cuda:0 --quiet --runs-dir "$dir" > /dev/null
  end=$(date +%s.%N)
  run="$(ls -d "$dir"/resnet/*)"
  python3 - "$run" "$start" "$end" <<'PY'
import json, os, sys
run, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
t = json.load(open(f"{run}/timing.json"))
s = json.load(open(f"{run}/summary.json"))
print(json.dumps({"who": "trainc tch:cuda" + (" (burn conv)" if os.environ.get("TRAINC_BURN_CONV") else ""), "samples_per_s": t["samples_per_s"], "epoch_seconds": t["train_seconds"] / int(json.load(open(f"{run}/spec.json"))["epochs"]),
                  "test_accuracy": s["test"]["accuracy"], "first_step_s": t["first_step_s"], "wall_s": end - start}))
PY
  start=$(date +%s.%N)
  line="$(python3 bench/torch_resnet18.py "$epochs")"
  end=$(date +%s.%N)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["who"]="PyTorch"; d["wall_s"]=float(sys.argv[3])-float(sys.argv[2]); print(json.dumps(d))' "$line" "$start" "$end"
done
