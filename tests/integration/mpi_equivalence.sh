#!/bin/bash
# Data parallelism changes nothing but speed: after the same number of steps, 2 ranks x batch 32
# give the parameters of 1 rank x batch 64, and so does 1 rank x batch 32 with 2 accumulated
# micro-batches (LeNet, SGD with momentum, real Fashion-MNIST), within float rounding. (With a
# large LR, a max-pool tie that rounding flips can grow into 1e-4 differences; LR 0.01 keeps the
# check about arithmetic, not chaos.) A
# mismatched-data run must differ by far more than the tolerance, or the check proves nothing.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"

common=(--epochs 2 --limit-train 1024 --limit-test 256 --lr 0.01 --progress-seconds 0 --seed 5)
"$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 64 --save-weights "$WORK/one.h5" >"$WORK/one.log"
run_mpi 2 "$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 32 --save-weights "$WORK/two.h5" >"$WORK/two.log"
"$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 32 --accumulate-steps 2 --save-weights "$WORK/accumulated.h5" >/dev/null
"$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 32 --save-weights "$WORK/other.h5" >/dev/null

grep -q "2 rank(s), mpi" "$WORK/two.log" || fail "the mpirun job did not run on 2 ranks"
same_weights "$WORK/one.h5" "$WORK/two.h5" 1e-4 || fail "2 x 32 differs from 1 x 64"
same_weights "$WORK/one.h5" "$WORK/accumulated.h5" 1e-4 || fail "accumulation differs from 1 x 64"
if same_weights "$WORK/one.h5" "$WORK/other.h5" 1e-3; then
  fail "1 x 32 (twice the steps) matched 1 x 64: the comparison cannot tell runs apart"
fi
# The same global batch sees the same samples: the logged test accuracy agrees too.
one_loss=$(grep -o 'test loss [0-9.]*' "$WORK/one.log" | tail -1)
two_loss=$(grep -o 'test loss [0-9.]*' "$WORK/two.log" | tail -1)
[ -n "$one_loss" ] || fail "no test loss in the 1 x 64 log: $(cat "$WORK/one.log")"
[ "$one_loss" = "$two_loss" ] || fail "final test loss differs between 1 x 64 ($one_loss) and 2 x 32 ($two_loss)"

# Overlap changes nothing but timing: ResNet-18 (its gradients span several buckets, which start
# during backward) on 2 ranks ends bit-identical with --overlap on and off, and so does LeNet with
# accumulated micro-batches (only the last one's backward sends).
resnet=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 96
  --synthetic-test-size 16 --batch-size 8 --epochs 1 --checkpoint-dir none --progress-seconds 0 --seed 2)
run_mpi 2 "$TRAINER" "${resnet[@]}" --overlap on --save-weights "$WORK/overlap-on.h5" >"$WORK/overlap.log"
run_mpi 2 "$TRAINER" "${resnet[@]}" --overlap off --save-weights "$WORK/overlap-off.h5" >/dev/null
grep -q "bucket(s), overlapped with backward" "$WORK/overlap.log" || fail "overlap was not on: $(cat "$WORK/overlap.log")"
same_weights "$WORK/overlap-on.h5" "$WORK/overlap-off.h5" 0 || fail "ResNet-18 with overlap differs from without"
run_mpi 2 "$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 16 --accumulate-steps 2 --overlap on \
  --save-weights "$WORK/acc-on.h5" >/dev/null
run_mpi 2 "$TRAINER" --checkpoint-dir none "${common[@]}" --batch-size 16 --accumulate-steps 2 --overlap off \
  --save-weights "$WORK/acc-off.h5" >/dev/null
same_weights "$WORK/acc-on.h5" "$WORK/acc-off.h5" 0 || fail "accumulation with overlap differs from without"
expect_bad_input "--overlap sometimes: expected on or off" --overlap sometimes
