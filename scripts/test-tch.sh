#!/usr/bin/env bash
# Builds trainc with the burn-tch backend (libtorch 2.9.0 from a pip-installed torch) and NCCL
# (`--features nccl`), trains a small model end to end on `--device tch`, then evaluates its
# checkpoint on the same backend; then runs the NCCL rendezvous tests under a real torchrun
# (tests/distributed.rs `nccl::`) and the kernels' unit tests with LibTorch in them (src/exec/:
# tch_ops.rs, and pool.rs and adam.rs on libtorch's memory), which need a build with the feature.
# Usage: bash scripts/test-tch.sh      (first run: ~3 GB of wheels and ~17 min of build on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${TRAINC_TORCH_VENV:-bench/.venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
if ! "$venv/bin/python" -c 'import torch; assert torch.__version__.startswith("2.9.0")' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch==2.9.0
fi
torch_lib="$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LIBTORCH_USE_PYTORCH=1 PATH="$venv/bin:$PATH" LD_LIBRARY_PATH="$torch_lib:${LD_LIBRARY_PATH:-}"

cargo build --features nccl
bin="$(realpath "${CARGO_TARGET_DIR:-target}/debug/trainc")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" gen-data shapes-folder "$work/shapes" --per-class 24 --seed 1 >/dev/null
cat > "$work/t.train" <<'SPEC'
dataset shapes = image_folder("shapes") { train = "train"; val = "val" }
augment tf { resize(16, 16); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {
  h = x |> conv2d(8, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)
  return h |> flatten |> linear(classes)
}
train {
  model = tiny; data = shapes { batch = 16, augment = tf, eval_augment = tf }
  loss = cross_entropy(); optimizer = adam(lr = 3e-3); epochs = 3; metrics = [accuracy]
}
SPEC
(cd "$work" && "$bin" run t.train --device tch --quiet > run.json)
run_dir="$(ls -d "$work"/runs/tiny/*)"
grep -q '"accuracy"' "$run_dir/summary.json"
(cd "$work" && "$bin" eval t.train --checkpoint "$run_dir/checkpoints/last.bpk" --split val --device tch > eval.json)
python3 - "$run_dir/metrics.csv" "$work/eval.json" <<'PY'
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["samples_per_s"]]  # epoch rows
logged = float(rows[-1]["val.accuracy"])
evaluated = json.load(open(sys.argv[2]))["val"]["accuracy"]
losses = [float(r["train_loss"]) for r in rows]
assert losses[-1] < losses[0], losses
assert abs(logged - evaluated) < 1e-4, (logged, evaluated)
print(f"tch: train loss {losses[0]:.3f} → {losses[-1]:.3f}, val accuracy {logged:.3f} (eval {evaluated:.3f})")
PY
cargo test --features nccl --test distributed nccl:: 2>&1 | tee "$work/nccl.log"
grep -q "test result: ok. 2 passed" "$work/nccl.log"
# Every kernel test with LibTorch in it: libtorch's own conv and batch norm against burn's, the
# tensor view NCCL writes through, and trainc's Winograd, pooling and fused AdamW on libtorch's
# CPU memory (exec/tch_ops.rs, exec/pool.rs, exec/adam.rs).
cargo test --features nccl --lib exec:: 2>&1 | tee "$work/ops.log"
grep -Eq "test result: ok. [1-9][0-9]* passed" "$work/ops.log"
echo "tch: 1 run, $(grep -c '\.\.\. ok$' "$work/nccl.log" "$work/ops.log" | awk -F: '{s += $2} END {print s}') tests passed, 0 failed"
