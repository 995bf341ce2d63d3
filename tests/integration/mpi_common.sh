# MPI helpers for the integration tests; sourced after common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/mpi-env.sh"

run_mpi() {
  local ranks=$1
  shift
  mpirun -np "$ranks" --oversubscribe --bind-to none "$@"
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
