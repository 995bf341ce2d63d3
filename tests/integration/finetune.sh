#!/bin/bash
# Fine-tuning end to end: pretrain on 8 classes, then fine-tune on T-shirt/top vs Shirt with
# mpirun -np 2, the feature extractor frozen and one classifier layer in an LR-0 group. Frozen and
# LR-0 parameters stay bitwise equal, the new head is re-initialized and reported, the resume
# restores the groups, and bad prefixes or changed groups are clear errors.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
fixtures="$(dirname "$0")/../fixtures"

"$TRAINER" --classes 1,2,3,4,5,7,8,9 --limit-train 3000 --limit-test 500 --epochs 1 --checkpoint-dir pre \
  --progress-seconds 0 >/dev/null
tune=(--classes 0,6 --limit-train 120 --limit-test 70 --batch-size 16 --progress-seconds 0 --init-from pre
      --freeze features. --lr-group classifier.0.=0 --checkpoint-dir tuned)
run_mpi 2 "$TRAINER" "${tune[@]}" --epochs 3 --save-weights tuned.h5 >tune.log
cat tune.log
grep -q "re-initialized (shape differs): classifier.4.weight (\[8, 84\] in the file, \[2, 84\] in the model)" tune.log ||
  fail "the new head was not reported"
grep -q "frozen: 4 parameter tensor(s) under 'features.'" tune.log || fail "no freeze report"
"$PYTHON" - <<'PY' || fail "frozen or LR-0 parameters changed, or the trained ones did not"
import h5py, numpy as np, sys
pre = h5py.File("pre/epoch-0001/index.h5")["model"]
tuned = h5py.File("tuned.h5")["model"]
fixed = [n for n in tuned if n.startswith("features.") or n.startswith("classifier.0.")]
changed = [n for n in fixed if not np.array_equal(pre[n][()], tuned[n][()])]
trained = [n for n in ("classifier.2.weight", "classifier.2.bias") if np.array_equal(pre[n][()], tuned[n][()])]
print(f"{len(fixed)} frozen/LR-0 tensors bitwise unchanged; changed: {changed}; untrained: {trained}")
sys.exit(1 if changed or trained or len(fixed) != 6 else 0)
PY

# Resume restores the groups (and keeps the frozen layers frozen); a changed grouping is refused.
run_mpi 2 "$TRAINER" "${tune[@]}" --epochs 4 >resume.log
grep -q "resumed from tuned/epoch-0003" resume.log && grep -q "epoch 4/4" resume.log || fail "no resume: $(cat resume.log)"
expect_bad_input "parameter group(s), this run has" --classes 0,6 --limit-train 120 --checkpoint-dir tuned --epochs 5 \
  --freeze features.
expect_bad_input "--freeze feature.: no parameter name starts with 'feature.'" --freeze feature. --limit-train 64
expect_bad_input "--lr-group fc.=...: no parameter name starts with 'fc.'" --lr-group fc.=0.1 --limit-train 64
expect_bad_input "--lr-group classifier.: expected PREFIX=LR" --lr-group classifier. --limit-train 64
expect_bad_input "lacks conv1.weight" --model resnet18 --init-from "$fixtures/lenet_plain.pt" --limit-train 64 \
  --checkpoint-dir none

# A DataParallel .pt from Python initializes a 2-class model: names normalized, head re-initialized.
"$TRAINER" --classes 0,6 --limit-train 120 --limit-test 70 --epochs 1 --checkpoint-dir none --progress-seconds 0 \
  --init-from "$fixtures/lenet_dataparallel.pt" >pt.log
grep -q "names normalized (stripped 'module.')" pt.log && grep -q "re-initialized (shape differs): classifier.4.bias" pt.log ||
  fail "init from a DataParallel .pt: $(cat pt.log)"
