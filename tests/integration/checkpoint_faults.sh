#!/bin/bash
# Damaged checkpoints are reported by name and skipped by --resume auto; a kill -9 at any moment,
# during a save too, leaves LATEST naming a complete checkpoint that verifies and resumes.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"
run=(--limit-train 640 --limit-test 100 --progress-seconds 0 --keep-last 0)

run_mpi 2 "$TRAINER" "${run[@]}" --epochs 3 --checkpoint-dir checkpoints >/dev/null
cp -r checkpoints pristine

# A flipped byte inside a shard: named with its shard and tensor, by inspect --verify and on resume.
$tools flip checkpoints/epoch-0003 /model/classifier.0.weight
status=0
"$TRAINER" inspect checkpoints/epoch-0003 --verify >/dev/null 2>verify.err || status=$?
[ "$status" -eq 2 ] || fail "inspect --verify of a corrupt checkpoint exited $status"
grep -q "tensor /model/classifier.0.weight in shard-0000[01]-of-00002.h5" verify.err || fail "$(cat verify.err)"
expect_bad_input "tensor /model/classifier.0.weight in shard-" "${run[@]}" --epochs 4 --resume checkpoints/epoch-0003
run_mpi 2 "$TRAINER" "${run[@]}" --epochs 4 --checkpoint-dir checkpoints >fallback.log 2>fallback.err
grep -q "trainer: warning: checkpoint checkpoints/epoch-0003 is unusable (rank [01]: checkpoint " fallback.err &&
  ! grep -q "warning" fallback.log ||
  fail "no warning on standard error naming the rank that read the damaged shard: $(cat fallback.err fallback.log)"
grep -q "resumed from checkpoints/epoch-0002" fallback.log || fail "did not fall back to epoch-0002"
grep -q "epoch 4/4 train loss" fallback.log || fail "training did not continue"

# A missing shard: reported before any tensor is read; auto falls back past it.
rm -rf checkpoints && cp -r pristine checkpoints
rm checkpoints/epoch-0003/shard-00001-of-00002.h5
expect_bad_input "shard shard-00001-of-00002.h5 is missing (the index records" inspect checkpoints
"$TRAINER" "${run[@]}" --epochs 4 --checkpoint-dir checkpoints >missing.log
grep -q "resumed from checkpoints/epoch-0002" missing.log || fail "no fallback past a missing shard"
cp -r pristine broken && rm broken/*/shard-00000-of-00002.h5
expect_bad_input "--resume auto: no usable checkpoint in broken" "${run[@]}" --epochs 4 --checkpoint-dir broken

# kill -9 at random moments while a checkpoint is written every step: LATEST always names a
# checkpoint that verifies, and --resume auto finishes the run.
RANDOM=7
kills=0
for trial in 1 2 3 4 5; do
  rm -rf kill && mkdir kill
  run_mpi 2 "$TRAINER" "${run[@]}" --checkpoint-dir kill/ck --checkpoint-every-steps 1 --epochs 12 \
    >kill/log 2>&1 &
  job=$!
  sleep "0.$((RANDOM % 9 + 1))"
  while [ ! -e kill/ck/LATEST ] && kill -0 $job 2>/dev/null; do sleep 0.1; done
  sleep "0.$((RANDOM % 10))"
  victims=$(pgrep -f "$TRAINER ${run[*]} --checkpoint-dir kill/ck" || true)
  what="the run had ended before the kill"
  if [ -n "$victims" ] && kill -9 "$(shuf -n1 -e $victims)" 2>/dev/null; then
    what="killed"
    kills=$((kills + 1))
  fi
  wait $job 2>/dev/null || true
  latest=$(cat kill/ck/LATEST)
  unfinished=$(find kill/ck -maxdepth 1 -name '*.tmp' | wc -l)
  "$TRAINER" inspect "kill/ck/$latest" --verify >kill/verify.log || fail "trial $trial: LATEST $latest does not verify"
  "$TRAINER" "${run[@]}" --checkpoint-dir kill/ck --epochs 12 --checkpoint-every 6 >kill/resume.log ||
    fail "trial $trial: resume failed: $(cat kill/resume.log)"
  grep -q "resumed from kill/ck/" kill/resume.log || fail "trial $trial: did not resume"
  echo "trial $trial: $what after $latest ($unfinished unfinished save(s) left behind); resumed and finished"
done
[ "$kills" -ge 3 ] || fail "only $kills of 5 kills landed: the trials tested too little"
