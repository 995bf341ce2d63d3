#!/bin/bash
# Crash anywhere: real `mpirun -np RANKS` training (2 by default) that saves a checkpoint every step
# is killed with SIGKILL at a random moment (rank 0, another rank or mpirun itself), TRIALS times
# with a fixed SEED.
# Every other trial writes its checkpoints in the background (--checkpoint-async on).
# After every kill, LATEST must name a complete checkpoint that verifies (never a partial one),
# `--resume auto` must continue from exactly that checkpoint, and the finished run must equal an
# uninterrupted run bit for bit (training is deterministic).
#
#   TRIALS=200 SEED=2 TRAINER=build/bin/trainer bash tests/integration/crash_anywhere.sh  # longer
#   RANKS=8 TRIALS=20 ... crash_anywhere.sh                                               # wider
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
TRIALS=${TRIALS:-6}
SEED=${SEED:-1}
RANKS=${RANKS:-2}
EPOCHS=8
run=(--limit-train 640 --limit-test 100 --progress-seconds 0 --seed 3 --batch-size 16 --epochs $EPOCHS --checkpoint-every-steps 1)
final=$(printf 'epoch-%04d' $EPOCHS)

now_ms() { date +%s%3N; }
started=$(now_ms)
run_mpi "$RANKS" "$TRAINER" "${run[@]}" --checkpoint-dir reference >reference.log 2>&1 &
reference=$!
while [ ! -e reference/LATEST ] && kill -0 $reference 2>/dev/null; do sleep 0.02; done
first=$(($(now_ms) - started))
wait $reference || fail "reference run: $(cat reference.log)"
span=$(($(now_ms) - started))
echo "reference run: $span ms, first checkpoint after $first ms, $(grep -c ' saved: ' reference.log) checkpoints"
# Kill moments: uniform from late in the start-up (MPI and data loading) to the end of the run.
earliest=$((first * 3 / 4))

RANDOM=$SEED
failures=0 during_save=0 before_first=0
declare -A victims_count=([rank0]=0 [other-rank]=0 [mpirun]=0)
# Processes of this trial that still run (zombies are dead, waiting for the reaper).
live_ranks() {
  local pid
  for pid in $(pgrep -f "$ranks_pattern" || true); do
    case "$(ps -o stat= -p "$pid" 2>/dev/null)" in Z* | "") ;; *) echo -n "$pid " ;; esac
  done
}
trial_failed() {
  echo "trial $trial: FAIL: $*"
  failures=$((failures + 1))
}
for trial in $(seq "$TRIALS"); do
  dir=trial-$trial
  async=$([ $((trial % 2)) -eq 0 ] && echo on || echo off)
  args=("${run[@]}" --checkpoint-async $async --checkpoint-dir "$dir")
  ranks_pattern="$TRAINER ${args[*]}\$"
  run_mpi "$RANKS" "$TRAINER" "${args[@]}" >"$dir.log" 2>&1 &
  job=$!
  delay=$((RANDOM * 32768 + RANDOM))
  delay=$((earliest + delay % (span - earliest)))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  case $((RANDOM % 3)) in
    0) victim=rank0 pid=$( (pgrep -f "$ranks_pattern" || true) | sed -n 1p) ;;  # none yet early on
    1) victim=other-rank pid=$( (pgrep -f "$ranks_pattern" || true) | sed -n "$((2 + RANDOM % (RANKS - 1)))p") ;;
    2) victim=mpirun pid=$(pgrep -P "$job" -x mpirun || true) ;;  # $job is the subshell around mpirun
  esac
  killed=no ended=no
  case "$(ps -o stat= -p "$job" 2>/dev/null)" in Z* | "") ended=yes ;; esac
  if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then killed=yes; fi
  # A run that had ended by now was quicker than the reference (the first run pays for cold
  # caches): later kills aim within what the runs take.
  if [ "$ended" = yes ] && [ "$killed" = no ] && [ "$delay" -gt $((earliest + 500)) ]; then span=$delay; fi
  saving=$( (find "$dir" -maxdepth 1 -name '*.tmp' 2>/dev/null || true) | wc -l)
  # The job must end by itself, and no rank may outlive it (a rank whose mpirun is gone would go
  # on writing checkpoints): ranks die with their launcher.
  timeout 60 tail --pid="$job" -f /dev/null || { trial_failed "mpirun still running 60 s after the kill"; kill -9 "$job"; }
  wait "$job" 2>/dev/null || true
  for _ in $(seq 50); do
    [ -z "$(live_ranks)" ] && break
    sleep 0.1
  done
  if [ -n "$(live_ranks)" ]; then
    trial_failed "rank(s) $(live_ranks) still running 5 s after the job ended"
    pkill -9 -f "$ranks_pattern" || true
    continue
  fi

  if [ ! -e "$dir/LATEST" ]; then
    latest=none
    before_first=$((before_first + 1))
  else
    latest=$(cat "$dir/LATEST")
    case "$latest" in
      *.tmp | "") trial_failed "LATEST names '$latest'"; continue ;;
    esac
    "$TRAINER" inspect "$dir/$latest" --verify >"$dir.verify" 2>&1 ||
      { trial_failed "LATEST $latest does not verify: $(cat "$dir.verify")"; continue; }
  fi
  [ "$killed" = yes ] && victims_count[$victim]=$((victims_count[$victim] + 1))
  [ "$saving" -gt 0 ] && during_save=$((during_save + 1))

  run_mpi "$RANKS" "$TRAINER" "${args[@]}" >"$dir.resume" 2>&1 ||
    { trial_failed "resume failed: $(tail -3 "$dir.resume")"; continue; }
  if [ "$latest" != none ] && ! grep -q "resumed from $dir/$latest" "$dir.resume"; then
    trial_failed "did not resume from LATEST ($latest): $(grep -m1 resum "$dir.resume")"
    continue
  fi
  $tools same "reference/$final" "$dir/$final" >"$dir.same" ||
    { trial_failed "final state differs from the uninterrupted run: $(cat "$dir.same")"; continue; }
  echo "trial $trial: async $async, kill -9 $victim ($killed) at ${delay} ms, LATEST $latest$([ "$saving" -gt 0 ] && echo ', during a save'); resumed, final state identical"
  rm -rf "$dir" "$dir".*
done

landed=$((victims_count[rank0] + victims_count[other-rank] + victims_count[mpirun]))
echo "crash-anywhere: $TRIALS trials at $RANKS ranks, $landed kills landed (seed $SEED; killed rank 0: ${victims_count[rank0]}, another rank: ${victims_count[other-rank]}, mpirun: ${victims_count[mpirun]}; $during_save during a save, $before_first before the first checkpoint), $failures failure(s)"
[ "$failures" -eq 0 ] || fail "$failures of $TRIALS trials failed"
# A kill that found no process to kill tested nothing: most must land (TRIALS=1 needs its one).
[ "$landed" -ge $(((TRIALS + 1) / 2)) ] || fail "only $landed of $TRIALS kills landed on a running process"
