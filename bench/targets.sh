#!/bin/bash
# The performance targets measured side by side in one run, each printed with its target and, when
# missed, by how much and the measurements that say why:
#   1. a synchronous save of ResNet-18 + Adam <= 1.25x a raw write+fsync of the same bytes into new files;
#   2. a verified load of it <= 3x a raw read of the same bytes from the page cache into memory;
#   3. ResNet-18 at 2 ranks >= 0.9 scaling efficiency, with the phases of its step.
#   bash bench/targets.sh [BUILD_DIR]        (about 1.5 minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
source "$root/scripts/mpi-env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/checkpoint_bench" "$work/ckpt" 9 | tee "$work/checkpoint.out"
echo
bash "$root/bench/scaling_phases.sh" "$build/bin/trainer" 6 | tee "$work/scaling.out"
echo
echo "## targets, side by side"
grep -h "^target:" "$work/checkpoint.out" "$work/scaling.out" | sed 's/^target: /  /'
