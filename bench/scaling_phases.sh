#!/bin/bash
# Where ResNet-18's 2-rank scaling efficiency goes, measured: the step timeline (--timeline) of
# 1. one rank alone, 2. two independent single-rank trainers at once (no communication: what
#    sharing the machine costs), 3. a 2-rank mpirun job; per-rank batch 64 and one thread each, so
#    an ideal 2-rank step takes as long as a 1-rank step. Prints each phase's ms per step (rank 0,
#    steps after the first) and its share of the 2-rank step, the efficiency (1-rank step / 2-rank
#    step) against the target, and how much of the gap sharing the machine explains.
#   bash bench/scaling_phases.sh [build/bin/trainer] [STEPS]
set -euo pipefail
trainer=$(cd "$(dirname "${1:-build/bin/trainer}")" && pwd)/$(basename "${1:-build/bin/trainer}")
steps=${2:-6}
source "$(dirname "$0")/../scripts/mpi-env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
job=(--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-test-size 0 --batch-size 64
  --threads 1 --epochs 1 --checkpoint-dir none --progress-seconds 0)
"$trainer" "${job[@]}" --synthetic-size $((64 * steps)) --timeline alone.json >/dev/null
"$trainer" "${job[@]}" --synthetic-size $((64 * steps)) --timeline pair-a.json >/dev/null &
"$trainer" "${job[@]}" --synthetic-size $((64 * steps)) --seed 2 --timeline pair-b.json >/dev/null
wait
mpirun -np 2 --oversubscribe --bind-to none "$trainer" "${job[@]}" --synthetic-size $((128 * steps)) \
  --timeline mpi.json >/dev/null
python3 - alone.json pair-a.json mpi.json <<'PY'
import json, sys
from collections import defaultdict

def phases(path):
    """ms per step of each phase of rank 0, steps after the first (warm-up); allreduce busy time too."""
    text = open(path).read().rstrip().rstrip(",")
    events = json.loads(text if text.endswith("]") else text + "]")
    per = defaultdict(float)
    steps = set()
    for e in events:
        if e.get("ph") != "X" or e.get("pid") != 0 or e["args"].get("step", 1) < 2:
            continue
        name = e["name"] if e["tid"] != 1 else "allreduce (overlaps backward)"
        per[name] += e["dur"] / 1000
        steps.add(e["args"]["step"])
    return {k: v / len(steps) for k, v in per.items()}

alone, pair, mpi = (phases(p) for p in sys.argv[1:])
order = ["data", "forward", "backward", "waiting", "optimizer", "agree", "checkpoint"]
step = lambda p: sum(v for k, v in p.items() if k in order)
print("%-30s %10s %14s %12s %12s" % ("phase (ms per step)", "1 rank", "1 rank x2 jobs", "2 ranks", "share of 2-rank"))
for name in order + ["allreduce (overlaps backward)"]:
    if any(name in p for p in (alone, pair, mpi)):
        print("%-30s %10.1f %14.1f %12.1f %11.0f%%" % (name, alone.get(name, 0), pair.get(name, 0), mpi.get(name, 0),
                                                    100 * mpi.get(name, 0) / step(mpi)))
print("%-30s %10.1f %14.1f %12.1f" % ("step", step(alone), step(pair), step(mpi)))
efficiency = step(alone) / step(mpi)
ceiling = step(alone) / step(pair)
gap = step(mpi) - step(alone)
shared = step(pair) - step(alone)
verdict = "met" if efficiency >= 0.9 else "MISSED by %.1f%%" % (100 * (1 - efficiency / 0.9))
print("target: resnet18 2-rank scaling efficiency >= 0.9: %.3f, %s" % (efficiency, verdict))
print("  two independent jobs reach %.2f of one alone (sharing cores, caches and memory bandwidth): %.0f%% of the"
      " %.0f ms gap; communication and agreement the rest (%.0f ms)" % (ceiling, 100 * shared / gap if gap > 0 else 0,
                                                                       gap, gap - shared))
PY
