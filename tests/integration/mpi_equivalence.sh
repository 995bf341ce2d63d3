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
[ "$(grep -o 'test loss [0-9.]*' "$WORK/one.log" | tail -1)" = "$(grep -o 'test loss [0-9.]*' "$WORK/two.log" | tail -1)" ] ||
  fail "final test loss differs between 1 x 64 and 2 x 32"
