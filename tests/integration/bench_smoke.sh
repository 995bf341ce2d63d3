#!/bin/bash
# The benchmarks still build and run, and check what they measure (figures themselves are never
# asserted here: they live in bench/run.sh's output on a quiet machine).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
bin=$(dirname "$TRAINER")
run_mpi 2 "$bin/overlap_bench" 2 4 >overlap.out
grep -q "^overlap on:  step .* ratio to raw" overlap.out || fail "overlap_bench: $(cat overlap.out)"
run_mpi 2 "$bin/checkpoint_bench" "$WORK/ckpt" 1 >checkpoint.out
grep -q "^async save: training stall" checkpoint.out || fail "checkpoint_bench: $(cat checkpoint.out)"
run_mpi 2 "$bin/allreduce_bench" --min-bytes 4096 --max-bytes 65536 --seconds 0.01 >allreduce.out
grep -q "bandwidths in GB/s" allreduce.out || fail "allreduce_bench: $(cat allreduce.out)"
! grep -qi "wrong\|mismatch\|FAILED" allreduce.out overlap.out checkpoint.out || fail "a benchmark reported a wrong result"
echo "benchmarks run"
