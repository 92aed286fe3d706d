#!/usr/bin/env bash
# Wall time of `trainc check` on every example, release build (front end only), printed as a
# Markdown table. Needs `hyperfine` (Debian package). Usage: bash bench/check_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release --no-default-features -q
bin="${CARGO_TARGET_DIR:-target}/release/trainc"
echo "| example | data read | mean (ms) | σ (ms) | min (ms) | max (ms) |"
echo "|---|---|---|---|---|---|"
for f in examples/*.train; do
  args="--skip-data"; data="no (--skip-data)"
  if [ "$(basename "$f")" = fashion_mnist.train ] && [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    args=""; data="yes (IDX headers)"
  fi
  json=$(mktemp)
  hyperfine -N --warmup 5 --runs 50 --export-json "$json" "$bin check $f $args" >/dev/null 2>&1
  python3 - "$json" "$f" "$data" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ms = lambda s: f"{s * 1000:.2f}"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {ms(r['mean'])} | {ms(r['stddev'])} | {ms(r['min'])} | {ms(r['max'])} |")
PY
  rm -f "$json"
done
