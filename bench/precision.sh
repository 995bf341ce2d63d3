#!/bin/bash
# --precision bf16 (autocast of the training forward) against fp32, in the same run: samples/s and
# the test accuracy reached. LeNet on real Fashion-MNIST and ResNet-18 on synthetic 3x32x32 images,
# one rank, one thread, the same seed; fp32 and bf16 runs alternate, ROUNDS each, medians compared.
# Check: the bf16 LeNet ends within 0.02 of fp32's test accuracy (the run learns as fp32 does;
# whether bf16 is faster depends on the CPU's bf16 support, and is what this measures).
#   bash bench/precision.sh [build/bin/trainer] [ROUNDS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
rounds=${2:-3}
cd "$work"

# run NAME PRECISION OPTIONS...: prints the last epoch's samples/s and test accuracy.
run() {
  local name=$1 precision=$2
  shift 2
  "$trainer" --precision "$precision" "$@" --seed 1 --threads 1 --progress-seconds 0 --checkpoint-dir none \
    --metrics-file "$name.jsonl" >"$name.log"
  echo "$(last_metric "$name.jsonl" samples_per_second) $(last_metric "$name.jsonl" test_accuracy)"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

checks=OK
compare() {  # NAME TOLERANCE OPTIONS...: TOLERANCE of the accuracy, or - for none
  local name=$1 tolerance=$2
  shift 2
  local fp32=() bf16=() fp32_accuracy bf16_accuracy speed accuracy
  for _ in $(seq 1 "$rounds"); do
    read -r speed accuracy <<<"$(run fp32 fp32 "$@")"
    fp32+=("$speed")
    fp32_accuracy=$accuracy
    read -r speed accuracy <<<"$(run bf16 bf16 "$@")"
    bf16+=("$speed")
    bf16_accuracy=$accuracy
  done
  local a b
  a=$(median "${fp32[@]}")
  b=$(median "${bf16[@]}")
  [ "$tolerance" = - ] || awk -v x="$fp32_accuracy" -v y="$bf16_accuracy" -v t="$tolerance" \
    'BEGIN { d = x - y; if (d < 0) d = -d; exit !(d <= t) }' || checks=WRONG
  printf "%-40s %10.0f %10.0f %7.2f %9.4f %9.4f\n" "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" \
    "$fp32_accuracy" "$bf16_accuracy"
}

echo "# precision: --precision bf16 against fp32, $rounds rounds each, median samples/s; test accuracy after the run"
printf "%-40s %10s %10s %7s %9s %9s\n" "workload" "fp32/s" "bf16/s" "ratio" "fp32 acc" "bf16 acc"
compare "lenet fashion-mnist (batch 64, 2 epochs)" 0.02 --epochs 2 --limit-train "${LENET_SAMPLES:-12000}" \
  --limit-test 2000 --batch-size 64
compare "resnet18 synthetic 3x32x32 (batch 64)" - --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 \
  --synthetic-size "${RESNET_SAMPLES:-512}" --synthetic-test-size 64 --batch-size 64 --epochs 1
echo "# ratio = bf16 / fp32 samples/s; $(grep -m1 -o 'model name.*' /proc/cpuinfo | sed 's/model name\s*: //')," \
  "bf16 instructions: $(grep -m1 -o -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)"
echo "check: the bf16 LeNet ends within 0.02 of fp32's test accuracy: $checks"
[ "$checks" = OK ]
