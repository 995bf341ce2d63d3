#!/bin/bash
# Checkpoints are one format under both LibTorch versions trainer builds against (Debian's 1.13 and
# PyPI's 2.x). Both ways round, 1.13 -> 2.x and 2.x -> 1.13, on 2 ranks:
#   1. the writer trains 2 epochs straight, with a checkpoint every 5 steps;
#   2. the other build restores one of its mid-epoch checkpoints and captures it again: every
#      tensor (weights, Adam's moments and steps, the RNG state) and every record comes back bit for
#      bit (the unit test V1Checkpoint.RestoringAndCapturing...), and saves it;
#   3. the writer resumes from the other build's copy and ends exactly where its straight run ended;
#   4. the other build resumes from the writer's checkpoint directly and trains to the end, ending
#      where it ends from its own copy of the same state.
# (The float results of a step differ between the versions in the last bits, other kernels: a
# run's continuation is bit-identical under the LibTorch that continues it, not across.)
# Env: TRAINER, UNIT_TESTS (this build), OTHER_BUILD (the other LibTorch's build directory).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
: "${UNIT_TESTS:?}" "${OTHER_BUILD:?}"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
[ -x "$OTHER_BUILD/bin/trainer" ] && [ -x "$OTHER_BUILD/bin/unit_tests" ] ||
  fail "OTHER_BUILD=$OTHER_BUILD has no bin/trainer and bin/unit_tests: build it first"
# The run of the unit test's V1Checkpoint fixture.
run=(--model lenet --classes 0,6,9 --limit-train 512 --limit-test 128 --batch-size 32 --seed 5 --optimizer adam
  --lr 0.001 --epochs 2 --progress-seconds 0 --keep-last 0)
middle=epoch-0001-step-00000002  # 2 ranks x 32 = 64 per step: 8 steps an epoch

last_loss() { grep -o "epoch 2/2 train loss [0-9.]* acc [0-9.]*" "$1" || fail "$1 has no last epoch: $(cat "$1")"; }

one_way() {  # WRITER_TRAINER WRITER_UNITS OTHER_TRAINER OTHER_UNITS LABEL
  local writer=$1 writer_units=$2 other=$3 other_units=$4 label=$5
  "$writer" --version | head -n 1
  run_mpi 2 "$writer" "${run[@]}" --checkpoint-dir "$label-straight" --checkpoint-every-steps 5 >"$label-straight.log"
  [ -d "$label-straight/$middle" ] || fail "$label: no checkpoint $middle: $(ls "$label-straight")"

  TRAINER_ROUND_TRIP_CHECKPOINT="$WORK/$label-straight/$middle" TRAINER_ROUND_TRIP_OUT="$WORK/$label-copy" \
    "$other_units" --gtest_filter='V1Checkpoint.RestoringAndCapturingAgainGivesTheCheckpointBitForBit' \
    >"$label-round-trip.log" || fail "$label: restoring and capturing again differs: $(cat "$label-round-trip.log")"
  $tools same "$label-straight/$middle" "$label-copy/$middle" ||
    fail "$label: the other build's copy of $middle is not the same bits"
  cp -r "$label-copy" "$label-other"

  run_mpi 2 "$writer" "${run[@]}" --checkpoint-dir "$label-copy" >"$label-back.log"
  grep -q "resumed from $label-copy/$middle" "$label-back.log" || fail "$label: no resume: $(cat "$label-back.log")"
  $tools same "$label-straight/epoch-0002" "$label-copy/epoch-0002" ||
    fail "$label: resumed from the other build's copy, the run does not end where it ended"
  [ "$(last_loss "$label-straight.log")" = "$(last_loss "$label-back.log")" ] || fail "$label: last epoch's metrics differ"

  mkdir "$label-direct" && cp -r "$label-straight/$middle" "$label-direct/" && echo "$middle" >"$label-direct/LATEST"
  run_mpi 2 "$other" "${run[@]}" --checkpoint-dir "$label-direct" >"$label-direct.log"
  grep -q "resumed from $label-direct/$middle" "$label-direct.log" || fail "$label: no resume: $(cat "$label-direct.log")"
  run_mpi 2 "$other" "${run[@]}" --checkpoint-dir "$label-other" >/dev/null
  $tools same "$label-direct/epoch-0002" "$label-other/epoch-0002" ||
    fail "$label: the other build continues the checkpoint differently from its own copy of it"
  echo "$label: round trip bit for bit, resumed both ways"
}

one_way "$OTHER_BUILD/bin/trainer" "$OTHER_BUILD/bin/unit_tests" "$TRAINER" "$UNIT_TESTS" other-to-this
one_way "$TRAINER" "$UNIT_TESTS" "$OTHER_BUILD/bin/trainer" "$OTHER_BUILD/bin/unit_tests" this-to-other
echo "checkpoints_across_versions: OK"
