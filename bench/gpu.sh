#!/usr/bin/env bash
# The GPU comparison, ResNet-18 on Fashion-MNIST at 32×32 (bench/resnet18_gpu.train): trainc on
# `--device tch:cuda:0` against the same recipe in plain PyTorch (bench/torch_resnet18.py) and in
# Lightning (bench/lightning_resnet18.py); all three channels-last with cuDNN's autotuner on.
# Alternates the contenders ROUNDS times and prints one JSON line per run, then a Markdown table
# of medians with the ratios.
#
# Two steps, because the GPU machine may have no Rust toolchain and only PyPI for network:
#
#   1. On a machine with cargo (this one), against the GPU machine's torch version:
#        TORCH_SPEC='torch==2.11.0' bash bench/gpu.sh prepare
#      Without TORCH_SPEC it uses ~/.cache/trainc-torch-venv (torch 2.9.0+cu128 from PyPI, CUDA
#      capable, the one the tests use). Otherwise it installs that torch from PyPI (CUDA wheels)
#      into $GPU_TORCH_VENV. Then it builds a release trainc
#      with `--features tch` against it (LIBTORCH_BYPASS_VERSION_CHECK=1: tch 0.22 expects 2.9),
#      strips it into .gpu/trainc, and copies the Fashion-MNIST IDX files into bench/data/.
#      GPU_BUILD=dev (with the default torch) takes the warm dev build instead (29.5 MB stripped).
#      Both paths are git-ignored: carry them (`run` tool: carry [".gpu", "bench/data"], ~60 MB,
#      under its 64 MiB limit).
#   2. On the GPU machine:
#        bash bench/gpu.sh run [ROUNDS] [EPOCHS]
#      uses the machine's python3 and torch, which must be the version trainc was built against
#      (.gpu/torch-version; libtorch's C++ ABI changes between versions). If it is not, and
#      GPU_INSTALL_TORCH=1, it installs that version from PyPI into a venv first (~3 GB).
#      Installs Lightning from PyPI if it is missing (left out, with a note, if PyPI is unreachable).
#
# Every round adds trainc in f16 (with its loss scaler) and bf16. With several GPUs, the rounds
# add trainc on all of them in one process (`--device tch:cuda:all`) and in one process per GPU
# over NCCL (`torchrun --nproc_per_node N`), each at the same batch of 128 and at 128 per GPU;
# samples/s against the one-GPU run is the scaling. The NCCL runs log every rank's weight
# checksum after every step and stop the script if two ranks ever differ.
#
# Environment: TRAINC (default .gpu/trainc), PYTHON (default python3), GPU_BURN_CONV=1 adds a
# trainc run with burn's own conv and batch norm (TRAINC_BURN_CONV=1) to the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
step="${1:-run}"

prepare() {
  local venv="${GPU_TORCH_VENV:-$HOME/.cache/trainc-gpu-torch-venv}" spec="${TORCH_SPEC:-}"
  [ -n "$spec" ] || venv="$HOME/.cache/trainc-torch-venv"
  mkdir -p bench/data/fashion-mnist .gpu
  cp -n /usr/share/datasets/fashion-mnist/*-ubyte.gz bench/data/fashion-mnist/
  if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$spec"
  fi
  export LIBTORCH_USE_PYTORCH=1 LIBTORCH_BYPASS_VERSION_CHECK=1 PATH="$venv/bin:$PATH"
  if [ "${GPU_BUILD:-release}" = dev ] && [ -z "$spec" ]; then
    # The dev build the tests use (warm in the shared target dir; its torch 2.9.0+cu128 is
    # CUDA-capable): minutes instead of a release build of burn (~40 min on 2 cores). trainc
    # itself is then at opt-level 1 (measured ~6 % slower on flex; the kernels are libtorch's).
    cargo build --features nccl
    cp "${CARGO_TARGET_DIR:-target}/debug/trainc" .gpu/trainc
  else
    # A target directory of its own when the libtorch differs from the shared one's.
    local target="${GPU_TARGET_DIR:-$HOME/.cache/trainc-gpu-target}"
    [ -n "$spec" ] || target="${CARGO_TARGET_DIR:-target}"
    CARGO_TARGET_DIR="$target" cargo build --release --features nccl
    cp "$target/release/trainc" .gpu/trainc
  fi
  strip .gpu/trainc
  "$venv/bin/python" -c 'import torch; print(torch.__version__)' > .gpu/torch-version
  du -sh .gpu bench/data
}

# One trainc run: a JSON line like the Python scripts' (plus "who" and "wall_s"). DEVICE (default
# tch:cuda:0) and further overrides (`data.batch=256`) follow the name. With RANKS=N, N processes
# under torchrun (NCCL), whose weight checksums must agree after every step.
trainc_run() {
  local who="$1" device="${2:-tch:cuda:0}" dir sums launch=()
  shift; shift || true
  dir="$(mktemp -d)"
  sums="$dir/sums"
  if [ "${RANKS:-1}" -gt 1 ]; then
    mkdir -p "$sums"
    launch=("$python" -m torch.distributed.run --standalone --nproc_per_node "$RANKS" --no-python)
  fi
  local start end
  start=$(date +%s.%N)
  TRAINC_DIST_CHECKSUMS="$sums" "${launch[@]}" "$trainc" run bench/resnet18_gpu.train "epochs=$epochs" "$@" \
    --device "$device" --quiet --runs-dir "$dir" > /dev/null
  end=$(date +%s.%N)
  if [ "${RANKS:-1}" -gt 1 ]; then
    for rank in $(seq 1 $((RANKS - 1))); do
      cmp -s "$sums/rank0.checksums" "$sums/rank$rank.checksums" \
        || { echo "NCCL: rank $rank's weights differ from rank 0's (see $sums)" >&2; exit 1; }
    done
    echo "NCCL: $RANKS ranks identical after $(wc -l < "$sums/rank0.checksums") steps" >&2
  fi
  "$python" - "$(ls -d "$dir"/resnet/*)" "$who" "$start" "$end" <<'PY'
import json, sys
run, who, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
t = json.load(open(f"{run}/timing.json"))
s = json.load(open(f"{run}/summary.json"))
epochs = int(json.load(open(f"{run}/spec.json"))["epochs"])
print(json.dumps({"who": who, "samples_per_s": t["samples_per_s"], "epoch_seconds": t["train_seconds"] / epochs,
                  "test_accuracy": s["test"]["accuracy"], "first_step_s": t["first_step_s"], "wall_s": end - start}))
PY
  rm -rf "$dir"
}

# One Python run: its JSON line with "who" and "wall_s" added.
python_run() {
  local who="$1" script="$2" start end line
  start=$(date +%s.%N)
  line="$("$python" "$script" "$epochs" bench/data/fashion-mnist)"
  end=$(date +%s.%N)
  "$python" -c 'import json,sys; d=json.loads(sys.argv[1]); d["who"]=sys.argv[2]; d["wall_s"]=float(sys.argv[4])-float(sys.argv[3]); print(json.dumps(d))' \
    "$line" "$who" "$start" "$end"
}

run() {
  rounds="${1:-3}"
  epochs="${2:-2}"
  trainc="${TRAINC:-.gpu/trainc}"
  python="${PYTHON:-python3}"
  local torch_lib lightning=1 built have
  built="$(cat .gpu/torch-version 2>/dev/null || echo '?')"
  have="$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)"
  if [ "$have" != "$built" ]; then
    if [ "${GPU_INSTALL_TORCH:-0}" != 1 ]; then
      echo "trainc was built against torch $built but $python has $have: set GPU_INSTALL_TORCH=1" >&2
      exit 1
    fi
    python3 -m venv /tmp/gpu-torch-venv
    /tmp/gpu-torch-venv/bin/pip install -q --disable-pip-version-check "torch==${built%%+*}"
    python=/tmp/gpu-torch-venv/bin/python
  fi
  torch_lib="$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
  export LD_LIBRARY_PATH="$torch_lib:${LD_LIBRARY_PATH:-}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "torch $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  if ! "$python" -c 'import lightning' 2>/dev/null; then
    "$python" -m pip install -q --disable-pip-version-check lightning 2>/dev/null \
      || { lightning=0; echo "NOTE: Lightning not installed (PyPI unreachable); its column is left out"; }
  fi
  local results gpus
  results="$(mktemp)"
  gpus="$(nvidia-smi -L | wc -l)"
  for _ in $(seq "$rounds"); do
    trainc_run "trainc tch:cuda" | tee -a "$results"
    trainc_run "trainc tch:cuda f16" tch:cuda:0 precision=f16 | tee -a "$results"
    trainc_run "trainc tch:cuda bf16" tch:cuda:0 precision=bf16 | tee -a "$results"
    if [ "$gpus" -gt 1 ]; then
      # One process per GPU over NCCL (src/dist/nccl.rs), both batch sizes as above.
      RANKS="$gpus" trainc_run "trainc NCCL $gpus ranks, batch 128" tch:cuda | tee -a "$results"
      RANKS="$gpus" trainc_run "trainc NCCL $gpus ranks, batch $((128 * gpus))" tch:cuda "data.batch=$((128 * gpus))" \
        | tee -a "$results"
      # In-process data parallelism (src/run/parallel.rs): the same batch of 128 split over every
      # GPU (strong scaling), and 128 per GPU (weak scaling, as a DDP user would run it).
      trainc_run "trainc all $gpus GPUs, batch 128" tch:cuda:all | tee -a "$results"
      trainc_run "trainc all $gpus GPUs, batch $((128 * gpus))" tch:cuda:all "data.batch=$((128 * gpus))" | tee -a "$results"
    fi
    if [ "${GPU_BURN_CONV:-0}" = 1 ]; then
      TRAINC_BURN_CONV=1 trainc_run "trainc tch:cuda, burn conv+bn" | tee -a "$results"
    fi
    python_run PyTorch bench/torch_resnet18.py | tee -a "$results"
    if [ "$lightning" = 1 ]; then
      python_run Lightning bench/lightning_resnet18.py | tee -a "$results"
    fi
  done
  table "$results"
}

# Medians per contender, and trainc's ratio to each Python contender.
table() {
  "$python" - "$1" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
who = list(dict.fromkeys(r["who"] for r in runs))
keys = ["samples_per_s", "epoch_seconds", "test_accuracy", "first_step_s", "wall_s"]
med = {w: {k: statistics.median(r[k] for r in runs if r["who"] == w) for k in keys} for w in who}
refs = [w for w in who if not w.startswith("trainc")]
head = who + [f"trainc / {r}" for r in refs]
print(f"\n{len(runs) // len(who)} alternated rounds, medians\n")
print("| metric | " + " | ".join(head) + " |")
print("|---" * (len(head) + 1) + "|")
for k in keys:
    cells = [f"{med[w][k]:.4f}" if k == "test_accuracy" else f"{med[w][k]:.1f}" for w in who]
    t = med["trainc tch:cuda"][k]
    cells += [f"{t - med[r][k]:+.4f}" if k == "test_accuracy" else f"{t / med[r][k]:.2f}×" for r in refs]
    print(f"| {k} | " + " | ".join(cells) + " |")
PY
}

case "$step" in
  prepare) prepare ;;
  run) shift || true; run "$@" ;;
  *) echo "usage: bash bench/gpu.sh prepare | run [ROUNDS] [EPOCHS]" >&2; exit 2 ;;
esac
