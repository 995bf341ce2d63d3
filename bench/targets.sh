#!/bin/bash
# The performance targets, each measured ROUNDS times in interleaved rounds (this machine is shared
# and its ratios swing up to 2x between runs): every round runs every measurement once, so a slow
# minute touches all targets alike. Prints each round's figures, then per target the median, the
# spread (lowest-highest) and the verdict, which is taken on the median:
#   1. a synchronous save of ResNet-18 + Adam <= 1.25x a raw write+fsync of the same bytes into new files;
#   2. a verified load of it <= 3x a raw read of the same bytes from the page cache into memory;
#   3. ResNet-18 at 2 ranks >= 0.9 scaling efficiency, with the phases of its step.
#   bash bench/targets.sh [BUILD_DIR] [ROUNDS]        (about 1.5 minutes a round on 2 cores; 3 rounds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
rounds=${2:-3}
source "$root/scripts/mpi-env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for round in $(seq 1 "$rounds"); do
  echo "## round $round of $rounds"
  "$build/bin/checkpoint_bench" "$work/ckpt" 9 >"$work/checkpoint.$round.out"
  bash "$root/bench/scaling_phases.sh" "$build/bin/trainer" 6 >"$work/scaling.$round.out"
  grep -h "^target:" "$work/checkpoint.$round.out" "$work/scaling.$round.out" | sed 's/^target: /  /'
done
echo
echo "## the last round in full"
cat "$work/checkpoint.$rounds.out" "$work/scaling.$rounds.out"
echo
echo "## targets over $rounds rounds: median (lowest-highest), verdict on the median"
cat "$work"/checkpoint.*.out "$work"/scaling.*.out | /usr/bin/python3 -c '
import re, statistics, sys
figures = {}
for line in sys.stdin:
    m = re.match(r"target: (.*?) (<=|>=) ([0-9.]+)(x?)(.*?): ([0-9.]+)x?,", line)
    if m:
        figures.setdefault((m[1], m[2], float(m[3]), m[4] + m[5]), []).append(float(m[6]))
for (name, op, bound, unit), values in figures.items():
    median = statistics.median(values)
    verdict = "met" if (median <= bound if op == "<=" else median >= bound) else "MISSED"
    print(f"  {name} {op} {bound:g}{unit}: median {median:.3f} ({min(values):.3f}-{max(values):.3f}, "
          f"{len(values)} rounds), {verdict}")
'
