#!/bin/bash
# A user's own data set written by h5py (gzip-compressed chunks, uint8 N x H x W) trains LeNet, with
# --classes and --normalize, and ResNet-18 runs on synthetic 3-channel data.
source "$(dirname "$0")/common.sh"
: "${TRAINER_INTEROP_DIR:?the interop fixtures must be written first}"

"$TRAINER" --checkpoint-dir none --dataset hdf5 --data "$TRAINER_INTEROP_DIR/user_train.h5" \
  --test-data "$TRAINER_INTEROP_DIR/user_test.h5" --normalize 0.3,0.3 --epochs 3 --batch-size 32 \
  --lr 0.02 --progress-seconds 0 --metrics-file "$WORK/hdf5.jsonl"
accuracy=$(json_field "$WORK/hdf5.jsonl" -1 test_accuracy)
echo "hdf5 data set test accuracy: $accuracy"
at_least "$accuracy" 0.95

"$TRAINER" --checkpoint-dir none --dataset hdf5 --data "$TRAINER_INTEROP_DIR/user_train.h5" --classes 1,0 --epochs 1 \
  --progress-seconds 0 --metrics-file "$WORK/classes.jsonl"
"$PYTHON" - "$WORK/classes.jsonl" <<'PY' || fail "a run without --test-data: wrong metrics"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert len(records) == 1 and "train_accuracy" in records[0], records
assert "test_accuracy" not in records[0] and "test_loss" not in records[0], records[0]
PY

"$TRAINER" --checkpoint-dir none --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 64 \
  --synthetic-test-size 32 --batch-size 16 --epochs 1 --progress-seconds 0 --optimizer adam \
  --lr 0.001 --metrics-file "$WORK/resnet.jsonl"
[ "$(json_field "$WORK/resnet.jsonl" -1 global_step)" = 4 ] || fail "resnet18 did not take 4 steps"
