#!/bin/bash
# --virtual-ranks V on real mpirun processes and Fashion-MNIST: the weights are the same bits on any
# process count N that divides V, and across a kill -9 and a resume on another N.
#   counts:  LeNet, V = 12, on N = 1, 2, 3, 4, 6 and 12: every tensor of the final checkpoints
#            bit-identical, and with --overlap off (without --virtual-ranks, 1 and 2 processes
#            differ: the test can tell);
#   recipe:  a TorchScript model with BatchNorm and dropout, AdamW, cosine warmup, clipping, label
#            smoothing, bf16 and 2 accumulated micro-batches, V = 12, on N = 1, 2, 3, 4, 6 and 12,
#            and with --shard-optimizer on 2 and 4;
#   resnet:  ResNet-18 (BatchNorm), V = 12, on N = 1, 2, 3, 4, 6 and 12;
#   resume:  V = 12 with the recipe's AdamW, cosine warmup, clipping, label smoothing and bf16,
#            killed with -9 mid-epoch on 4 processes, resumed on 3, then from a checkpoint of the
#            second epoch on 6: bit-identical to the run that never stopped; refusals (N not
#            dividing V, another V).
# (bash virtual_ranks.sh [SCENARIO...])
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools=("$PYTHON" "$(dirname "$0")/checkpoint_tools.py")
base=(--limit-test 100 --progress-seconds 0 --seed 3)
counts=(1 2 3 4 6 12)

# train NAME PROCESSES ARGS...: a run into checkpoint directory NAME, its log in NAME.log.
train() { train_into "$1" "$2" "${base[@]}" "${@:3}"; }

# same_on_all_counts PREFIX CHECKPOINT WHAT: PREFIX1's CHECKPOINT equals every other count's.
same_on_all_counts() {
  local n
  for n in "${counts[@]:1}"; do
    "${tools[@]}" same "$1""1/$2" "$1$n/$2" || fail "$3: $n processes differ from 1"
  done
}

counts() {
  local lenet=(--limit-train 480 --epochs 2 --optimizer sgd --lr 0.05 --momentum 0.9)
  local n
  for n in "${counts[@]}"; do
    train "n$n" "$n" "${lenet[@]}" --batch-size 10 --virtual-ranks 12
  done
  grep -q "12 virtual ranks, 12 on each process" n1.log || fail "no virtual ranks: $(head -3 n1.log)"
  grep -q "12 virtual ranks, 2 on each process" n6.log || fail "not 2 on each of 6: $(head -3 n6.log)"
  # Without overlap the exchange starts after backward, from the same buffers.
  train n4off 4 "${lenet[@]}" --batch-size 10 --virtual-ranks 12 --overlap off
  same_on_all_counts n epoch-0002 "LeNet, --virtual-ranks 12"
  "${tools[@]}" same n1/epoch-0002 n4off/epoch-0002 || fail "--overlap off: 4 processes differ from 1"
  # The same samples without --virtual-ranks (batch 120 on one process, 60 on each of two): the
  # float sums differ, so the weights do.
  train plain1 1 "${lenet[@]}" --batch-size 120
  train plain2 2 "${lenet[@]}" --batch-size 60
  ! "${tools[@]}" same plain1/epoch-0002 plain2/epoch-0002 >/dev/null 2>&1 ||
    fail "1 and 2 processes gave the same bits without --virtual-ranks: the comparison cannot tell"
}

# AdamW, cosine warmup, clipping, label smoothing, bf16: the recipe the resume uses too.
recipe_options=(--optimizer adamw --lr 0.002 --lr-schedule cosine --warmup-steps 3 --clip-grad-norm 0.5
  --label-smoothing 0.1 --precision bf16)

recipe() {
  "$PYTHON" "$(dirname "$0")/../../examples/torchscript_models.py" models >/dev/null 2>&1 || fail "scripting the models"
  local n
  for n in "${counts[@]}"; do
    train "cnn$n" "$n" --model models/small_cnn.ts --limit-train 960 --batch-size 10 --epochs 2 --virtual-ranks 12 \
      "${recipe_options[@]}" --accumulate-steps 2
  done
  same_on_all_counts cnn epoch-0002 "TorchScript model with BatchNorm and dropout"
  # With the optimizer state sharded (each process steps its chunk of the clipped average): the
  # same bits again.
  for n in 2 4; do
    train "cnn-sharded$n" "$n" --model models/small_cnn.ts --limit-train 960 --batch-size 10 --epochs 2 --virtual-ranks 12 \
      "${recipe_options[@]}" --accumulate-steps 2 --shard-optimizer
    grep -q "optimizer sharded" "cnn-sharded$n.log" || fail "not sharded: $(head -3 "cnn-sharded$n.log")"
    "${tools[@]}" same cnn1/epoch-0002 "cnn-sharded$n/epoch-0002" || fail "--shard-optimizer on $n processes differs"
  done
}

resnet() {
  local n
  for n in "${counts[@]}"; do
    train "resnet$n" "$n" --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 48 \
      --synthetic-test-size 12 --batch-size 2 --epochs 1 --virtual-ranks 12 --optimizer adam --lr 0.001
  done
  same_on_all_counts resnet epoch-0001 "ResNet-18"
}

resume() {
  local run=(--limit-train 1920 --batch-size 10 --epochs 2 --virtual-ranks 12 "${recipe_options[@]}"
    --checkpoint-every-steps 1 --keep-last 0)
  train whole 2 "${run[@]}"
  # Killed on 4 processes in the second epoch, resumed on 3; then resumed on 6 from a checkpoint of
  # the 3 processes.
  kill_after_checkpoint moved epoch-0001-step-00000002 4 "$TRAINER" "${base[@]}" --checkpoint-dir moved "${run[@]}"
  train moved 3 "${run[@]}"
  grep -q "resumed from moved/epoch-0001-step-" moved.log || fail "no mid-epoch resume: $(head -5 moved.log)"
  "${tools[@]}" same whole/epoch-0002 moved/epoch-0002 || fail "killed on 4, resumed on 3: not bit-identical"
  # A checkpoint the 3 processes wrote, 8 steps before the end.
  grep -q "checkpoint moved/epoch-0001-step-00000008 saved" moved.log || fail "3 processes did not write step 8"
  rm -r moved/epoch-0002 && echo epoch-0001-step-00000008 >moved/LATEST
  train moved 6 "${run[@]}"
  grep -q "resumed from moved/epoch-0001-step-00000008" moved.log || fail "no second mid-epoch resume: $(head -5 moved.log)"
  "${tools[@]}" same whole/epoch-0002 moved/epoch-0002 || fail "resumed again on 6: not bit-identical"

  local status=0
  run_mpi 5 "$TRAINER" "${base[@]}" "${run[@]}" --checkpoint-dir five >five.log 2>&1 || status=$?
  [ "$status" = 2 ] && grep -q -- "--virtual-ranks 12 on 5 processes: the process count must divide it (1, 2, 3, 4, 6, 12)" five.log ||
    fail "5 processes for 12 virtual ranks: exit $status: $(head -3 five.log)"
  status=0
  "$TRAINER" "${base[@]}" --limit-train 1920 --batch-size 10 --epochs 3 "${recipe_options[@]}" --virtual-ranks 2 \
    --checkpoint-dir whole --resume auto >other.log 2>&1 || status=$?
  [ "$status" = 2 ] && grep -q "was trained with --virtual-ranks 12, this run has --virtual-ranks 2" other.log ||
    fail "another --virtual-ranks on resume: exit $status: $(tail -3 other.log)"
}

run_scenarios counts recipe resnet resume -- "$@"
