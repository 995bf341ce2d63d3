# Helpers for the integration tests; sourced, not run. $TRAINER is the executable under test.
set -euo pipefail

: "${TRAINER:?TRAINER must name the trainer executable}"
# The Python whose torch, torchvision and h5py the tests use: the PyTorch of the LibTorch under test.
PYTHON=${TRAINER_PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/trainer-test.XXXXXX")
# Only this shell cleans up: a child it forked runs this trap too when a signal meant for the program
# it is about to exec arrives first (bash runs EXIT traps on SIGTERM), and would remove the test's
# directory under the test's feet (kill -TERM "$!" right after "... &").
TEST_SHELL=$BASHPID
trap '[ "$BASHPID" != "$TEST_SHELL" ] || rm -rf "$WORK"' EXIT
# Each test in a directory of its own: the default --checkpoint-dir is relative.
cd "$WORK"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# json_field FILE LINE FIELD: a field of the LINE-th (1-based, -1 = last) JSON object of FILE.
json_field() {
  "$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - (int(sys.argv[2]) > 0)])[sys.argv[3]])' "$@"
}

# run_scenarios NAME... -- [CHOSEN...]: runs the scenario functions CHOSEN (each must be one of the
# NAMEs), or every NAME when none is chosen. CMake registers one ctest entry per scenario, so that
# a failure names its scenario and independent scenarios run side by side.
run_scenarios() {
  local all=() chosen name
  while [ "$1" != -- ]; do all+=("$1"); shift; done
  shift
  chosen=("$@")
  [ ${#chosen[@]} -gt 0 ] || chosen=("${all[@]}")
  for name in "${chosen[@]}"; do
    [[ " ${all[*]} " == *" $name "* ]] || fail "no scenario '$name' (there are: ${all[*]})"
    echo "=== scenario: $name"
    "$name"
  done
}

# last_field FILE FIELD: the FIELD of FILE's last JSON record; fails (the test, not a subshell) when
# the file or the field is missing or empty. Assign it (v=$(last_field ...)) rather than compare
# command substitutions inside [ ]: there a failure is an empty string, and two empty strings agree.
last_field() {
  local value
  value=$(json_field "$1" -1 "$2") || fail "no record with $2 in $1"
  [ -n "$value" ] || fail "$2 is empty in $1"
  echo "$value"
}

# at_least VALUE BOUND: fails unless VALUE >= BOUND (floating point).
at_least() {
  awk -v v="$1" -v b="$2" 'BEGIN { exit !(v >= b) }' || fail "$1 is below $2"
}

# expect_bad_input EXPECTED_TEXT ARGS...: trainer must exit 2 with exactly one stderr line that
# contains EXPECTED_TEXT.
expect_bad_input() {
  local expected=$1
  shift
  local status=0
  "$TRAINER" "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
  [ "$status" -eq 2 ] || fail "trainer $* exited $status, expected 2; stderr: $(cat "$WORK/err")"
  [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "trainer $* printed more than one error line: $(cat "$WORK/err")"
  grep -qF -- "$expected" "$WORK/err" || fail "trainer $*: '$(cat "$WORK/err")' does not say '$expected'"
}
