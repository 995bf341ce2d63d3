#!/bin/bash
# The transfer-learning tutorial's fine-tune, trainer against the PyTorch loop a user would write
# (bench/tutorial_finetune.py), over several seeds each, from the same weights on the same files:
#   1. Fashion-MNIST items written as 64x64 RGB PNG and JPEG files (half each): T-shirt/top vs
#      Shirt with 120 training and 75 validation images per class (the tutorial's ants and bees),
#      and PRETRAIN images of each of the 8 other classes;
#   2. ResNet-18 pretrained on the 8 classes by the trainer (mpirun -np 2, 3 epochs), exported to
#      a .pt file; a 2-class head drawn once in PyTorch: START, both sides' first weights;
#   3. per seed and per way (ARMS: "all" trains every layer, "fc" is the fixed feature extractor),
#      the trainer (one process, batch 4, 2 threads) and the tutorial's loop (batch 4, 2 threads),
#      the tutorial's transforms at SIZE/RESIZE (224/256 in the tutorial; 64/73 keeps the same
#      proportions at 1/12 of the cost) and schedule (SGD lr 0.001, momentum 0.9, LR x0.1 every 7
#      epochs) for EPOCHS epochs. Prints the last epoch's validation accuracy per seed, each side's
#      mean and spread, Welch's t, and the two-sided p of an exact permutation test of the means.
# The samples and steps themselves are equal given the same draws (tests/integration/pipeline_parity.sh);
# what differs is only the random streams: the order, the crops and flips. START_PT=FILE starts
# from that file instead of pretraining (and keeps a pretraining's START there when it is absent),
# so that one pretraining at 64 pixels serves a run at 224. FIRST_SEED=K runs seeds K..K+SEEDS-1, to add
# seeds to an earlier run (each seed is its own draw on both sides; the statistics are over one run).
#   bash bench/finetune_vs_pytorch.sh [build/bin/trainer] [SEEDS] [EPOCHS] [SIZE] [RESIZE] [ARMS] [PRETRAIN]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
seeds=${2:-5}
epochs=${3:-15}
size=${4:-64}
resize=${5:-73}
arms=${6:-fc all}
pretrain_images=${7:-300}
start_pt=${START_PT:+$(realpath "$START_PT")}
cd "$work"

"$python" - "$pretrain_images" <<'PY'
import gzip, os, sys
import numpy as np
from PIL import Image

def idx(name):
    with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}.gz", "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
images, labels = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")
pretrain = int(sys.argv[1])
wanted = {c: ({"train": 120, "val": 75} if c in (0, 6) else {"train": pretrain, "val": pretrain // 6}) for c in range(10)}
taken = {c: 0 for c in range(10)}
for i in range(len(labels)):
    c = int(labels[i])
    if taken[c] >= sum(wanted[c].values()):
        continue
    n = taken[c]
    taken[c] += 1
    split = "train" if n < wanted[c]["train"] else "val"
    folder = f"{'task' if c in (0, 6) else 'pretrain'}/{split}/{names[c]}"
    os.makedirs(folder, exist_ok=True)
    gray = Image.fromarray(images[i]).resize((64, 64), Image.BILINEAR)
    rgb = Image.merge("RGB", (gray, gray, gray))
    rgb.save(f"{folder}/{n:05d}.jpg", quality=90) if n % 2 else rgb.save(f"{folder}/{n:05d}.png")
PY

if [ -n "$start_pt" ] && [ -f "$start_pt" ]; then
  echo "# starting from $start_pt"
  cp "$start_pt" start.pt
else
  echo "# pretraining ResNet-18 on 8 classes ($pretrain_images images each, 3 epochs, 2 ranks, ${size}/${resize})"
  mpirun -np 2 --oversubscribe --bind-to none "$trainer" --dataset image-folder --data-dir pretrain --model resnet18 \
    --image-size "$size" --resize "$resize" --workers 1 --epochs 3 --batch-size 32 --lr 0.05 --lr-step 0 \
    --checkpoint-dir pretrained --progress-seconds 0 | grep "^epoch"
  "$trainer" export pretrained --to pretrained.pt >/dev/null
  "$python" - <<'PY'
import torch
state = torch.load("pretrained.pt")
state = state.get("model_state_dict", state)
torch.manual_seed(2024)
head = torch.nn.Linear(512, 2)  # the tutorial's model.fc = nn.Linear(num_ftrs, 2)
state["fc.weight"], state["fc.bias"] = head.weight.detach(), head.bias.detach()
torch.save(state, "start.pt")
PY
  [ -z "$start_pt" ] || cp start.pt "$start_pt"
fi

trainer_run() {  # seed arm -> last validation accuracy
  local extra=()
  [ "$2" = fc ] && extra=(--train-only fc)
  "$trainer" --dataset image-folder --data-dir task --model resnet18 --image-size "$size" --resize "$resize" \
    --init-from start.pt --batch-size 4 --epochs "$epochs" --optimizer sgd --lr 0.001 --momentum 0.9 \
    --weight-decay 0 --lr-step 7 --lr-gamma 0.1 --seed "$1" --workers 1 --threads 2 --checkpoint-dir none \
    --progress-seconds 0 --metrics-file "trainer-$2-$1.jsonl" "${extra[@]}" >/dev/null
  last_metric "trainer-$2-$1.jsonl" test_accuracy
}
pytorch_run() {  # seed arm -> last validation accuracy
  "$python" "$root/bench/tutorial_finetune.py" task start.pt "$1" "$epochs" "$size" "$resize" "$2" "pytorch-$2-$1.json"
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["val_accuracy"][-1])' "pytorch-$2-$1.json"
}

echo "# fine-tuning: $seeds seeds, $epochs epochs, crops $size of $resize, $(date -u +%F)"
for arm in $arms; do
  ours=() theirs=()
  for seed in $(seq "${FIRST_SEED:-1}" $((${FIRST_SEED:-1} + seeds - 1))); do  # interleaved: a slow minute of the machine touches both sides
    ours+=("$(trainer_run "$seed" "$arm")")
    theirs+=("$(pytorch_run "$seed" "$arm")")
  done
  "$python" - "$arm" "${ours[*]}" "${theirs[*]}" <<'PY'
import itertools, math, sys
arm, a, b = sys.argv[1], [float(v) for v in sys.argv[2].split()], [float(v) for v in sys.argv[3].split()]
mean = lambda v: sum(v) / len(v)
var = lambda v: sum((x - mean(v)) ** 2 for x in v) / (len(v) - 1)
t = (mean(a) - mean(b)) / math.sqrt(var(a) / len(a) + var(b) / len(b) or 1e-12)
# Exact permutation test: every way of splitting the pooled accuracies into two groups of these sizes.
pooled, observed = a + b, abs(mean(a) - mean(b))
splits = list(itertools.combinations(range(len(pooled)), len(a)))
extreme = sum(abs(mean([pooled[i] for i in s]) - mean([pooled[i] for i in range(len(pooled)) if i not in s])) >= observed - 1e-12
              for s in splits)
print(f"{arm:4s} trainer {' '.join(f'{v:.3f}' for v in a)} -> {mean(a):.3f} ({math.sqrt(var(a)):.3f})")
print(f"{arm:4s} pytorch {' '.join(f'{v:.3f}' for v in b)} -> {mean(b):.3f} ({math.sqrt(var(b)):.3f})")
print(f"{arm:4s} difference {mean(a) - mean(b):+.3f}, Welch t {t:.2f}, permutation p {extreme / len(splits):.3f}")
PY
done
