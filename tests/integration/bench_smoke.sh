#!/bin/bash
# The benchmarks still build and run, and each checks what it measures: the allreduce results, the
# gradients with overlap on against off, the checkpoint read back against what was saved. Each
# must print its "check: ... OK" line and exit 0 (figures themselves are never asserted here: they
# live in bench/run.sh's output on a quiet machine).
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
bin=$(dirname "$TRAINER")

# bench NAME ARGS...: runs it under mpirun -np 2; its exit status and its check line must both say OK.
bench() {
  local name=$1
  shift
  local status=0
  run_mpi 2 "$bin/$name" "$@" >"$name.out" 2>&1 || status=$?
  [ "$status" -eq 0 ] || fail "$name exited $status: $(cat "$name.out")"
  grep -q "^check: .*: OK$" "$name.out" || fail "$name printed no passing check: $(cat "$name.out")"
  ! grep -q "WRONG" "$name.out" || fail "$name reported a wrong result: $(cat "$name.out")"
  grep "^check:" "$name.out"
}
bench overlap_bench 2 4
grep -q "^overlap on:  step .* ratio to raw" overlap_bench.out || fail "overlap_bench: $(cat overlap_bench.out)"
bench checkpoint_bench "$WORK/ckpt" 1
grep -q "^async save: training stall" checkpoint_bench.out || fail "checkpoint_bench: $(cat checkpoint_bench.out)"
# The cost curve's row and the save memory: a shared load reads the checkpoint once (all ranks
# together about its size, against twice it when each rank reads it all).
run_mpi 2 "$bin/checkpoint_bench" "$WORK/curve" 1 --curve >curve.out 2>&1 || fail "checkpoint_bench --curve: $(cat curve.out)"
read -r _ ranks _ _ _ _ once all size < <(grep '^curve' curve.out) || fail "no curve row: $(cat curve.out)"
awk -v o="$once" -v a="$all" -v s="$size" 'BEGIN { exit !(o >= s && o < 1.05 * s && a >= 1.9 * s) }' ||
  fail "2 ranks read $once MB (once per job) and $all MB (each reads all) of a $size MB checkpoint"
"$bin/checkpoint_bench" "$WORK/rss" 1 --rss 32 async >rss.out || fail "checkpoint_bench --rss: $(cat rss.out)"
grep -q "^memory async" rss.out || fail "no memory line: $(cat rss.out)"
bash "$(dirname "$0")/../../bench/scaling_phases.sh" "$TRAINER" 2 >scaling.out 2>&1 || fail "scaling_phases.sh: $(cat scaling.out)"
grep -q "^target: resnet18 2-rank scaling efficiency >= 0.9: [0-9.]*, " scaling.out || fail "$(cat scaling.out)"
bench allreduce_bench --min-bytes 4096 --max-bytes 65536 --seconds 0.01
grep -q "bandwidths in GB/s" allreduce_bench.out || fail "allreduce_bench: $(cat allreduce_bench.out)"
PYTHON="$PYTHON" LENET_SAMPLES=256 RESNET_SAMPLES=64 bash "$(dirname "$0")/../../bench/torchscript.sh" "$TRAINER" 1 \
  >torchscript.out 2>&1 || fail "bench/torchscript.sh: $(cat torchscript.out)"
grep "^check:" torchscript.out
LENET_SAMPLES=2000 RESNET_SAMPLES=64 PYTHON="$PYTHON" bash "$(dirname "$0")/../../bench/precision.sh" "$TRAINER" 1 \
  >precision.out 2>&1 || fail "bench/precision.sh: $(cat precision.out)"
grep "^check:" precision.out
echo "benchmarks run and check their results"
