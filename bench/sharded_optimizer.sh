#!/bin/bash
# --shard-optimizer (ZeRO-1) against the unsharded path: ResNet-18 (11.2 M parameters) with Adam on
# synthetic 3x32x32 images. Prints, for 1, 2, 4 and 8 ranks, each mode's optimizer-state bytes on
# the fullest rank and peak resident memory on the largest rank (the trainer's own `memory:` line),
# the checkpoint's bytes per rank, its save time (the final, synchronous save) and its resume time
# (every rank reads its share once: a second run that only loads it); then the 2-rank step time, sharded against unsharded, the
# median of ROUNDS interleaved rounds (the target: sharded >= 0.95x unsharded's samples/s).
#   bash bench/sharded_optimizer.sh [build/bin/trainer] [ROUNDS] [RANKS...]
set -euo pipefail
source "$(dirname "$0")/common.sh"
trainer=$(realpath "${1:-$root/build/bin/trainer}")
rounds=${2:-3}
shift $(($# > 2 ? 2 : $#))
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(1 2 4 8)
model=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-test-size 16 --optimizer adam
  --lr 0.001 --progress-seconds 0 --threads 1)
run() {  # ranks mode-options... ; prints the log
  mpirun -np "$1" --oversubscribe --bind-to none "$trainer" "${model[@]}" "${@:2}"
}

printf "%-6s %-10s %22s %22s %20s %8s %8s\n" ranks mode "optimizer state MB" "peak resident MB" "checkpoint MB/rank" \
  "save s" "resume s"
for n in "${ranks[@]}"; do
  for mode in unsharded sharded; do
    flag=()
    [ $mode = sharded ] && flag=(--shard-optimizer)
    rm -rf "$work/ck"
    log=$(run "$n" "${flag[@]}" --synthetic-size $((16 * n)) --batch-size 16 --epochs 1 --checkpoint-dir "$work/ck")
    line=$(grep '^memory:' <<<"$log")
    state=$(sed -E 's/.*optimizer state ([0-9.]+) MB on the fullest rank.*/\1/' <<<"$line")
    peak=$(sed -E 's/.*peak resident ([0-9.]+) MB.*/\1/' <<<"$line")
    per_rank=$(du -sb --apparent-size "$work"/ck/epoch-0001/shard-* | awk -v n="$n" '{ s += $1 } END { printf "%.1f", s / n / 1e6 }')
    save=$(sed -nE 's/^checkpoint .* saved: [0-9.]+ MB in ([0-9.]+) s.*/\1/p' <<<"$log")
    log=$(run "$n" "${flag[@]}" --synthetic-size $((16 * n)) --batch-size 16 --epochs 1 --checkpoint-dir "$work/ck")
    load=$(sed -nE 's/^resumed from .*; loaded [0-9.]+ MB in ([0-9.]+) s.*/\1/p' <<<"$log")
    printf "%-6s %-10s %22s %22s %20s %8s %8s\n" "$n" "$mode" "$state" "$peak" "$per_rank" "$save" "$load"
  done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() {  # mode-options...
  run 2 "$@" --synthetic-size 512 --batch-size 16 --epochs 1 --checkpoint-dir none --metrics-file "$work/m.jsonl" >/dev/null
  last_metric "$work/m.jsonl" samples_per_second | awk '{ printf "%d", $1 }'
}
plain=() sharded=()
for _ in $(seq 1 "$rounds"); do
  plain+=("$(rate)")
  sharded+=("$(rate --shard-optimizer)")
done
p=$(echo "${plain[*]}" | median) s=$(echo "${sharded[*]}" | median)
echo "2 ranks, ResNet-18, Adam, batch 16 a rank, $rounds interleaved rounds: unsharded ${plain[*]} samples/s (median $p)," \
  "sharded ${sharded[*]} (median $s): sharded/unsharded $(awk -v s="$s" -v p="$p" 'BEGIN { printf "%.2f", s / p }')x"
