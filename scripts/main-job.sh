#!/bin/bash
# README's first command: install, build, and run the main job, LeNet trained on the real
# Fashion-MNIST. EPOCHS (default 3) and RUN_DIR (default runs/lenet) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DTRAINER_BUILD_TESTS=OFF
run_dir=${RUN_DIR:-runs/lenet}
mkdir -p "$run_dir"
build/bin/trainer train --model lenet --dataset fashion-mnist --epochs "${EPOCHS:-3}" \
  --metrics-file "$run_dir/metrics.jsonl"
echo "metrics: $run_dir/metrics.jsonl"
