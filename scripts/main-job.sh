#!/bin/bash
# README's first command: install, build, and run the main job: `mpirun -np 2 trainer`, LeNet
# trained data-parallel on the real Fashion-MNIST with a checkpoint every epoch. EPOCHS (default
# 3), RANKS (default 2) and RUN_DIR (default runs/lenet) may be set. Run it again with more EPOCHS
# and it resumes from the newest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DTRAINER_BUILD_TESTS=OFF -DCMAKE_UNITY_BUILD=ON
run_dir=${RUN_DIR:-runs/lenet}
source scripts/mpi-env.sh
# --oversubscribe: machines with fewer cores than ranks still run; one intra-op thread per rank.
# The run directory holds config.ini, checkpoints/, metrics.jsonl and weights.h5.
mpirun -np "${RANKS:-2}" --oversubscribe --bind-to none build/bin/trainer train --model lenet \
  --dataset fashion-mnist --epochs "${EPOCHS:-3}" --run-dir "$run_dir"
build/bin/trainer inspect "$run_dir" --verify | tail -1
