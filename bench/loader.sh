#!/bin/bash
# The image-folder loader against torchvision's DataLoader, same images, same transforms
# (RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize), same worker counts, one
# epoch each, images/s; then the share of training time the steps waited for data, LeNet (at 32) and
# ResNet-18 (at 224), with 1 and 2 workers. The images: Fashion-MNIST items written as 320x256 RGB
# JPEGs (quality 90), IMAGES of them in 4 classes.
#   bash bench/loader.sh [BUILD_DIR] [IMAGES]
set -euo pipefail
source "$(dirname "$0")/common.sh"
build=$(cd "${1:-$root/build}" && pwd)
images=${2:-400}
cd "$work"

"$python" - "$images" <<'PY'
import gzip, os, sys
import numpy as np
from PIL import Image
with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "rb") as f:
    pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
for i in range(int(sys.argv[1])):
    folder = f"images/train/class{i % 4}"
    os.makedirs(folder, exist_ok=True)
    gray = Image.fromarray(pixels[i]).resize((320, 256), Image.BILINEAR)
    Image.merge("RGB", (gray, gray.point(lambda v: 255 - v), gray.point(lambda v: v // 2))).save(f"{folder}/{i:05d}.jpg", quality=90)
PY

cat >torchvision_loader.py <<'PY'
import sys, time
import torch, torchvision
from torchvision import transforms as T
workers = int(sys.argv[1])
torch.set_num_threads(1)
pipeline = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
data = torchvision.datasets.ImageFolder("images/train", transform=pipeline)
loader = torch.utils.data.DataLoader(data, batch_size=32, num_workers=workers, shuffle=False)
start = time.perf_counter()
for x, y in loader:
    pass
print(f"{len(data) / (time.perf_counter() - start):.1f}")
PY

echo "# loader: $images JPEG images of 320x256, batch 32, one epoch; torchvision $("$python" -c 'import torchvision; print(torchvision.__version__)') DataLoader (worker processes) against ours (worker threads)"
"$build/bin/loader_bench" images/train 1 2 >ours.txt
printf "%-8s %14s %18s %8s\n" "workers" "ours images/s" "torchvision img/s" "ratio"
for k in 1 2; do
  ours=$(sed -n "s/^workers $k: *\([0-9.]*\) images\/s/\1/p" ours.txt)
  theirs=$("$python" torchvision_loader.py "$k")
  printf "%-8s %14.1f %18.1f %8.2f\n" "$k" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')"
done
grep "^check:" ours.txt

echo "# resampling against PIL's: the evaluation pipeline on every image, ours against torchvision on PIL images"
cat >resampling.py <<'PY'
import sys
import h5py, numpy as np, torch, torchvision
from torchvision import transforms as T
resize, crop = int(sys.argv[1]), int(sys.argv[2])
mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
steps = ([T.Resize(resize)] if resize > 0 else []) + [T.CenterCrop(crop), T.ToTensor(), T.Normalize(mean, std)]
data = torchvision.datasets.ImageFolder("images/train", transform=T.Compose(steps))
theirs = torch.stack([data[i][0] for i in range(len(data))]).numpy()
ours = h5py.File("eval.h5")["images"][()]
levels = np.abs(ours - theirs) * np.array(std).reshape(1, 3, 1, 1) * 255  # in 8-bit levels
what = f"Resize({resize}) + CenterCrop({crop})" if resize > 0 else f"decoding only, CenterCrop({crop})"
print(f"{what} of 320x256: |ours - PIL| in 8-bit levels: mean {levels.mean():.3f}, "
      f"max {levels.max():.2f}, {100 * (levels > 0.5).mean():.2f}% of values differ")
PY
for sizes in "0 256" "160 128" "300 256"; do
  read -r resize crop <<<"$sizes"
  "$build/bin/loader_bench" images/train --resize "$resize" --image-size "$crop" --eval-dump eval.h5 >/dev/null
  "$python" resampling.py "$resize" "$crop"
done

echo "# data wait: share of the epoch the steps waited for batches (one rank, 1 intra-op thread)"
printf "%-34s %8s %12s %10s\n" "workload" "workers" "samples/s" "data wait"
wait_share() {  # NAME WORKERS OPTIONS...
  local name=$1 k=$2
  shift 2
  "$build/bin/trainer" --dataset image-folder --train-dir images/train --workers "$k" --threads 1 --epochs 1 \
    --checkpoint-dir none --progress-seconds 0 --metrics-file "m.jsonl" "$@" >/dev/null
  printf "%-34s %8s %12.1f %9.0f%%\n" "$name" "$k" "$(last_metric m.jsonl samples_per_second)" \
    "$("$python" -c 'import json,sys; m = json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(100 * m["data_wait_seconds"] / m["epoch_seconds"])' m.jsonl)"
}
for k in 1 2; do wait_share "lenet at 32x32 (batch 32)" "$k" --model lenet --image-size 32 --batch-size 32; done
for k in 1 2; do
  wait_share "resnet18 at 224x224 (batch 16)" "$k" --model resnet18 --batch-size 16 --limit-train "${RESNET_IMAGES:-96}"
done
