# Sourced by the benchmark scripts: $root, $python (PYTHON, a Python whose torch matches the
# trainer's LibTorch; default Debian's /usr/bin/python3 with 1.13), the MPI environment, and a
# scratch directory $work, removed on exit, that the script works in.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-/usr/bin/python3}
[[ $python != */* ]] || python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python")  # before the cd
source "$root/scripts/mpi-env.sh"
work=$(mktemp -d)
bench_shell=$BASHPID  # a forked child killed before its exec runs EXIT traps too: only this shell cleans up
trap '[ "$BASHPID" != "$bench_shell" ] || rm -rf "$work"' EXIT

# last_metric FILE KEY: KEY of the last line of a --metrics-file.
last_metric() {
  "$python" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
