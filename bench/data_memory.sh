#!/bin/bash
# Peak resident memory of a training run against the size of its data: HDF5 files of uint8 32x32
# images, SMALL and 10 x SMALL samples (uncompressed, written by h5py), the same 100 steps of LeNet
# (batch 64, --workers 2, --prefetch 4) on each. /images is read a batch's rows at a time, so the
# peak should not grow with the file. Peak RSS from /usr/bin/time.
#   bash bench/data_memory.sh [build/bin/trainer] [SMALL]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
small=${2:-100000}
cd "$work"
echo "# data_memory: LeNet, 100 steps of batch 64, --workers 2 --prefetch 4 (a prefetch budget of 1 MB)"
printf "%-12s %12s %16s\n" "samples" "file MB" "peak RSS MB"
for n in "$small" $((small * 10)); do
  "$python" - "$n" <<'PY'
import sys
import h5py, numpy as np
n = int(sys.argv[1])
with h5py.File("data.h5", "w") as f:
    images = f.create_dataset("images", (n, 32, 32), dtype="uint8")
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (10000, 32, 32), dtype=np.uint8)
    for first in range(0, n, 10000):
        images[first:first + 10000] = block[:min(10000, n - first)]
    f["labels"] = (np.arange(n) % 10).astype(np.int64)
PY
  /usr/bin/time -f "%M" -o rss.txt "$trainer" --dataset hdf5 --data data.h5 --limit-train 6400 --batch-size 64 \
    --epochs 1 --workers 2 --prefetch 4 --checkpoint-dir none --progress-seconds 0 >/dev/null
  printf "%-12s %12.0f %16.0f\n" "$n" "$(($(stat -c %s data.h5) / 1000000))" "$(awk '{ print $1 / 1024 }' rss.txt)"
  rm data.h5
done
