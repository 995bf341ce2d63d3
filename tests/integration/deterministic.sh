#!/bin/bash
# Same seed, same results to the last digit on one thread; another seed, other results;
# --deterministic changes nothing on the CPU.
source "$(dirname "$0")/common.sh"

run() {
  "$TRAINER" --checkpoint-dir none --dataset synthetic --synthetic-size 256 --synthetic-test-size 64 --epochs 2 \
    --batch-size 32 --progress-seconds 0 --seed "$1" --metrics-file "$WORK/$2" "${@:3}" >/dev/null
}
run 3 a.jsonl
run 3 b.jsonl
run 4 c.jsonl
for field in train_loss test_loss test_accuracy; do
  a=$(last_field "$WORK/a.jsonl" $field)
  b=$(last_field "$WORK/b.jsonl" $field)
  [ "$a" = "$b" ] || fail "$field differs between two runs with the same seed: $a, $b"
done
a=$(last_field "$WORK/a.jsonl" train_loss)
c=$(last_field "$WORK/c.jsonl" train_loss)
[ "$a" != "$c" ] || fail "another seed gave the same training loss"

# --deterministic on the CPU: the kernels LeNet and ResNet-18 use are deterministic already, so the
# results are the same to the last digit, and no operation is refused.
run 3 d.jsonl --deterministic
for field in train_loss test_loss test_accuracy; do
  a=$(last_field "$WORK/a.jsonl" $field)
  d=$(last_field "$WORK/d.jsonl" $field)
  [ "$a" = "$d" ] || fail "$field differs with --deterministic: $a, $d"
done
echo "same seed: the same $(last_field "$WORK/a.jsonl" train_loss) train loss; another seed: $c"
"$TRAINER" --deterministic --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 64 \
  --synthetic-test-size 16 --epochs 1 --batch-size 16 --checkpoint-dir none --progress-seconds 0 >resnet.log ||
  fail "ResNet-18 under --deterministic: $(cat resnet.log)"
