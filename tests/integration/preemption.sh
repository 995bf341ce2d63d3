#!/bin/bash
# Preemption: a stop signal (SIGUSR1 here, as Slurm's --signal sends it) sets a flag only; at the next
# step boundary both ranks agree, save a checkpoint and exit 75. The resumed run ends bit-identical
# to one that was never stopped. A second signal during the save changes nothing.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="/usr/bin/python3 $(dirname "$0")/checkpoint_tools.py"
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
