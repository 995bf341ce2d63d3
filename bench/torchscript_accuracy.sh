#!/bin/bash
# A model file trains to the accuracy Python reaches with it: examples/torchscript_models.py's
# SmallCNN (BatchNorm, dropout), scripted once per seed, trained on real Fashion-MNIST by
#   (a) the trainer, mpirun -np 2, batch 32 per rank;
#   (b) a plain Python loop (torch.jit.load of the same file: the same module and initial weights),
#       one process, batch 64, DataLoader shuffling;
# with the same hyperparameters (SGD, lr 0.05, momentum 0.9, constant LR), then evaluated on the
# whole test set (10000 images). Prints the test accuracy per seed and the means; the check is the
# issue's: the means within 1 point.
#   bash bench/torchscript_accuracy.sh [build/bin/trainer] [SEEDS] [EPOCHS] [TRAIN_SAMPLES]
# PYTHON: a Python whose torch matches the trainer's LibTorch (default /usr/bin/python3).
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
seeds=${2:-3}
epochs=${3:-3}
samples=${4:-20000}
cd "$work"

cat >python_loop.py <<'PY'
"""The Python side: the same file, the same data, padding and normalization as the trainer's."""
import gzip, os, sys
import numpy as np
import torch
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"

def split(kind, limit=None):
    def idx(name):
        with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f:
            raw = f.read()
        dims = raw[3]
        shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
        return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)[:limit]
    images = torch.from_numpy(idx(f"{kind}-images-idx3-ubyte").copy()).float().div(255)
    images = F.pad(images, (2, 2, 2, 2)).sub(0.2860).div(0.3530).unsqueeze(1)
    return images, torch.from_numpy(idx(f"{kind}-labels-idx1-ubyte").astype(np.int64))

model_file, seed, epochs, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
torch.manual_seed(seed)
model = torch.jit.load(model_file)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
train = torch.utils.data.TensorDataset(*split("train", limit))
loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
for _ in range(epochs):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
model.eval()
x, y = split("t10k")
with torch.no_grad():
    correct = sum(int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(y), 1000))
print(correct / len(y))
PY

echo "# SmallCNN (examples/torchscript_models.py) on Fashion-MNIST: $samples training images, $epochs epochs,"
echo "# SGD lr 0.05 momentum 0.9, global batch 64; test accuracy on the 10000 test images"
printf "%-6s %22s %22s\n" "seed" "trainer (mpirun -np 2)" "python loop (1 proc)"
ours=() theirs=()
for seed in $(seq 1 "$seeds"); do
  "$python" "$root/examples/torchscript_models.py" "models-$seed" --seed "$seed" >/dev/null 2>&1
  mpirun -np 2 --oversubscribe --bind-to none "$trainer" --model "models-$seed/small_cnn.ts" --seed "$seed" \
    --limit-train "$samples" --epochs "$epochs" --batch-size 32 --lr 0.05 --momentum 0.9 --lr-step 0 \
    --checkpoint-dir none --progress-seconds 0 --metrics-file "m-$seed.jsonl" >"train-$seed.log"
  ours+=("$(last_metric "m-$seed.jsonl" test_accuracy)")
  theirs+=("$("$python" python_loop.py "models-$seed/small_cnn.ts" "$seed" "$epochs" "$samples")")
  printf "%-6s %22.4f %22.4f\n" "$seed" "${ours[-1]}" "${theirs[-1]}"
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s / NR }'; }
a=$(mean "${ours[@]}")
b=$(mean "${theirs[@]}")
printf "%-6s %22.4f %22.4f\n" "mean" "$a" "$b"
verdict=$(awk -v a="$a" -v b="$b" 'BEGIN { d = 100 * (a - b); print (d <= 1 && d >= -1) ? "OK" : "WRONG" }')
printf "check: the means within 1 point (difference %+.2f points): %s\n" "$(awk -v a="$a" -v b="$b" 'BEGIN { print 100 * (a - b) }')" "$verdict"
[ "$verdict" = OK ]
