#!/bin/bash
# Four oversubscribed ranks end with identical replicas: every rank reports the same fingerprint,
# only rank 0 logs without --verbose, and the metrics file is written once. Two scenarios, one
# ctest entry each (no argument: both): `resnet18` (BatchNorm buffers too) and `lenet`. That the
# check itself catches a replica that differs in one bit is tests/mpi/replicas_test.cpp.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"

resnet18() {
  run_mpi 4 "$TRAINER" --checkpoint-dir none --model resnet18 --dataset synthetic --synthetic-shape 3,16,16 \
    --synthetic-size 64 --synthetic-test-size 30 --batch-size 4 --epochs 1 --progress-seconds 0 \
    --verbose --metrics-file "$WORK/metrics.jsonl" >"$WORK/verbose.log"
  cat "$WORK/verbose.log"
  [ "$(grep -c 'replicas identical on 4 rank(s)' "$WORK/verbose.log")" -eq 4 ] || fail "not every rank reported"
  [ "$(grep -o 'fingerprint [0-9a-f]*' "$WORK/verbose.log" | sort -u | wc -l)" -eq 1 ] ||
    fail "the ranks report different fingerprints"
  [ "$(wc -l <"$WORK/metrics.jsonl")" -eq 1 ] || fail "the metrics file has other than one record"
  # 30 test samples over 4 ranks are evaluated exactly once each: the global step count and samples.
  [ "$(json_field "$WORK/metrics.jsonl" 1 samples_seen)" = 64 ] || fail "samples_seen is not 64"
  [ "$(json_field "$WORK/metrics.jsonl" 1 global_step)" = 4 ] || fail "global_step is not 64/(4*4)"
}

lenet() {
  run_mpi 4 "$TRAINER" --checkpoint-dir none --epochs 1 --limit-train 512 --limit-test 100 --progress-seconds 0 >"$WORK/quiet.log"
  grep -q "replicas identical on 4 rank(s)" "$WORK/quiet.log" || fail "LeNet replicas were not checked"
  ! grep -q "^\[rank" "$WORK/quiet.log" || fail "ranks other than 0 logged without --verbose"
}

run_scenarios resnet18 lenet -- "$@"
