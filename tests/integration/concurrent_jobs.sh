#!/bin/bash
# One training job per checkpoint directory. A second job started at a random moment of the first
# (the same command, or a mistaken one: another model) is refused with exit 2 naming the directory
# and the holder, before it touches anything; the first always ends bit-identical to a run that was
# never disturbed, and LATEST always names a complete checkpoint. TRIALS times, a fixed SEED.
source "$(dirname "$0")/common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
TRIALS=${TRIALS:-5}
RANDOM=${SEED:-4}
run=(--limit-train 6000 --limit-test 100 --progress-seconds 0 --seed 3 --batch-size 32 --epochs 2
     --checkpoint-every-steps 20 --keep-last 2)

now_ms() { date +%s%3N; }
started=$(now_ms)
"$TRAINER" "${run[@]}" --checkpoint-dir reference >reference.log 2>&1 &
reference=$!
until [ -e reference/.trainer.lock ] || ! kill -0 "$reference" 2>/dev/null; do sleep 0.01; done
locked=$(($(now_ms) - started))
wait "$reference" || fail "reference: $(cat reference.log)"
# A second job reaches its lock about `locked` ms after its start: started within `window` ms of
# the first job's lock, it finds the first one still at work.
window=$(($(now_ms) - started - 2 * locked))
[ "$window" -gt 500 ] || fail "the reference run is too short to contest ($window ms)"
echo "reference: the lock after $locked ms, a window of $window ms for the second job"

contested=0
for trial in $(seq "$TRIALS"); do
  dir=trial-$trial
  "$TRAINER" "${run[@]}" --checkpoint-dir "$dir" >"$dir.first" 2>&1 &
  first=$!
  # From the moment the first job holds the directory (its lock names it) to about its end.
  until grep -qs "pid $first " "$dir/.trainer.lock" || ! kill -0 "$first" 2>/dev/null; do sleep 0.01; done
  delay=$((RANDOM % (window / 2)))  # half the window: a loaded machine stretches the first job unevenly
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  second=("${run[@]}")
  [ $((trial % 2)) -eq 0 ] && second+=(--model resnet18 --synthetic-shape 1,32,32)  # the mistaken one
  status=0
  "$TRAINER" "${second[@]}" --checkpoint-dir "$dir" >"$dir.second" 2>"$dir.second.err" || status=$?
  running=$(kill -0 "$first" 2>/dev/null && echo yes || echo no)
  wait "$first" || fail "trial $trial: the first job failed: $(tail -3 "$dir.first")"
  if [ "$running" = yes ]; then
    contested=$((contested + 1))
    [ "$status" -eq 2 ] || fail "trial $trial: the second job exited $status while the first ran: $(cat "$dir.second.err")"
    grep -q "^trainer: error: --checkpoint-dir $dir is in use by another training job (pid $first on " "$dir.second.err" ||
      fail "trial $trial: $(cat "$dir.second.err")"
  fi
  latest=$(cat "$dir/LATEST")
  "$TRAINER" inspect "$dir/$latest" --verify >/dev/null || fail "trial $trial: LATEST $latest does not verify"
  $tools same reference/epoch-0002 "$dir/epoch-0002" >/dev/null || fail "trial $trial: the first job's end differs"
  echo "trial $trial: second job at $delay ms ($([ "$running" = yes ] && echo "refused, exit $status" || echo "after the first ended")); first job bit-identical"
  rm -rf "$dir" "$dir".*
done
echo "concurrent jobs: $TRIALS trials, $contested with both jobs alive: every second job refused, every first job intact"
[ "$contested" -ge $((TRIALS / 2)) ] || fail "only $contested of $TRIALS trials had both jobs alive: too few to count"
