#!/bin/bash
# Preemption: a stop signal (SIGUSR1 here, as Slurm's --signal sends it) sets a flag only; at the next
# step boundary both ranks agree, save a checkpoint and exit 75. The resumed run ends bit-identical
# to one that was never stopped. A second signal during the save changes nothing.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
run=(--limit-train 4000 --limit-test 200 --progress-seconds 0.2 --seed 9 --keep-last 0 --batch-size 16 --epochs 3)

run_mpi 2 "$TRAINER" "${run[@]}" --checkpoint-dir straight >/dev/null

run_mpi 2 "$TRAINER" "${run[@]}" --checkpoint-dir stopped >stopped.log 2>&1 &
job=$!
for _ in $(seq 200); do
  grep -q "^epoch 1/3 step" stopped.log && break
  sleep 0.1
done
ranks=$(pgrep -f "$TRAINER ${run[*]} --checkpoint-dir stopped")
kill -USR1 $ranks
sleep 0.05
kill -USR1 $ranks 2>/dev/null || true  # a second signal, likely during the save
status=0
wait $job || status=$?
cat stopped.log
[ "$status" -eq 75 ] || fail "mpirun exited $status after SIGUSR1, expected 75"
grep -q "stopping on a signal at global step" stopped.log || fail "no stop message"
latest=$(cat stopped/LATEST)
case "$latest" in epoch-0000-step-*) ;; *) fail "LATEST is $latest, expected a mid-epoch checkpoint" ;; esac
"$TRAINER" inspect stopped --verify >/dev/null || fail "the stop checkpoint does not verify"

run_mpi 2 "$TRAINER" "${run[@]}" --checkpoint-dir stopped >resumed.log
grep -q "resumed from stopped/$latest" resumed.log || fail "did not resume from $latest"
$tools same straight/epoch-0003 stopped/epoch-0003 || fail "stopped and resumed run differs from the straight one"

expect_bad_input "--stop-signals: unknown signal 'KILL'" --stop-signals KILL

# Signals sent to mpirun itself. Open MPI forwards SIGUSR1 and SIGUSR2 to every rank: they save and
# exit 75, and so does mpirun. SIGTERM and SIGINT it does not forward (it refuses to): it sends every
# rank SIGTERM and SIGKILL about a second later (odls_base_sigkill_timeout), and exits 1 whatever
# the ranks did; a rank that reaches a step boundary in that second saves.
for signal in USR1 TERM; do
  rm -rf "to-mpirun-$signal"
  run_mpi 2 "$TRAINER" "${run[@]}" --checkpoint-dir "to-mpirun-$signal" >"to-mpirun-$signal.log" 2>&1 &
  job=$!
  until grep -q "^epoch 1/3 step" "to-mpirun-$signal.log" || ! kill -0 "$job" 2>/dev/null; do sleep 0.1; done
  kill -"$signal" "$(pgrep -P "$job" -x mpirun)"
  status=0
  wait "$job" || status=$?
  expected=$([ "$signal" = USR1 ] && echo 75 || echo 1)
  [ "$status" -eq "$expected" ] || fail "SIG$signal to mpirun: exit $status, expected $expected: $(tail -3 "to-mpirun-$signal.log")"
  if [ "$signal" = USR1 ]; then
    grep -q "stopping on a signal at global step" "to-mpirun-$signal.log" || fail "SIGUSR1 to mpirun: the ranks did not stop"
  fi
  saved=none
  if [ -e "to-mpirun-$signal/LATEST" ]; then
    saved=$(cat "to-mpirun-$signal/LATEST")
    "$TRAINER" inspect "to-mpirun-$signal" --verify >/dev/null || fail "SIG$signal to mpirun: LATEST does not verify"
  fi
  echo "SIG$signal to mpirun: mpirun exited $status; the ranks' last checkpoint: $saved"
done
