#!/bin/bash
# The fine-tuning experiment of the PyTorch transfer-learning tutorial, on Fashion-MNIST: pretrain
# LeNet on the 8 classes other than T-shirt/top (0) and Shirt (6), then learn the held-out pair
# from 120 training and 70 validation images, three ways, over several seeds:
#   (a) from scratch; (b) fine-tuned, feature extractor frozen; (c) fine-tuned, features at a 10x
#   smaller LR through --lr-group. Prints validation accuracy, mean and spread per way.
#   bash bench/transfer_experiment.sh [build/bin/trainer] [SEEDS] [WORK_DIR]
set -euo pipefail
trainer=${1:-build/bin/trainer}
seeds=${2:-5}
work=${3:-$(mktemp -d)}
source "$(dirname "$0")/../scripts/mpi-env.sh"
mkdir -p "$work"

if [ ! -e "$work/pretrained/LATEST" ]; then
  echo "# pretraining LeNet on classes 1,2,3,4,5,7,8,9 (48000 images, 3 epochs, 2 ranks)"
  mpirun -np 2 --oversubscribe --bind-to none "$trainer" --classes 1,2,3,4,5,7,8,9 --epochs 3 \
    --checkpoint-dir "$work/pretrained" --progress-seconds 0 | grep "^epoch"
fi

task=(--classes 0,6 --limit-train 120 --limit-test 70 --epochs 15 --batch-size 8 --lr 0.01 --lr-step 0
      --checkpoint-dir none --progress-seconds 0)
declare -A arms=(
  [a-scratch]=""
  [b-frozen-features]="--init-from $work/pretrained --freeze features."
  [c-features-lr-0.001]="--init-from $work/pretrained --lr-group features.=0.001"
)
printf "%-22s %s\n" "way" "validation accuracy per seed -> mean (std)"
for arm in a-scratch b-frozen-features c-features-lr-0.001; do
  accuracies=()
  for seed in $(seq 1 "$seeds"); do
    # shellcheck disable=SC2086
    "$trainer" "${task[@]}" ${arms[$arm]} --seed "$seed" --metrics-file "$work/$arm-$seed.jsonl" >/dev/null
    accuracies+=("$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["test_accuracy"])' "$work/$arm-$seed.jsonl")")
  done
  printf "%-22s %s\n" "$arm" "$(printf '%s\n' "${accuracies[@]}" | awk '{ v[NR] = $1; s += $1; printf "%.3f ", $1 }
    END { m = s / NR; for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2; printf "-> %.3f (%.3f)", m, sqrt(d / NR) }')"
done
