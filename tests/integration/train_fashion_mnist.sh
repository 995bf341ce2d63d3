#!/bin/bash
# One epoch of LeNet on 5000 real Fashion-MNIST images must reach a test accuracy far above chance
# (0.10), and the metrics file must hold one well-formed record per epoch.
source "$(dirname "$0")/common.sh"

"$TRAINER" train --epochs 2 --limit-train 5000 --limit-test 2000 --batch-size 16 --lr 0.02 \
  --metrics-file "$WORK/metrics.jsonl" --progress-seconds 0.5 | tee "$WORK/log"

[ "$(wc -l <"$WORK/metrics.jsonl")" -eq 2 ] || fail "expected 2 metrics records"
[ "$(json_field "$WORK/metrics.jsonl" 1 epoch)" = 1 ] || fail "first record is not epoch 1"
[ "$(json_field "$WORK/metrics.jsonl" -1 samples_seen)" = 10000 ] || fail "samples_seen is not 10000"
[ "$(json_field "$WORK/metrics.jsonl" -1 global_step)" = 626 ] || fail "global_step is not 2*313"
# Start-up (process start to the first step) is in the first record only, and took some time.
startup=$(json_field "$WORK/metrics.jsonl" 1 startup_seconds)
awk -v s="$startup" 'BEGIN { exit !(s > 0 && s < 120) }' || fail "startup_seconds is $startup"
! grep -q startup_seconds <(tail -n 1 "$WORK/metrics.jsonl") || fail "startup_seconds in a later record"
accuracy=$(json_field "$WORK/metrics.jsonl" 1 test_accuracy)
echo "test accuracy after one epoch on 5000 images: $accuracy"
at_least "$accuracy" 0.65
grep -q "^epoch 1/2 step" "$WORK/log" || fail "no progress line in the log"
grep -q "^epoch 2/2 train loss" "$WORK/log" || fail "no epoch summary line"
# The defaults checkpoint every epoch into a new run directory, runs/version_0, with the resolved
# options beside the checkpoints and the final weights.
[ "$(cat runs/version_0/checkpoints/LATEST)" = epoch-0002 ] || fail "the default run did not checkpoint"
grep -q "^limit-train = 5000$" runs/version_0/config.ini || fail "no config.ini in the run directory"
[ -s runs/version_0/weights.h5 ] || fail "no final weights in the run directory"

# `trainer info` says what this build has: the versions, the communicators, the GPUs.
"$TRAINER" info >"$WORK/info" || fail "trainer info failed"
grep -q "^LibTorch: *[12]\.[0-9]*" "$WORK/info" && grep -q "^communicators: mpi" "$WORK/info" &&
  grep -q "^MPI: *Open MPI v" "$WORK/info" && grep -q "^GPUs visible: *[0-9]" "$WORK/info" ||
  fail "trainer info is incomplete: $(cat "$WORK/info")"
if ! grep -q "with CUDA" "$WORK/info"; then
  grep -q "^precisions: *fp32, bf16$" "$WORK/info" || fail "a CPU build offers fp16: $(cat "$WORK/info")"
fi
