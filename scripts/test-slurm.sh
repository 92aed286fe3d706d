#!/usr/bin/env bash
# `trainc sweep --launcher slurm` against a real SLURM: installs slurm-wlm and munge from Debian
# when they are missing, starts a one-node cluster on localhost (munged, slurmctld, slurmd; no
# cgroups, so it runs in a container), submits a 4-trial grid sweep as a job array, polls
# `trainc sweep --status DIR` until every task is done, and checks sweep.csv: four rows, all
# completed, each grid point once. Needs root (it writes /etc/slurm and starts daemons).
# Called by .ci/run. TRAINC_BIN: a built trainc (otherwise `cargo build`). TRAINC_MPI_BIN: a
# trainc built with `--features mpi`; when set, two ranks also train data-parallel under
# `srun --mpi=pmix -n 2` (the README's SLURM launch) and must keep identical weights.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work="$(mktemp -d /tmp/trainc-slurm.XXXXXX)"
if [ -z "${TRAINC_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/trainc-target}"
  cargo build -q
  cp "$CARGO_TARGET_DIR/debug/trainc" "$work/trainc"
  TRAINC_BIN="$work/trainc"
fi
trainc="$TRAINC_BIN"

cleanup() {
  local status=$?
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
    if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  # The cluster's state and logs stay for a look only when something failed.
  if [ "$status" -eq 0 ]; then rm -rf "$work" 2>/dev/null || true; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

echo "== munge"
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge "$work/munge"
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge "$work/munge"
chmod 0400 /etc/munge/munge.key
chmod 0755 "$work"
runuser -u munge -- /usr/sbin/munged --pid-file="$work/munge/munged.pid" --force
for _ in $(seq 20); do [ -s "$work/munge/munged.pid" ] && break; sleep 0.5; done
munge -n | unmunge >/dev/null

echo "== slurm: one node on localhost"
host="$(hostname -s)"
mkdir -p /etc/slurm "$work/state" "$work/spool"
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=trainc
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c
slurmd
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
  sleep 1
done
sinfo

echo "== a 4-trial sweep as a job array"
project="$work/project"
mkdir -p "$project"
cd "$project"
"$trainc" gen-data shapes-folder shapes --per-class 8 --seed 1 >/dev/null
cat > t.train <<'EOF'
dataset shapes = image_folder("shapes") { train = "train"; val = "val" }
augment ev { resize(16, 16); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {
  h = x |> conv2d(8, k = 3, padding = 1) |> relu |> maxpool(2)
  return h |> flatten |> linear(classes)
}
train {
  model     = tiny
  data      = shapes { batch = 8, augment = ev, eval_augment = ev }
  loss      = cross_entropy()
  optimizer = adam(lr = 3e-3)
  epochs    = 2
  metrics   = [accuracy]
}
EOF
"$trainc" sweep t.train optimizer.lr=1e-3,3e-3 data.batch=8,16 --launcher slurm --jobs 2 --objective val.accuracy
dir="$(ls -d "$project"/sweeps/tiny/*)"
cat "$dir/sweep.sbatch"

for _ in $(seq 120); do
  status="$("$trainc" sweep --status "$dir" 2>&1 >/dev/null)"
  echo "$status"
  if ! grep -qE '[1-9][0-9]* (running|pending)' <<<"$status"; then break; fi
  sleep 2
done
"$trainc" sweep --status "$dir"

echo "== sweep.csv"
cat "$dir/sweep.csv"
rows="$(tail -n +2 "$dir/sweep.csv")"
test "$(wc -l <<<"$rows")" -eq 4 || { echo "expected 4 trials" >&2; exit 1; }
if grep -v ',completed,' <<<"$rows"; then
  echo "every trial must complete; logs:" >&2
  tail -n 20 "$dir"/trials/*/log.txt "$dir"/trials/slurm-*.out >&2 || true
  exit 1
fi
test "$(cut -d, -f3,4 <<<"$rows" | sort -u | wc -l)" -eq 4 || { echo "each grid point once" >&2; exit 1; }
ls "$dir"/trials/slurm-*.out >/dev/null
test -s "$dir/best.txt"
echo "OK: 4 trials on SLURM, sweep.csv complete"

if [ -n "${TRAINC_MPI_BIN:-}" ]; then
  echo "== data-parallel: srun --mpi=pmix -n 2"
  mkdir -p "$project/sums"
  TRAINC_DIST_CHECKSUMS="$project/sums" srun --mpi=pmix -n 2 "$TRAINC_MPI_BIN" run t.train --quiet --runs-dir srun-runs
  test "$(ls srun-runs/tiny | wc -l)" -eq 1 || { echo "only rank 0 creates a run directory" >&2; exit 1; }
  test "$(wc -l < "$project/sums/rank0.checksums")" -gt 0
  cmp "$project/sums/rank0.checksums" "$project/sums/rank1.checksums" || { echo "the ranks' weights differ" >&2; exit 1; }
  echo "== srun without PMIx: Open MPI could not join the tasks, trainc refuses"
  if srun -n 2 "$TRAINC_MPI_BIN" run t.train --quiet --runs-dir srun-nopmix 2>"$work/nopmix.err"; then
    echo "srun without --mpi=pmix must fail" >&2; exit 1
  fi
  grep -q 'trainc::dist::srun_pmix' "$work/nopmix.err" || { cat "$work/nopmix.err" >&2; exit 1; }
  echo "OK: 2 ranks under srun kept identical weights"
fi
