#!/bin/bash
# --dataset image-folder on a real image folder written from Fashion-MNIST (three classes, PNG and
# JPEG, grayscale, RGB, RGBA and 16-bit grayscale PNG, varied sizes):
#   - the evaluation pipeline (Resize + CenterCrop + Normalize) gives torchvision's tensors on PIL's
#     images (PIL's resize to the bit), measured through the model's logits (equal to 1e-5);
#   - ResNet-18 under mpirun -np 2 with --workers 0, 1 and 2 ends with bit-identical weights (augmentation is a
#     function of seed, epoch and index); a kill -9 mid-epoch and --resume auto end bit-identical;
#   - class names in checkpoints, inspect, eval's report and --predictions-out; other names refused;
#   - bad folders and files are one line and exit 2, naming the folder or the file; with
#     --skip-bad-images a corrupt file is left out and counted instead.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"

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
names = {0: "t-shirt", 1: "trouser", 7: "sneaker"}
rng = np.random.default_rng(0)
counts = {"train": 24, "val": 8}
taken = {c: 0 for c in names}
for i in range(len(labels)):
    c = int(labels[i])
    if c not in names or taken[c] >= sum(counts.values()):
        continue
    split = "train" if taken[c] < counts["train"] else "val"
    n = taken[c]
    taken[c] += 1
    folder = f"folder/{split}/{names[c]}"
    os.makedirs(folder, exist_ok=True)
    size = (int(rng.integers(36, 60)), int(rng.integers(36, 60)))  # width, height
    gray = Image.fromarray(images[i]).resize(size, Image.BILINEAR)
    kind = n % 5
    if kind == 0:
        gray.save(f"{folder}/{n:03d}.png")
    elif kind == 1:
        Image.merge("RGB", (gray, gray.point(lambda v: 255 - v), gray)).save(f"{folder}/{n:03d}.png")
    elif kind == 2:
        gray.convert("RGBA").save(f"{folder}/{n:03d}.PNG")
    elif kind == 3:
        gray.save(f"{folder}/{n:03d}.jpg", quality=90)
    else:
        Image.merge("RGB", (gray, gray, gray.point(lambda v: v // 2))).save(f"{folder}/{n:03d}.jpeg", quality=85)
open("folder/train/t-shirt/notes.txt", "w").write("not an image: left out, as ImageFolder does")
# 16-bit grayscale PNG (training only: PIL's convert("RGB") clips it where we scale it to 8 bits).
Image.fromarray(images[0].astype(np.uint16) * 257).save("folder/train/t-shirt/zz-16bit.png")
assert Image.open("folder/train/t-shirt/zz-16bit.png").mode.startswith("I")
PY

folder=(--dataset image-folder --data-dir folder --image-size 32 --resize 36 --batch-size 8 --lr 0.01
  --progress-seconds 0)
common=("${folder[@]}" --model lenet)

# Evaluation pipeline against torchvision's on PIL images, through a LeNet trained for an epoch's logits.
"$TRAINER" "${common[@]}" --epochs 1 --checkpoint-dir init >init.log || fail "one epoch: $(cat init.log)"
"$TRAINER" eval --checkpoint init "${common[@]}" --predictions-out ours.h5 >eval.log || fail "eval: $(cat eval.log)"
grep -q "^test: 24 samples" eval.log || fail "eval: $(cat eval.log)"
grep -q "^per-class accuracy: sneaker:[0-9.]* t-shirt:[0-9.]* trouser:[0-9.]*$" eval.log || fail "eval names: $(cat eval.log)"
grep -q "0 = sneaker, 1 = t-shirt, 2 = trouser" eval.log || fail "confusion matrix names: $(cat eval.log)"
"$TRAINER" inspect init | grep -q "^  class names: 0:sneaker 1:t-shirt 2:trouser$" || fail "inspect: class names"
"$PYTHON" -c 'import h5py; assert list(h5py.File("ours.h5").attrs["class_names"]) in (["sneaker", "t-shirt", "trouser"], [b"sneaker", b"t-shirt", b"trouser"])' ||
  fail "--predictions-out lacks the class names"
"$TRAINER" export init --to init.pt >/dev/null || fail "export"
"$PYTHON" - "$(dirname "$0")/../fixtures" <<'PY' || fail "the evaluation pipeline differs from torchvision's"
import sys
import h5py, numpy as np, torch, torchvision
from torchvision import transforms as T
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet
model = LeNet()
model.features[0] = torch.nn.Conv2d(3, 6, 5)
model.classifier[4] = torch.nn.Linear(84, 3)
model.load_state_dict(torch.load("init.pt"), strict=True)
model.eval()
pipeline = T.Compose([T.Resize(36), T.CenterCrop(32), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
val = torchvision.datasets.ImageFolder("folder/val", transform=pipeline)
assert val.classes == ["sneaker", "t-shirt", "trouser"], val.classes
x = torch.stack([val[i][0] for i in range(len(val))])
y = torch.tensor([val[i][1] for i in range(len(val))])
with torch.no_grad():
    theirs = model(x).numpy()
ours = h5py.File("ours.h5")
assert (ours["labels"][()] == y.numpy()).all(), "labels or order differ from ImageFolder's"
worst = float(np.abs(ours["logits"][()] - theirs).max())
scale = float(np.abs(theirs).max())
print(f"eval pipeline: logits against torchvision+PIL, largest difference {worst:.3g} (logits up to {scale:.3g})")
sys.exit(0 if worst <= 1e-5 * scale else 1)
PY

# --workers 0, 1 and 2 under mpirun -np 2: bit-identical weights; the epoch line says the data wait.
train=("${folder[@]}" --model resnet18 --epochs 2 --seed 3 --checkpoint-every-steps 1 --keep-last 0)
run_mpi 2 "$TRAINER" "${train[@]}" --workers 1 --checkpoint-dir w1 >w1.log || fail "workers 1: $(cat w1.log)"
run_mpi 2 "$TRAINER" "${train[@]}" --workers 2 --checkpoint-dir w2 >w2.log || fail "workers 2: $(cat w2.log)"
grep -q "image-folder: 73 train, 24 test samples of 3x32x32" w1.log || fail "data line: $(grep '^model' w1.log)"
"$PYTHON" "$(dirname "$0")/checkpoint_tools.py" same w1/epoch-0002 w2/epoch-0002 ||
  fail "--workers 2 trains other weights than --workers 1"
run_mpi 2 "$TRAINER" "${train[@]}" --workers 0 --checkpoint-dir w0 >w0.log || fail "workers 0: $(cat w0.log)"
"$PYTHON" "$(dirname "$0")/checkpoint_tools.py" same w1/epoch-0002 w0/epoch-0002 ||
  fail "--workers 0 (in the step's thread) trains other weights than --workers 1"
grep -q "^epoch 2/2 .* samples/s, data wait [0-9]*%$" w0.log || fail "no data wait in the epoch line: $(cat w0.log)"

# kill -9 mid-epoch, resume: bit-identical to the straight run.
kill_after_checkpoint killed epoch-0000-step-00000002 2 "$TRAINER" "${train[@]}" --workers 2 --checkpoint-dir killed
run_mpi 2 "$TRAINER" "${train[@]}" --workers 1 --checkpoint-dir killed >resumed.log || fail "resume: $(cat resumed.log)"
grep -q "resumed from killed/" resumed.log || fail "no resume: $(cat resumed.log)"
"$PYTHON" "$(dirname "$0")/checkpoint_tools.py" same w1/epoch-0002 killed/epoch-0002 ||
  fail "the resumed run does not end where the straight one did"

# Resuming on a folder whose classes have other names is refused.
cp -r folder renamed && mv renamed/train/sneaker renamed/train/boot && mv renamed/val/sneaker renamed/val/boot && cp -r w1 w1-copy
expect_bad_input "was trained on the classes [sneaker, t-shirt, trouser], this run's are [boot, t-shirt, trouser]" \
  "${folder[@]}" --model resnet18 --train-dir renamed/train --val-dir renamed/val --epochs 3 --checkpoint-dir w1-copy
expect_bad_input "named otherwise than the data's (sneaker, ... against boot, ...)" eval --checkpoint init \
  --dataset image-folder --data-dir renamed --image-size 32 --resize 36

# Bad folders and files.
bad=(--dataset image-folder --model lenet --image-size 32 --checkpoint-dir none --epochs 1)
mkdir -p empty/train/a empty/train/b && cp folder/train/trouser/000.png empty/train/a/
expect_bad_input "empty/train/b: an empty class folder" "${bad[@]}" --data-dir empty
mkdir -p none/train
expect_bad_input "none/train: no class folders" "${bad[@]}" --data-dir none
expect_bad_input "nowhere/train: no such image folder" "${bad[@]}" --data-dir nowhere
cp -r folder broken && head -c 300 folder/train/sneaker/003.jpg >broken/train/sneaker/003.jpg
expect_bad_input "broken/train/sneaker/003.jpg: an unreadable JPEG" "${bad[@]}" --data-dir broken
# Cut after the header: found when a batch reaches it.
head -c $(($(stat -c %s folder/train/sneaker/003.jpg) * 2 / 3)) folder/train/sneaker/003.jpg >broken/train/sneaker/003.jpg
expect_bad_input "broken/train/sneaker/003.jpg: a corrupt or truncated JPEG" "${bad[@]}" --data-dir broken
"$TRAINER" "${bad[@]}" --data-dir broken --skip-bad-images >skip.log || fail "--skip-bad-images: $(cat skip.log)"
grep -q "^training data: left out 1 unreadable image(s) (--skip-bad-images), the first: broken/train/sneaker/003.jpg: a corrupt or truncated JPEG" skip.log ||
  fail "--skip-bad-images: $(cat skip.log)"
grep -q "image-folder: 72 train, 24 test samples" skip.log || fail "--skip-bad-images: $(grep '^model' skip.log)"
cp folder/train/sneaker/003.jpg broken/train/sneaker/003.jpg
head -c $(($(stat -c %s folder/train/trouser/000.png) - 20)) folder/train/trouser/000.png >broken/train/trouser/000.png
expect_bad_input "broken/train/trouser/000.png: a corrupt or truncated PNG" "${bad[@]}" --data-dir broken
cp folder/train/trouser/000.png broken/train/trouser/000.png
echo "hello" >broken/train/trouser/001.png
expect_bad_input "broken/train/trouser/001.png: not a JPEG or PNG image" "${bad[@]}" --data-dir broken
expect_bad_input "is smaller than the crop 64 (--resize to scale it)" --dataset image-folder --model lenet \
  --checkpoint-dir none --epochs 1 --data-dir folder --image-size 64 --resize 0
# eval takes the transforms the checkpoint was trained with; another one is refused, not measured.
expect_bad_input "init/epoch-0001 was trained with --image-size 32" eval --checkpoint init --image-size 64 --resize 0
mkdir -p extra/train/a extra/val/a extra/val/z && cp folder/train/trouser/000.png extra/train/a/ &&
  cp folder/train/trouser/000.png extra/val/a/ && cp folder/train/trouser/000.png extra/val/z/
expect_bad_input "extra/val/z: a class the training folder does not have" "${bad[@]}" --data-dir extra
expect_bad_input "--normalize is one mean for one channel" "${bad[@]}" --data-dir folder --normalize 0.5,0.5
expect_bad_input "--crop-scale: expected 0 < MIN <= MAX <= 1" "${bad[@]}" --data-dir folder --crop-scale 0.5,2
expect_bad_input "--workers 300: must be between 0 and 256" "${bad[@]}" --data-dir folder --workers 300
echo "image folders: torchvision's eval pipeline, workers 1 = 2, kill -9 resume, bad folders and files"
