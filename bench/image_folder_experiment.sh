#!/bin/bash
# The transfer-learning tutorial's experiment on real images, as image folders: Fashion-MNIST items
# written as RGB PNG and JPEG files (64x64; half of each class PNG, half JPEG).
#   1. pretrain ResNet-18 on the 8 classes other than T-shirt/top and Shirt (PRETRAIN images per
#      class), mpirun -np 2;
#   2. fine-tune on T-shirt/top vs Shirt, 120 training and 70 validation images per class as in the
#      tutorial (ants and bees), with its transforms and schedule (SGD lr 0.001 momentum 0.9, LR x0.1
#      every 7 epochs, batch 4 per rank), two ways: (a) features frozen, only the new head trains;
#      (b) all layers train. Prints the validation accuracy per seed, the mean and the spread.
# The tutorial crops 224 of 256; on 2 CPU cores that is ~7 images/s, so the images are 64x64 and the
# crops 56 of 64 (--image-size 56 --resize 64, the same proportions).
#   bash bench/image_folder_experiment.sh [build/bin/trainer] [SEEDS] [PRETRAIN] [EPOCHS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
seeds=${2:-3}
pretrain_images=${3:-300}
epochs=${4:-10}
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
wanted = {c: ({"train": 120, "val": 70} if c in (0, 6) else {"train": pretrain, "val": pretrain // 6}) for c in range(10)}
taken = {c: 0 for c in range(10)}
for i in range(len(labels)):
    c = int(labels[i])
    total = sum(wanted[c].values())
    if taken[c] >= total:
        continue
    n = taken[c]
    taken[c] += 1
    split = "train" if n < wanted[c]["train"] else "val"
    root = "task" if c in (0, 6) else "pretrain"
    folder = f"{root}/{split}/{names[c]}"
    os.makedirs(folder, exist_ok=True)
    gray = Image.fromarray(images[i]).resize((64, 64), Image.BILINEAR)
    rgb = Image.merge("RGB", (gray, gray, gray))
    if n % 2:
        rgb.save(f"{folder}/{n:05d}.jpg", quality=90)
    else:
        rgb.save(f"{folder}/{n:05d}.png")
PY

common=(--dataset image-folder --model resnet18 --image-size 56 --resize 64 --workers 1 --progress-seconds 0)
mpi() { mpirun -np 2 --oversubscribe --bind-to none "$trainer" "$@"; }
echo "# pretraining ResNet-18 on 8 classes ($pretrain_images images each, 3 epochs, 2 ranks)"
mpi "${common[@]}" --data-dir pretrain --epochs 3 --batch-size 32 --lr 0.05 --lr-step 0 --checkpoint-dir pretrained |
  grep "^epoch"

features=(--freeze conv1. --freeze bn1. --freeze layer1. --freeze layer2. --freeze layer3. --freeze layer4.)
task=("${common[@]}" --data-dir task --init-from pretrained --epochs "$epochs" --batch-size 4 --lr 0.001 --momentum 0.9
  --lr-step 7 --lr-gamma 0.1 --checkpoint-dir none)
printf "%-20s %s\n" "way" "validation accuracy per seed -> mean (std)"
for arm in frozen all; do
  accuracies=()
  for seed in $(seq 1 "$seeds"); do
    extra=()
    [ "$arm" = frozen ] && extra=("${features[@]}")
    mpi "${task[@]}" "${extra[@]}" --seed "$seed" --metrics-file "$arm-$seed.jsonl" >/dev/null
    accuracies+=("$(last_metric "$arm-$seed.jsonl" test_accuracy)")
  done
  printf "%-20s %s\n" "$arm" "$(printf '%s\n' "${accuracies[@]}" | awk '{ v[NR] = $1; s += $1; printf "%.3f ", $1 }
    END { m = s / NR; for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2; printf "-> %.3f (%.3f)", m, sqrt(d / NR) }')"
done
