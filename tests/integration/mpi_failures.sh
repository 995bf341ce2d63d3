#!/bin/bash
# One rank's failure ends the whole job quickly: a rank killed with SIGKILL mid-training, a rank
# that stops (SIGSTOP) and trips the communication timeout, and a
# rank that throws (bad input on rank 0 only) while the other waits in a collective.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"

# 1. kill -9 one rank of a long run; mpirun must end non-zero within 30 s.
run_mpi 2 "$TRAINER" --checkpoint-dir none --epochs 50 --limit-train 20000 --progress-seconds 1 >"$WORK/kill.log" 2>&1 &
job=$!
for _ in $(seq 100); do
  grep -q "step" "$WORK/kill.log" && break
  sleep 0.2
done
grep -q "step" "$WORK/kill.log" || fail "training did not start: $(cat "$WORK/kill.log")"
victim=$(pgrep -f "$TRAINER --checkpoint-dir none --epochs 50" | tail -1)
[ -n "$victim" ] || fail "no rank to kill"
killed_at=$(date +%s)
kill -9 "$victim"
status=0
timeout 60 tail --pid=$job -f /dev/null || fail "mpirun still running 60 s after the kill"
wait $job || status=$?
elapsed=$(($(date +%s) - killed_at))
echo "mpirun ended with status $status, $elapsed s after kill -9 of one rank"
[ "$status" -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
[ "$elapsed" -le 30 ] || fail "the job took $elapsed s to end"
! pgrep -f "$TRAINER --checkpoint-dir none --epochs 50" >/dev/null || fail "ranks survived the job"

# 2. An error on rank 0 only (its metrics file cannot be created) while rank 1 goes on into the
#    first collective: MPI_Abort ends both, and the message names the rank.
start=$(date +%s)
status=0
: >"$WORK/a-file"  # in the way of the folder the metrics file needs
run_mpi 2 "$TRAINER" --checkpoint-dir none --limit-train 256 --epochs 1 --metrics-file "$WORK/a-file/dir/m.jsonl" \
  >"$WORK/abort.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))
cat "$WORK/abort.log"
[ "$status" -ne 0 ] || fail "mpirun exited 0"
grep -q "trainer: error: rank 0/2: --metrics-file $WORK/a-file/dir/m.jsonl: cannot create" "$WORK/abort.log" ||
  fail "no error line naming rank 0"
[ "$elapsed" -le 30 ] || fail "the failing job took $elapsed s to end"

# 3. Bad input on every rank: one error line (rank 0's), not one per rank, and not followed by
#    Open MPI's banner about MPI_ABORT: standard error is that line alone, the status 2.
status=0
run_mpi 2 "$TRAINER" --checkpoint-dir none --epochs 0 >"$WORK/input.out" 2>"$WORK/input.log" || status=$?
[ "$status" -eq 2 ] || fail "bad input under mpirun exited $status"
[ "$(grep -c '^trainer: error:' "$WORK/input.log")" -eq 1 ] || fail "expected one error line: $(cat "$WORK/input.log")"
[ "$(wc -l <"$WORK/input.log")" -eq 1 ] || fail "more than the error line on standard error: $(cat "$WORK/input.log")"
grep -q "rank 0/2: --epochs must be at least 1" "$WORK/input.log" || fail "error line does not name the problem"

# 4. A stuck rank (SIGSTOP: alive, silent) would leave the other waiting in a collective forever;
#    --comm-timeout ends the job with a line naming the collective that waited.
run_mpi 2 "$TRAINER" --checkpoint-dir none --epochs 50 --limit-train 20000 --progress-seconds 1 --comm-timeout 3 \
  >"$WORK/stuck.log" 2>&1 &
job=$!
for _ in $(seq 100); do
  grep -q "step" "$WORK/stuck.log" && break
  sleep 0.2
done
stuck=$(pgrep -f "$TRAINER --checkpoint-dir none --epochs 50 --limit-train 20000 --progress-seconds 1 --comm-timeout 3" | tail -1)
[ -n "$stuck" ] || fail "no rank to stop"
stopped_at=$(date +%s)
kill -STOP "$stuck"
status=0
timeout 60 tail --pid=$job -f /dev/null || { kill -9 "$stuck"; fail "mpirun still running 60 s after a rank stopped"; }
wait $job || status=$?
elapsed=$(($(date +%s) - stopped_at))
echo "mpirun ended with status $status, $elapsed s after SIGSTOP of one rank (--comm-timeout 3)"
[ "$status" -ne 0 ] || fail "mpirun exited 0 with a stuck rank"
grep -q "trainer: error: rank 0/2: MPI_[A-Za-z]* of [0-9]* bytes has waited [0-9]* s for the other ranks (communication timeout 3 s): a rank is dead or stuck" \
  "$WORK/stuck.log" || fail "no line naming the timed-out collective: $(cat "$WORK/stuck.log")"
[ "$elapsed" -le 20 ] || fail "the job took $elapsed s to end"
expect_bad_input "--comm-timeout must be a number of seconds, 0 or more" --comm-timeout -1
