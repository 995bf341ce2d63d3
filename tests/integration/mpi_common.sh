# MPI helpers for the integration tests; sourced after common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/mpi-env.sh"

run_mpi() {
  local ranks=$1
  shift
  mpirun -np "$ranks" --oversubscribe --bind-to none "$@"
}

# train_into NAME RANKS ARGS...: trainer ARGS on RANKS ranks with --checkpoint-dir NAME, its output
# in NAME.log; a failure fails the test with the log's last lines.
train_into() {
  local name=$1 ranks=$2
  shift 2
  run_mpi "$ranks" "$TRAINER" "$@" --checkpoint-dir "$name" >"$name.log" 2>&1 || fail "$name: $(tail -3 "$name.log")"
}

# same_weights A.h5 B.h5 TOLERANCE: every tensor under /model equal within TOLERANCE.
same_weights() {
  "$PYTHON" - "$@" <<'PY'
import sys
import h5py
import numpy as np
a, b, tol = h5py.File(sys.argv[1]), h5py.File(sys.argv[2]), float(sys.argv[3])
names = sorted(a["model"].keys())
assert names == sorted(b["model"].keys()), "different tensors"
worst = max(float(np.max(np.abs(a["model"][n][()] - b["model"][n][()]))) for n in names)
print(f"{len(names)} tensors, largest difference {worst:.3g} (tolerance {tol:g})")
sys.exit(0 if worst <= tol else 1)
PY
}

# kill_after_checkpoint DIR AFTER RANKS ARGS...: runs mpirun -np RANKS ARGS in the background (its
# output in DIR.log) and kill -9s mpirun, whose ranks die with it (PR_SET_PDEATHSIG), once DIR/LATEST
# names a checkpoint after AFTER; fails if no checkpoint was written or the run, of 2 epochs, ended
# first.
kill_after_checkpoint() {
  local dir=$1 after=$2 ranks=$3
  shift 3
  mpirun -np "$ranks" --oversubscribe --bind-to none "$@" >"$dir.log" 2>&1 &
  local launcher=$!
  for _ in $(seq 1 600); do
    [ -f "$dir/LATEST" ] && [ "$(cat "$dir/LATEST")" \> "$after" ] && break
    sleep 0.05
  done
  kill -9 "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
  sleep 1
  [ -f "$dir/LATEST" ] || fail "no checkpoint in $dir before the kill: $(cat "$dir.log")"
  [ ! -d "$dir/epoch-0002" ] || fail "the run ended before the kill"
  echo "killed after $(cat "$dir/LATEST")"
}
