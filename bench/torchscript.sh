#!/bin/bash
# The cost of the TorchScript interpreter: a model file (--model FILE) against the same network
# built in, in the same run. LeNet (small layers: the interpreter's per-op cost shows) on real
# Fashion-MNIST and ResNet-18 (large layers) on synthetic 3x32x32 images, scripted in Python from
# the same classes as the built-in networks (tests/fixtures' LeNet, torchvision's resnet18) and with
# the same initial weights for the seed. Built-in and scripted runs alternate, ROUNDS each; the
# median samples/s of each is compared. Check (nccl-tests style): both runs train the same network
# from the same weights on the same batches, so their final weights must agree to 1e-4.
#   bash bench/torchscript.sh [build/bin/trainer] [ROUNDS]
# PYTHON: a Python whose torch matches the trainer's LibTorch (default /usr/bin/python3, Debian's
# 1.13; .venv-torch2/bin/python for build-torch2).
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
rounds=${2:-3}
cd "$work"

"$python" - "$root/tests/fixtures" <<'PY'
import sys
import torch, torchvision
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet
torch.manual_seed(1)
torch.jit.script(LeNet()).save("lenet.ts")
torch.manual_seed(1)
torch.jit.script(torchvision.models.resnet18(num_classes=10)).save("resnet18.ts")
PY

# run NAME MODEL RANKS OPTIONS...: one training run; prints its last epoch's samples/s.
run() {
  local name=$1 model=$2 ranks=$3
  shift 3
  mpirun -np "$ranks" --oversubscribe --bind-to none "$trainer" --model "$model" "$@" --seed 1 --threads 1 \
    --progress-seconds 0 --checkpoint-dir none --metrics-file "$name.jsonl" --save-weights "$name.h5" >"$name.log"
  last_metric "$name.jsonl" samples_per_second
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

checks=OK
compare() {  # NAME BUILTIN RANKS OPTIONS...
  local name=$1 builtin=$2 ranks=$3
  shift 3
  local ours=() scripted=()
  for _ in $(seq 1 "$rounds"); do
    ours+=("$(run "$name-builtin" "$builtin" "$ranks" "$@")")
    scripted+=("$(run "$name-scripted" "$builtin.ts" "$ranks" "$@")")
  done
  local a b difference
  a=$(median "${ours[@]}")
  b=$(median "${scripted[@]}")
  difference=$("$python" -c '
import sys, h5py, numpy as np
a, b = (h5py.File(f)["model"] for f in sys.argv[1:])
assert sorted(a) == sorted(b), "other tensors"
print(max(float(np.abs(a[k][()] - b[k][()]).max()) for k in a))' "$name-builtin.h5" "$name-scripted.h5")
  awk -v d="$difference" 'BEGIN { exit !(d <= 1e-4) }' || checks=WRONG
  printf "%-40s %5d %12.0f %12.0f %8.2f %12.2g\n" "$name" "$ranks" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" \
    "$difference"
}

echo "# torchscript: the built-in network against the same network as a TorchScript file, $rounds rounds each, medians"
printf "%-40s %5s %12s %12s %8s %12s\n" "workload" "ranks" "built-in/s" "scripted/s" "ratio" "max |dw|"
lenet=(--epochs 2 --limit-train "${LENET_SAMPLES:-12000}" --limit-test 500 --batch-size 64)
compare "lenet fashion-mnist (batch 64)" lenet 1 "${lenet[@]}"
compare "lenet fashion-mnist (batch 64)" lenet 2 "${lenet[@]}"
compare "resnet18 synthetic 3x32x32 (batch 64)" resnet18 1 --dataset synthetic --synthetic-shape 3,32,32 \
  --synthetic-size "${RESNET_SAMPLES:-512}" --synthetic-test-size 64 --batch-size 64 --epochs 2
echo "# ratio = scripted / built-in samples/s (1.00 = the interpreter costs nothing); max |dw| = largest"
echo "# difference of the final weights, built-in against scripted"
echo "check: the scripted networks end with the built-in networks' weights (1e-4): $checks"
[ "$checks" = OK ]
