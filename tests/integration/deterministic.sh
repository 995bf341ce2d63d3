#!/bin/bash
# Same seed, same results to the last digit on one thread; another seed, other results.
source "$(dirname "$0")/common.sh"

run() {
  "$TRAINER" --checkpoint-dir none --dataset synthetic --synthetic-size 256 --synthetic-test-size 64 --epochs 2 \
    --batch-size 32 --progress-seconds 0 --seed "$1" --metrics-file "$WORK/$2" >/dev/null
}
run 3 a.jsonl
run 3 b.jsonl
run 4 c.jsonl
for field in train_loss test_loss test_accuracy; do
  [ "$(json_field "$WORK/a.jsonl" -1 $field)" = "$(json_field "$WORK/b.jsonl" -1 $field)" ] ||
    fail "$field differs between two runs with the same seed"
done
[ "$(json_field "$WORK/a.jsonl" -1 train_loss)" != "$(json_field "$WORK/c.jsonl" -1 train_loss)" ] ||
  fail "another seed gave the same training loss"
