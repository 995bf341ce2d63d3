#!/bin/bash
# The comparison a user of PyTorch's transfer-learning tutorial makes, one thing at a time:
#   1. augmentation: the trainer's training samples (RandomResizedCrop + RandomHorizontalFlip +
#      ToTensor + Normalize) against torchvision's transforms on PIL's images given the same crop
#      boxes and flips, two epochs of a folder of PNG, JPEG and CMYK JPEG files of several sizes: bit-identical
#      (data/pil_resize.h is PIL's resize; LibTorch's antialiased resize, used before, left 12 % of
#      the values a level of 255 apart);
#   2. steps: an epoch (three steps of 4 images) of ResNet-18 with SGD (lr 0.001, momentum 0.9)
#      from the same weights, the trainer against PyTorch fed the trainer's samples in the
#      trainer's order: the same weights, BatchNorm statistics and epoch loss (bit-identical here,
#      where Python's torch and the trainer share Debian's LibTorch; held to 1e-6),
#      all layers training and as the tutorial's feature extractor (--train-only fc); and PyTorch
#      fed torchvision's own samples of the same draws ends the same.
source "$(dirname "$0")/common.sh"
: "${AUGMENTED_SAMPLES:?AUGMENTED_SAMPLES must name tests/tools/augmented_samples}"

"$PYTHON" - <<'PY' || fail "Python could not write the image folder"
import gzip, os
import numpy as np
from PIL import Image

def idx(name):
    with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}.gz", "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)

images, labels = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte")
names = {0: "t-shirt", 6: "shirt"}
sizes = [(64, 64), (64, 64), (80, 56), (50, 72), (64, 64), (97, 61)]  # width, height
taken = {c: 0 for c in names}
for i in range(len(labels)):
    c = int(labels[i])
    if c not in names or taken[c] >= len(sizes):
        continue
    n = taken[c]
    taken[c] += 1
    folder = f"folder/train/{names[c]}"
    os.makedirs(folder, exist_ok=True)
    gray = Image.fromarray(images[i]).resize(sizes[n], Image.BILINEAR)
    rgb = Image.merge("RGB", (gray, gray.point(lambda v: 255 - v), gray))
    if n == 5:  # a CMYK JPEG, as print workflows write them: PIL converts it to RGB its own way
        rgb.convert("CMYK").save(f"{folder}/{n:03d}.jpg", quality=90)
    elif n % 2:
        rgb.save(f"{folder}/{n:03d}.jpg", quality=90)
    else:
        rgb.save(f"{folder}/{n:03d}.png")
PY

size=56 resize=64 seed=5
for epoch in 0 1; do
  "$AUGMENTED_SAMPLES" folder "$seed" "$epoch" "$size" "$resize" "epoch$epoch" || fail "augmented_samples failed"
done

"$PYTHON" - "$size" <<'PY' || fail "the training pipeline differs from torchvision's"
import sys
import numpy as np, torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

size = int(sys.argv[1])
mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
levels = []
for epoch in (0, 1):
    rows = [line.split(" ", 7) for line in open(f"epoch{epoch}.txt").read().splitlines()]
    ours = torch.from_numpy(np.fromfile(f"epoch{epoch}.f32", dtype=np.float32).reshape(len(rows), 3, size, size))
    assert len(rows) == 12, len(rows)
    theirs = []
    for index, label, top, left, height, width, flip, path in rows:
        image = Image.open(path).convert("RGB")
        image = F.resized_crop(image, int(top), int(left), int(height), int(width), [size, size],
                               InterpolationMode.BILINEAR)
        if flip == "1":
            image = F.hflip(image)
        theirs.append(F.normalize(F.to_tensor(image), mean, std))
    theirs = torch.stack(theirs)
    torch.save(theirs, f"torchvision{epoch}.pt")
    levels.append(((ours - theirs).abs() * torch.tensor(std).view(1, 3, 1, 1) * 255).flatten())
levels = torch.cat(levels)
off = (levels > 0.5).float().mean().item()
print(f"augmentation: {levels.numel()} values of 24 samples against torchvision with the same draws: "
      f"largest difference {levels.max().item():.3f} levels of 255, mean {levels.mean().item():.4f}, "
      f"{100 * off:.2f} % of values off by more than half a level")
sys.exit(0 if levels.max().item() == 0 else 1)
PY

"$PYTHON" - <<'PY' || fail "Python could not write the initial weights"
import torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet18(num_classes=2).state_dict(), "init.pt")
PY

steps=(--dataset image-folder --data-dir folder --image-size "$size" --resize "$resize" --model resnet18
  --init-from init.pt --batch-size 4 --epochs 1 --optimizer sgd --lr 0.001 --momentum 0.9 --weight-decay 0
  --lr-step 7 --lr-gamma 0.1 --seed "$seed" --workers 0 --threads 1 --checkpoint-dir none --progress-seconds 0)
for arm in all fc; do
  extra=()
  [ "$arm" = fc ] && extra=(--train-only fc)
  "$TRAINER" "${steps[@]}" "${extra[@]}" --save-weights "$arm.h5" --metrics-file "$arm.jsonl" >"$arm.log" 2>&1 ||
    fail "trainer ($arm): $(cat "$arm.log")"
  loss=$(last_field "$arm.jsonl" train_loss)
  "$PYTHON" - "$arm" "$size" "$loss" <<'PY' || fail "$arm: the trainer's steps differ from PyTorch's on the same samples"
import sys
import h5py, numpy as np, torch, torchvision

arm, size, trainer_loss = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
torch.set_num_threads(1)
rows = open("epoch0.txt").read().splitlines()
labels = torch.tensor([int(line.split(" ")[1]) for line in rows])
ours = torch.from_numpy(np.fromfile("epoch0.f32", dtype=np.float32).reshape(len(rows), 3, size, size))
saved = h5py.File(f"{arm}.h5", "r")["model"]

def run(samples):
    model = torchvision.models.resnet18(num_classes=2)
    model.load_state_dict(torch.load("init.pt"))
    if arm == "fc":  # the tutorial's feature extractor: only the new head's parameters train
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("fc.")
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.001, momentum=0.9)
    model.train()
    losses = []
    for begin in range(0, len(rows), 4):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(samples[begin:begin + 4]), labels[begin:begin + 4])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    state = model.state_dict()
    worst = max((torch.from_numpy(np.asarray(saved[k])).double() - v.double()).abs().max().item() for k, v in state.items())
    scale = max(v.double().abs().max().item() for k, v in state.items() if v.is_floating_point())
    return sum(losses) / len(losses), worst, scale

loss, worst, scale = run(ours)
print(f"{arm}: 3 steps on the trainer's samples: PyTorch loss {loss:.6f}, trainer {trainer_loss:.6f}; "
      f"largest weight/statistic difference {worst:.3g} (values up to {scale:.3g})")
loss_tv, worst_tv, _ = run(torch.load("torchvision0.pt"))
print(f"{arm}: 3 steps on torchvision's samples of the same draws: PyTorch loss {loss_tv:.6f}; "
      f"largest difference from the trainer's weights {worst_tv:.3g}")
ok = abs(loss - trainer_loss) <= 1e-6 * max(1.0, abs(loss)) and max(worst, worst_tv) <= 1e-6
sys.exit(0 if ok else 1)
PY
done
grep -q "training only 2 under 'fc'" fc.log || fail "--train-only fc: $(cat fc.log)"
echo "pipeline parity: augmented samples bit-identical to torchvision's, steps equal to PyTorch's on the same samples"
