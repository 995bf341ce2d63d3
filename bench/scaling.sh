#!/bin/bash
# Training throughput with 1, 2 and 4 (oversubscribed) ranks, one intra-op thread each, measured in
# the same run: LeNet on real Fashion-MNIST and ResNet-18 on synthetic 3x32x32 images. Prints
# samples/s and the scaling efficiency against the single-rank figure.
#   bash bench/scaling.sh [build/bin/trainer]
set -euo pipefail
trainer=${1:-build/bin/trainer}
source "$(dirname "$0")/../scripts/mpi-env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

throughput() {  # ranks, then trainer options; prints samples/s of the last epoch
  local ranks=$1
  shift
  mpirun -np "$ranks" --oversubscribe --bind-to none "$trainer" "$@" --progress-seconds 0 --checkpoint-dir none \
    --metrics-file "$work/m.jsonl" >/dev/null
  /usr/bin/python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).read().splitlines()[-1])["samples_per_second"]))' "$work/m.jsonl"
}

echo "# scaling: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf "%-34s %6s %12s %11s\n" "workload" "ranks" "samples/s" "efficiency"
bench() {
  local name=$1
  shift
  local base=
  for ranks in 1 2 4; do
    local rate
    rate=$(throughput "$ranks" "$@")
    [ -n "$base" ] || base=$rate
    printf "%-34s %6d %12d %11.2f\n" "$name" "$ranks" "$rate" "$(awk -v r="$rate" -v n="$ranks" -v b="$base" 'BEGIN { print r / (n * b) }')"
  done
}
bench "lenet fashion-mnist (batch 64)" --epochs 2 --limit-train 12000 --limit-test 1000 --batch-size 64
bench "resnet18 synthetic 3x32x32 (b 64)" --model resnet18 --dataset synthetic \
  --synthetic-shape 3,32,32 --synthetic-size 1024 --synthetic-test-size 64 --batch-size 64 --epochs 2
echo "# efficiency = samples/s at N ranks / (N x samples/s at 1 rank); 4 ranks share 2 cores here"
