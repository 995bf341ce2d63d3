#!/bin/bash
# Exact resume: 2 epochs straight vs 1 epoch, stop, resume for the second (same world size) give
# model, optimizer and RNG state equal to the last bit; the same through a mid-epoch checkpoint.
# A checkpoint from 4 ranks resumes on 2 and on 1. h5dump and h5py read the index through its links.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
run=(--limit-train 1000 --limit-test 200 --progress-seconds 0 --seed 3 --keep-last 0)

# 1. Epoch boundary.
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir straight --save-weights straight.h5 >straight.log
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 1 --checkpoint-dir stopped >/dev/null
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir stopped >resumed.log
grep -q "resumed from stopped/epoch-0001: 1 epoch(s) done, global step 8" resumed.log || fail "no resume: $(cat resumed.log)"
$tools same straight/epoch-0002 stopped/epoch-0002 || fail "resume at an epoch boundary is not bit-identical"

# 2. Mid-epoch: keep only the checkpoint 3 steps into the second epoch, resume from it.
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir steps --checkpoint-every-steps 11 >/dev/null
[ -d steps/epoch-0001-step-00000003 ] || fail "no mid-epoch checkpoint: $(ls steps)"
mkdir middle && cp -r steps/epoch-0001-step-00000003 middle/ && echo epoch-0001-step-00000003 >middle/LATEST
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir middle >middle.log
grep -q "(mid-epoch)" middle.log || fail "did not resume mid-epoch: $(cat middle.log)"
$tools same straight/epoch-0002 middle/epoch-0002 || fail "mid-epoch resume is not bit-identical"
# The resumed epoch's metrics include the steps before the checkpoint.
grep -o "epoch 2/2 train loss [0-9.]* acc [0-9.]*" straight.log >expected.txt
grep -q -F -f expected.txt middle.log || fail "metrics of the resumed epoch differ"

# 3. Written by 4 ranks, resumed on 2 and on 1; training continues.
run_mpi 4 "$TRAINER" "${run[@]}" --epochs 1 --checkpoint-dir four >/dev/null
cp -r four four-again && cp -r four four-same
# Read once per job: the 4 ranks read a shard each and broadcast it, so together they read about
# the checkpoint's size from storage (each reading all of it would be 4x). The index is metadata
# every rank reads (small against a real model, not against LeNet): at most 1.5x is allowed.
run_mpi 4 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir four-same >four.log
read -r size total <<<"$(sed -n 's/.*loaded \([0-9.]*\) MB in .*; \([0-9.]*\) MB read from storage by 4 rank(s)/\1 \2/p' four.log)"
[ -n "$size" ] || fail "no bytes-read report: $(grep resumed four.log)"
awk -v s="$size" -v t="$total" 'BEGIN { exit !(t >= 0.9 * s && t <= 1.5 * s) }' ||
  fail "4 ranks read $total MB from storage for a $size MB checkpoint"
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir four >two.log
grep -q "resumed from four/epoch-0001" two.log && grep -q "epoch 2/2 train loss" two.log || fail "4 -> 2 ranks"
"$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir four-again >one.log
grep -q "resumed from four-again/epoch-0001" one.log && grep -q "epoch 2/2 train loss" one.log || fail "4 -> 1 rank"
"$TRAINER" inspect four-again/epoch-0001 >inspect.log
grep -q "written by 4 rank(s)" inspect.log || fail "inspect lacks the world size"

# 4. Other tools read the format: h5dump through the links, h5py into arrays equal to the weights.
grep -q "DATASPACE  SIMPLE { ( 10 )" <<<"$(h5dump -d /model/classifier.4.bias straight/epoch-0002/index.h5)" ||
  fail "h5dump cannot read a tensor through index.h5"
$tools weights-match straight/epoch-0002 straight.h5 || fail "h5py reads other values than were saved"
(cd / && h5dump -d /model/classifier.4.bias "$WORK/straight/epoch-0002/index.h5" >/dev/null) ||
  fail "the links do not resolve from another working directory"
mv straight moved
"$TRAINER" inspect moved --verify >verify.log
grep -q "checksums: OK" verify.log || fail "a moved checkpoint no longer verifies"

# 5. A finished run resumed again has nothing to do; a different model is a clear error.
"$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir stopped >again.log
grep -q "nothing to train" again.log || fail "finished run retrained"
expect_bad_input "was written for model lenet, this run trains resnet18" "${run[@]}" --epochs 3 \
  --checkpoint-dir stopped --model resnet18 --synthetic-shape 1,32,32
expect_bad_input "holds sgd state, this run uses --optimizer adam" "${run[@]}" --epochs 3 \
  --checkpoint-dir stopped --optimizer adam --lr 0.001
expect_bad_input "has 10 classes, this run's model has 2" "${run[@]}" --epochs 3 --checkpoint-dir stopped --classes 0,6
# Asynchronous checkpoints hold the state of the step they were taken at, although training went on
# while they were written: each one equals its synchronous twin bit for bit, and resuming from a
# mid-epoch one ends where the straight run ends.
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-every-steps 3 --checkpoint-dir sync >/dev/null
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-every-steps 3 --checkpoint-dir async \
  --checkpoint-async on >async.log
grep -q "checkpoint async/epoch-0000-step-00000003 saved in the background: .* training stalled" async.log ||
  fail "no background save in the log: $(cat async.log)"
compared=0
for checkpoint in sync/epoch-*; do
  # Tensors and attributes: only the time of the save may differ.
  $tools same-all "$checkpoint" "async/$(basename "$checkpoint")" >same.out 2>&1 ||
    fail "async $(basename "$checkpoint") differs from sync: $(cat same.out)"
  compared=$((compared + 1))
done
[ "$compared" -ge 7 ] || fail "only $compared checkpoints to compare"
rm -rf async/epoch-0002 async/epoch-0001-step-00000007 && echo epoch-0001-step-00000004 >async/LATEST
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 2 --checkpoint-dir async --checkpoint-async on >resumed-async.log
grep -q "resumed from async/epoch-0001-step-00000004" resumed-async.log || fail "did not resume: $(cat resumed-async.log)"
$tools same sync/epoch-0002 async/epoch-0002 || fail "the run resumed from an async checkpoint differs"
expect_bad_input "--checkpoint-async maybe: expected on or off" --checkpoint-async maybe
echo "resume checks passed"
