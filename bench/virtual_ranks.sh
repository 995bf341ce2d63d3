#!/bin/bash
# --virtual-ranks against the plain path at the same global batch, on real mpirun processes and
# Fashion-MNIST (LeNet) and synthetic images (ResNet-18), one thread a process, medians of ROUNDS
# interleaved rounds (samples/s of the last epoch):
#   N = V = 2: virtual ranks on as many processes (the goal: >= 0.9x the plain path);
#   N = 1, V = 2 and 4: one process running its virtual ranks one after another, against one plain
#   process with the whole global batch: the cost of a smaller micro-batch and of the exact sums.
#   bash bench/virtual_ranks.sh [build/bin/trainer] [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
rounds=${2:-3}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() {  # processes options...
  mpirun -np "$1" --oversubscribe --bind-to none "$trainer" "${model[@]}" "${@:2}" --epochs 1 --checkpoint-dir none \
    --progress-seconds 0 --threads 1 --metrics-file "$work/m.jsonl" >/dev/null
  last_metric "$work/m.jsonl" samples_per_second | awk '{ printf "%d", $1 }'
}
compare() {  # label batch processes-plain plain-batch processes-virtual V
  local label=$1 plain=() virtual=() p v
  for _ in $(seq 1 "$rounds"); do
    plain+=("$(rate "$3" --batch-size "$4")")
    virtual+=("$(rate "$5" --batch-size "$2" --virtual-ranks "$6")")
  done
  p=$(echo "${plain[*]}" | median) v=$(echo "${virtual[*]}" | median)
  printf "%-44s plain %6s  virtual %6s samples/s  virtual/plain %.2fx\n" "$label" "$p" "$v" "$(awk -v a="$v" -v b="$p" 'BEGIN { print a / b }')"
}
model=(--model lenet --limit-train 6000 --limit-test 100)
compare "LeNet, batch 32 x 2, N = V = 2" 32 2 32 2 2
compare "LeNet, global batch 64, N = 1, V = 2" 32 1 64 1 2
compare "LeNet, global batch 128, N = 1, V = 4" 32 1 128 1 4
model=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 512 --synthetic-test-size 16)
compare "ResNet-18, batch 16 x 2, N = V = 2" 16 2 16 2 2
compare "ResNet-18, global batch 32, N = 1, V = 2" 16 1 32 1 2

# Accuracy: LeNet, 2 epochs of 6,000 samples, 2,000 test samples, global batch 64 on 2 processes,
# plain against --virtual-ranks 2, seeds 1-3: test accuracy after the last epoch.
accuracy() {  # seed options...
  mpirun -np 2 --oversubscribe --bind-to none "$trainer" --model lenet --limit-train 6000 --limit-test 2000 --epochs 2 \
    --batch-size 32 --seed "$1" "${@:2}" --checkpoint-dir none --progress-seconds 0 --threads 1 \
    --metrics-file "$work/a.jsonl" >/dev/null
  last_metric "$work/a.jsonl" test_accuracy
}
plain=() virtual=()
for seed in 1 2 3; do
  plain+=("$(accuracy "$seed")")
  virtual+=("$(accuracy "$seed" --virtual-ranks 2)")
done
mean() { tr ' ' '\n' | grep . | awk '{ s += $1; q += $1 * $1 } END { m = s / NR; printf "%.4f +- %.4f", m, sqrt((q - NR * m * m) / (NR - 1)) }'; }
echo "LeNet test accuracy, seeds 1-3: plain ${plain[*]} ($(echo "${plain[*]}" | mean)), virtual ${virtual[*]} ($(echo "${virtual[*]}" | mean))"
