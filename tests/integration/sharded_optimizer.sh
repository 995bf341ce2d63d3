#!/bin/bash
# --shard-optimizer (ZeRO-1) against the unsharded path, on real mpirun ranks and Fashion-MNIST.
#   equal:  20 steps of each optimizer: bit-identical on 2 ranks (a sum of two is the same in any
#           order, so the reduce-scatter gives the allreduce's gradients); ResNet-18's three
#           buckets, overlapped with backward and not, bit-identical too; on 4 ranks with clipping,
#           an LR group and accumulation within 1e-6 (MPI's reduce-scatter and allreduce may add
#           four ranks' gradients in different orders).
#   resume: kill -9 mid-epoch and resume, sharded: bit-identical to the run that never stopped;
#           a sharded checkpoint resumed unsharded and the reverse, on 2 ranks: bit-identical too;
#           a 4-rank sharded checkpoint resumed on 3 ranks, sharded and not, within 1e-6 of each
#           other; its files as large as the unsharded run's (each Adam moment stored once).
# (bash sharded_optimizer.sh [SCENARIO...])
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools=("$PYTHON" "$(dirname "$0")/checkpoint_tools.py")
base=(--limit-test 64 --batch-size 16 --progress-seconds 0 --seed 3)

# train NAME RANKS ARGS...: a run into checkpoint directory NAME, its log in NAME.log.
train() { train_into "$1" "$2" "${base[@]}" "${@:3}"; }

equal() {
  local recipe name
  # 640 samples / (16 x 2 ranks) = 20 steps.
  for recipe in "sgd --momentum 0.9 --nesterov" "sgd --momentum 0.9 --weight-decay 0.01" "adam --lr 0.001" \
    "adamw --lr 0.001" "rmsprop --lr 0.001 --momentum 0.5"; do
    name=$(echo "$recipe" | tr -c 'a-z0-9' '_')
    # shellcheck disable=SC2086  # the recipe's words are options
    train "plain-$name" 2 --epochs 1 --limit-train 640 --optimizer $recipe
    # shellcheck disable=SC2086
    train "sharded-$name" 2 --epochs 1 --limit-train 640 --optimizer $recipe --shard-optimizer
    grep -q "optimizer sharded (ZeRO-1): this rank steps 30853 of 61706 parameter elements" "sharded-$name.log" ||
      fail "not sharded: $(head -3 "sharded-$name.log")"
    "${tools[@]}" same "plain-$name/epoch-0001" "sharded-$name/epoch-0001" ||
      fail "--optimizer $recipe: sharded differs from unsharded on 2 ranks"
  done
  # A recipe: frozen layers, bf16, label smoothing, clipping by value, cosine LR with warmup.
  local recipe=(--epochs 1 --limit-train 640 --optimizer adamw --lr 0.002 --freeze features.0. --precision bf16
    --label-smoothing 0.1 --clip-grad-value 0.05 --lr-schedule cosine --warmup-steps 5)
  train plain-recipe 2 "${recipe[@]}"
  train sharded-recipe 2 "${recipe[@]}" --shard-optimizer --tensorboard tb  # rank 0 logs the norm: collective
  ls tb/events.out.tfevents.* >/dev/null || fail "no TensorBoard events from the sharded run"
  "${tools[@]}" same plain-recipe/epoch-0001 sharded-recipe/epoch-0001 ||
    fail "frozen layers, bf16, label smoothing, clipping by value, warmup: sharded differs"

  # ResNet-18: three buckets, each reduce-scattered during backward (--overlap on) or after it;
  # BatchNorm's buffers beside the sharded parameters. Bit-identical to unsharded both ways.
  local resnet=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 96
    --synthetic-test-size 16 --epochs 1 --optimizer adamw --lr 0.001)  # batch 16 (base): 3 steps
  train resnet-plain 2 "${resnet[@]}"
  train resnet-sharded 2 "${resnet[@]}" --shard-optimizer --timeline resnet.json
  train resnet-sharded-off 2 "${resnet[@]}" --shard-optimizer --overlap off
  grep -q "in 3 bucket(s), reduce-scattered, overlapped with backward" resnet-sharded.log ||
    fail "ResNet-18's buckets were not reduce-scattered during backward: $(head -3 resnet-sharded.log)"
  grep -q '"reduce-scatter bucket' resnet.json || fail "the timeline shows no reduce-scatter"
  "${tools[@]}" same resnet-plain/epoch-0001 resnet-sharded/epoch-0001 || fail "ResNet-18: sharded differs from unsharded"
  "${tools[@]}" same resnet-sharded/epoch-0001 resnet-sharded-off/epoch-0001 || fail "ResNet-18: overlap changed the result"

  # 4 ranks: 1280 / (16 x 4 x 1) = 20 steps, accumulated in pairs: 10.
  local four=(--epochs 1 --limit-train 1280 --optimizer adam --lr 0.002 --clip-grad-norm 0.5 --lr-group classifier.4.=0.01
    --accumulate-steps 2)
  train plain-four 4 "${four[@]}"
  train sharded-four 4 "${four[@]}" --shard-optimizer
  "${tools[@]}" close plain-four/epoch-0001 sharded-four/epoch-0001 1e-6 ||
    fail "4 ranks with clipping, an LR group and accumulation: sharded differs from unsharded"
  # The blocking reduce-scatter (--overlap off) is the non-blocking one awaited: the same sums, in
  # the same order, on 4 ranks too.
  train sharded-four-off 4 "${four[@]}" --shard-optimizer --overlap off
  "${tools[@]}" same sharded-four/epoch-0001 sharded-four-off/epoch-0001 || fail "4 ranks: overlap changed the result"
  # The check can tell runs apart: twice the LR is far away.
  train other-four 4 "${four[@]/0.002/0.004}" --shard-optimizer
  if "${tools[@]}" close plain-four/epoch-0001 other-four/epoch-0001 1e-3 >/dev/null; then
    fail "another seed matched within 1e-3: the comparison proves nothing"
  fi
}

resume() {
  local adam=(--optimizer adam --lr 0.001 --limit-train 1280 --checkpoint-every-steps 10)
  # The run that never stops, and one killed mid-epoch and resumed: sharded both.
  train whole 2 "${adam[@]}" --epochs 2 --shard-optimizer
  # Killed after the second epoch's first checkpoint (step 10 of 40): the faster sharded step left
  # too few steps after step 20 for the kill to land before the run ended (one CI run).
  kill_after_checkpoint killed epoch-0001 2 "$TRAINER" "${base[@]}" --checkpoint-dir killed "${adam[@]}" \
    --epochs 2 --shard-optimizer
  train killed 2 "${adam[@]}" --epochs 2 --shard-optimizer
  grep -q "resumed from killed/epoch-0001-step-" killed.log || fail "no mid-epoch resume: $(head -5 killed.log)"
  "${tools[@]}" same whole/epoch-0002 killed/epoch-0002 || fail "kill -9 and resume, sharded: not bit-identical"

  # Across modes on 2 ranks: a sharded checkpoint continued unsharded, an unsharded one sharded.
  cp -r whole to-plain && rm -r to-plain/epoch-0002 && echo epoch-0001 >to-plain/LATEST
  train to-plain 2 "${adam[@]}" --epochs 2
  "${tools[@]}" same whole/epoch-0002 to-plain/epoch-0002 || fail "sharded -> unsharded: not bit-identical"
  train plain 2 "${adam[@]}" --epochs 1
  train plain 2 "${adam[@]}" --epochs 2 --shard-optimizer
  "${tools[@]}" same whole/epoch-0002 plain/epoch-0002 || fail "unsharded -> sharded: not bit-identical"

  # 4 ranks sharded -> 3 ranks, sharded and not. Each Adam moment is stored once: the 4-rank
  # sharded checkpoint takes the bytes of the 4-rank unsharded one.
  local four=(--optimizer adam --lr 0.001 --limit-train 1280)
  train four 4 "${four[@]}" --epochs 1 --shard-optimizer
  train four-plain 4 "${four[@]}" --epochs 1
  [ "$(du -sb --apparent-size four/epoch-0001 | cut -f1)" = "$(du -sb --apparent-size four-plain/epoch-0001 | cut -f1)" ] ||
    fail "the sharded checkpoint's size differs: $(du -sb --apparent-size four/epoch-0001 four-plain/epoch-0001)"
  cp -r four three-plain
  train four 3 "${four[@]}" --epochs 2 --shard-optimizer
  train three-plain 3 "${four[@]}" --epochs 2
  grep -q "resumed from four/epoch-0001" four.log || fail "4 -> 3 did not resume: $(head -5 four.log)"
  "${tools[@]}" close four/epoch-0002 three-plain/epoch-0002 1e-6 || fail "4 -> 3 ranks: sharded and unsharded differ"
}

run_scenarios equal resume -- "$@"
