#!/bin/bash
# Cost curves from 1 to 16 ranks (oversubscribed beyond the cores here), in one command:
#   bash bench/cost_curves.sh [BUILD_DIR] [RANKS...]       (default build/, 1 2 4 8 16; ~6 minutes)
# 1. ResNet-18 + Adam checkpoints (checkpoint_bench --curve, medians of 3, slowest rank): a sync
#    save and its commit (barrier, index, renames, LATEST); a load read once per job (each rank its
#    share, broadcast) against every rank reading it all, with the bytes all ranks read from files
#    (/proc/self/io rchar) for each.
# 2. Start-up: a real trainer job resuming a ResNet-18 checkpoint, from rank 0's process start to its
#    first step (metrics' startup_seconds), and what mpirun itself takes to start and end N
#    processes (mpirun -np N /bin/true), which comes before it.
# 3. Peak resident memory of one rank during a sync and an async save, against the state's size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
shift || true
ranks_list=("$@")
[ ${#ranks_list[@]} -gt 0 ] || ranks_list=(1 2 4 8 16)
source "$root/scripts/mpi-env.sh"
mpi() { mpirun -np "$1" --oversubscribe --bind-to none "${@:2}"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
seconds() { python3 -c 'import sys,time; print(time.time())'; }

# The checkpoint every start-up run resumes from: ResNet-18 + SGD momentum after one epoch.
job=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 512 --synthetic-test-size 0
  --batch-size 8 --threads 1 --progress-seconds 0 --keep-last 0)
"$build/bin/trainer" "${job[@]}" --epochs 1 --checkpoint-dir seed >/dev/null

echo "# cost curves: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo "| ranks | sync save s | commit s | load once/job s | load each-reads-all s | MB read once/job | MB read each-reads-all | checkpoint MB | start-up s | mpirun /bin/true s |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for ranks in "${ranks_list[@]}"; do
  read -r _ n save commit shared all mb_shared mb_all mb < <(mpi "$ranks" "$build/bin/checkpoint_bench" "$work/ckpt" 3 --curve | grep '^curve')
  rm -rf resume && cp -r seed resume
  mpi "$ranks" "$build/bin/trainer" "${job[@]}" --epochs 2 --limit-train $((ranks * 16)) --checkpoint-dir resume \
    --metrics-file m.jsonl >resume.log
  grep -q "resumed from resume/epoch-0001" resume.log || { echo "the start-up run did not resume: $(cat resume.log)" >&2; exit 1; }
  startup=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["startup_seconds"])' m.jsonl)
  start=$(seconds)
  mpi "$ranks" /bin/true
  launcher=$(python3 -c "import time; print(time.time() - $start)")
  printf "| %d | %.3f | %.3f | %.3f | %.3f | %.1f | %.1f | %.1f | %.2f | %.2f |\n" "$n" "$save" "$commit" "$shared" "$all" \
    "$mb_shared" "$mb_all" "$mb" "$startup" "$launcher"
done
echo "# load once/job: each rank reads its share and receives the rest over MPI; each-reads-all: the former way."
echo "# MB read: all ranks together, from files (page cache here). Start-up: rank 0's process start to its first"
echo "# step, resume included; mpirun's own launch of N processes comes before it."
echo
echo "| save | tensors MB | resident before MB | peak MB | peak - before MB | x tensors |"
echo "|---|---:|---:|---:|---:|---:|"
for mb in 64 256 1024; do
  for kind in sync async; do
    "$build/bin/checkpoint_bench" "$work/rss" 1 --rss "$mb" "$kind" |
      awk '/^memory/ { printf "| %s | %.0f | %.0f | %.0f | %+.0f | %.2f |\n", $2, $3, $4, $5, $6, $7 }'
  done
done
echo "# one rank; a sync save writes from the tensors through two 16 MiB chunk buffers; an async save first"
echo "# copies the rank's share into host buffers it keeps for the next save."
