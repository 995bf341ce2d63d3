#!/bin/bash
# Throughput when the machine is shared. 2 ranks with one intra-op thread each, --workers 0 and 2,
# quiet and with 1 and 2 other busy processes on the machine (each a CPU-bound shell loop, as
# another job on a shared node would be): the trainer and Python DDP (gloo, torchrun, the same
# model, batch, data and DataLoader workers) measured back to back under the same load, LeNet on
# real Fashion-MNIST and ResNet-18 on synthetic 3x32x32 images. Each figure is the median of
# ROUNDS interleaved rounds. Prints samples/s, trainer/DDP, and each one's fraction of its own
# quiet figure (the targets: under one busy process, trainer >= 0.9x DDP and >= 0.5x quiet). The
# ranks start as a user's `mpirun -np 2 trainer` starts them: bound to a core each (Open MPI's
# default for 2 ranks); BIND="--bind-to none" measures unbound ranks.
#   bash bench/under_load.sh [build/bin/trainer] [ROUNDS] [MODELS]    (MODELS: "lenet resnet18")
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
rounds=${2:-1}
models=${3:-lenet resnet18}
python=/usr/bin/python3  # Debian's torch: what its torchrun runs
busy_pids=()
stop_busy() { [ ${#busy_pids[@]} -eq 0 ] || kill "${busy_pids[@]}" 2>/dev/null || true; busy_pids=(); }
bench_shell=$BASHPID  # a forked child killed before its exec runs EXIT traps too: only this shell cleans up
trap '[ "$BASHPID" != "$bench_shell" ] || { stop_busy; rm -rf "$work"; }' EXIT
start_busy() { for _ in $(seq 1 "$1"); do (while :; do :; done) & busy_pids+=($!); done; }

declare -A options=(
  [lenet]="--epochs 2 --limit-train 12000 --limit-test 500 --batch-size 64"
  [resnet18]="--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 768 --synthetic-test-size 64 --batch-size 32 --epochs 2"
)
declare -A ddp_args=([lenet]="12000 64 lenet" [resnet18]="768 32 resnet18")

trainer_rate() {  # model workers
  # shellcheck disable=SC2086
  mpirun -np 2 ${BIND:-} "$trainer" ${options[$1]} --workers "$2" --threads 1 \
    --checkpoint-dir none --progress-seconds 0 --metrics-file "$work/m.jsonl" >/dev/null
  last_metric "$work/m.jsonl" samples_per_second | awk '{ printf "%d", $1 }'
}
ddp_rate() {  # model workers
  # shellcheck disable=SC2086
  /usr/bin/torchrun --nproc_per_node=2 --redirects 1 --tee 1 "$root/bench/python_baseline.py" ddp ${ddp_args[$1]} "$2" \
    2>/dev/null | sed -n 's/.*ddp samples\/s //p'
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# under load: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), median of $rounds round(s), binding: ${BIND:-Open MPI default}"
printf "%-9s %7s %5s %10s %10s %7s %13s %9s\n" model workers busy trainer ddp ratio trainer/quiet ddp/quiet
for model in $models; do
  for workers in 0 2; do
    declare -A ours=() theirs=()
    for round in $(seq 1 "$rounds"); do
      for busy in 0 1 2; do  # interleaved: a slow minute of the machine touches every load alike
        start_busy "$busy"
        ours[$busy]+="$(trainer_rate "$model" "$workers") "
        theirs[$busy]+="$(ddp_rate "$model" "$workers") "
        stop_busy
      done
    done
    quiet_ours=$(median <<<"${ours[0]}") quiet_theirs=$(median <<<"${theirs[0]}")
    for busy in 0 1 2; do
      a=$(median <<<"${ours[$busy]}") b=$(median <<<"${theirs[$busy]}")
      printf "%-9s %7d %5d %10.0f %10.0f %7.2f %13.2f %9.2f\n" "$model" "$workers" "$busy" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')" \
        "$(awk -v a="$a" -v q="$quiet_ours" 'BEGIN { print a / q }')" \
        "$(awk -v b="$b" -v q="$quiet_theirs" 'BEGIN { print b / q }')"
    done
    unset ours theirs
  done
done
echo "# ratio = trainer / DDP under the same load; x/quiet = the figure / the same side's quiet figure"
