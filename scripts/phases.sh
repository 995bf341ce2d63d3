# Sourced, not run: the phases of scripts/test.sh, each timed, and at the end (or at the first
# failure) a table of them with the ten slowest tests of every ctest suite.
#   phase NAME COMMAND...         runs COMMAND as one phase
#   suite NAME BUILD_DIR ARGS...  ctest in BUILD_DIR (ARGS go to ctest) as one phase, its log kept
#   background NAME COMMAND...    starts COMMAND at the lowest CPU priority, its output in a log:
#                                 a build that uses the cycles a test suite leaves idle
#   join NAME                     waits for it (its output shown if it failed), as one phase
#   phase_report                  prints the table
phase_names=() phase_seconds=() phase_notes=()
phase_started=$(date +%s)
phase_logs=$(mktemp -d "${TMPDIR:-/tmp}/trainer-phases.XXXXXX")

phase_run() {  # NAME NOTE COMMAND...: times COMMAND; on failure, the table and the same status
  local name=$1 note=$2 start status=0
  shift 2
  start=$(date +%s)
  echo "=== phase: $name"
  "$@" || status=$?
  phase_names+=("$name") phase_seconds+=($(($(date +%s) - start))) phase_notes+=("$note")
  if [ "$status" -ne 0 ]; then
    phase_notes[-1]="FAILED (exit $status) $note"
    phase_report
    exit "$status"
  fi
}

phase() {
  phase_run "$1" "" "${@:2}"
}

suite() {
  local name=$1 dir=$2 count
  shift 2
  count=$(ctest --test-dir "$dir" -N "$@" | sed -n 's/^Total Tests: //p')
  local log=$phase_logs/${#phase_names[@]}
  echo "$name" >"$log.name"
  phase_run "$name" "$count tests" suite_ctest "$log.log" "$dir" "$@"
}
suite_ctest() {  # LOG DIR ARGS...: ctest's output on the terminal and in LOG
  local log=$1 dir=$2
  shift 2
  ctest --test-dir "$dir" "$@" 2>&1 | tee "$log"
}

declare -A background_pid=() background_start=() background_log=()
background() {
  local name=$1 log
  shift
  log=$phase_logs/background.${#background_log[@]}
  background_log[$name]=$log
  echo "=== background: $name (nice 19, its output in $log.out)"
  background_start[$name]=$(date +%s)
  # A session of its own, so that an early exit ends it with everything it started.
  setsid bash -c 'status=0; nice -n 19 "${@:2}" >"$1.out" 2>&1 || status=$?; echo "$status $(date +%s)" >"$1.end"' \
    background "$log" "$@" &
  background_pid[$name]=$!
}
end_background() {
  local pid
  for pid in "${background_pid[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
}
trap end_background EXIT
join() {
  local name=$1 log=${background_log[$1]} status end waited start
  start=$(date +%s)
  wait "${background_pid[$name]}" || true
  read -r status end <"$log.end"
  waited=$(($(date +%s) - start))
  phase_names+=("$name") phase_seconds+=($((end - background_start[$name])))
  phase_notes+=("in the background; waited for: $waited s")
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log.out"
    phase_notes[-1]="FAILED (exit $status) ${phase_notes[-1]}"
    phase_report
    exit "$status"
  fi
}

phase_report() {
  local i total=$(($(date +%s) - phase_started)) tests=0 count
  echo
  echo "=== scripts/test.sh: phases ($(date -u +%Y-%m-%d), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1))"
  printf '%-34s %8s  %s\n' phase minutes notes
  for i in "${!phase_names[@]}"; do
    printf '%-34s %8.1f  %s\n' "${phase_names[$i]}" "$(awk -v s="${phase_seconds[$i]}" 'BEGIN { print s / 60 }')" "${phase_notes[$i]}"
    count=$(echo "${phase_notes[$i]}" | sed -n 's/^\([0-9]*\) tests$/\1/p')
    tests=$((tests + ${count:-0}))
  done
  printf '%-34s %8.1f  %s\n' "total (wall clock)" "$(awk -v s="$total" 'BEGIN { print s / 60 }')" "$tests ctest entries"
  echo
  echo "=== the ten slowest tests (seconds)"
  for log in "$phase_logs"/*.log; do
    [ -f "$log" ] || continue
    sed -n 's/^.*Test *#[0-9]*: \([^ ]*\) .* \([0-9.]*\) sec$/\2 \1/p' "$log" |
      awk -v suite="$(cat "${log%.log}.name")" '{ printf "%8.1f  %s  (%s)\n", $1, $2, suite }'
  done | sort -rn | head -10
}
