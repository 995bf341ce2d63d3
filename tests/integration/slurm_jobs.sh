#!/bin/bash
# The real slurm/*.sbatch scripts against a real one-node Slurm cluster (tests/slurm/cluster.sh):
#  1. train.sbatch, 2 tasks under srun --mpi=pmix, runs to completion and is not requeued;
#  2. the same run sent SIGUSR1 mid-epoch (as --signal=B:USR1@lead does) checkpoints, requeues
#     itself, resumes and ends bit-identical to run 1;
#  3. the same with LAUNCHER=mpirun, and a signal lead too short for a save, which is warned about;
#  4. eval.sbatch evaluates the newest checkpoint of run 2.
# Needs root, slurm-wlm and munge (scripts/install-deps.sh --test); skips (77) without them.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools="$PYTHON $repo/tests/integration/checkpoint_tools.py"

if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "SKIP: needs root, slurm-wlm and munge"
  exit 77
fi

cluster=$(mktemp -d /tmp/trainer-slurm.XXXXXX)  # short: it holds the munge socket
cleanup() {
  bash "$repo/tests/slurm/cluster.sh" stop "$cluster" || true
  rm -rf "$WORK" "$cluster"
}
trap cleanup EXIT
eval "$(bash "$repo/tests/slurm/cluster.sh" start "$cluster")"

# A job's end state: COMPLETED, FAILED, ... once it has left the queue, with its restart count.
job_field() { scontrol show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
wait_for_end() {
  local job=$1 state
  for _ in $(seq 300); do
    state=$(job_field "$job" JobState)
    case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) echo "$state"; return ;; esac
    sleep 0.5
  done
  echo "STUCK:$state"
}
show_logs() { for f in "$WORK"/*.out; do echo "--- $f"; cat "$f"; done; }

export TRAINER_BIN=$TRAINER EPOCHS=3
export TRAINER_ARGS="--limit-train 6000 --limit-test 300 --batch-size 16 --progress-seconds 0.2 --keep-last 0 --seed 5"
sbatch_args=(--parsable --ntasks-per-node=2 --gpus-per-node=0 --cpus-per-task=1)

# 1. Uninterrupted.
job=$(CKPT_DIR=$WORK/straight sbatch "${sbatch_args[@]}" -o "$WORK/straight.out" "$repo/slurm/train.sbatch")
state=$(wait_for_end "$job")
[ "$state" = COMPLETED ] || { show_logs; fail "job $job ended $state"; }
[ "$(job_field "$job" Restarts)" = 0 ] || fail "a finished job was requeued"
grep -q "trainer exited with status 0" "$WORK/straight.out" || { show_logs; fail "no clean exit in the job log"; }
[ "$(cat "$WORK/straight/LATEST")" = epoch-0003 ] || fail "LATEST of the finished run is $(cat "$WORK/straight/LATEST")"

# preempt NAME [ENV...]: submits the run, sends USR1 to the batch shell mid-epoch 1, waits for the end.
preempt() {
  local name=$1
  shift
  local job
  job=$(env CKPT_DIR="$WORK/$name" "$@" sbatch "${sbatch_args[@]}" -o "$WORK/$name.out" "$repo/slurm/train.sbatch")
  for _ in $(seq 300); do
    grep -q "^epoch 1/3 step" "$WORK/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  scancel --signal=USR1 --batch "$job"
  state=$(wait_for_end "$job")
  [ "$state" = COMPLETED ] || { show_logs; fail "$name: job $job ended $state"; }
  [ "$(job_field "$job" Restarts)" = 1 ] || { show_logs; fail "$name: job $job restarted $(job_field "$job" Restarts) times, expected 1"; }
  local log=$WORK/$name.out
  grep -q "SIGUSR1 received" "$log" || fail "$name: the batch script did not see SIGUSR1"
  grep -q "trainer exited with status 75" "$log" || { show_logs; fail "$name: the trainer did not stop with status 75"; }
  grep -q "requeueing job $job to continue from epoch-0000-step-" "$log" || { show_logs; fail "$name: no requeue from a mid-epoch checkpoint"; }
  grep -q "resumed from $WORK/$name/epoch-0000-step-" "$log" || { show_logs; fail "$name: the requeued job did not resume"; }
  grep -q "trainer exited with status 0" "$log" || fail "$name: the requeued job did not finish"
  $tools same "$WORK/straight/epoch-0003" "$WORK/$name/epoch-0003" || fail "$name: the preempted run differs from the straight one"
}

# 2. Preempted under srun; the default lead (300 s) is ample, so no warning.
preempt preempted
grep -q "warning: stopping on a signal" "$WORK/preempted.out" && fail "a save warning with a 300 s lead"

# 3. Preempted under mpirun, with a lead no save fits in.
preempt preempted-mpirun LAUNCHER=mpirun SIGNAL_LEAD=0.000001
grep -q "mpirun --bind-to none" "$WORK/preempted-mpirun.out" || fail "LAUNCHER=mpirun did not use mpirun"
grep -q "warning: stopping on a signal would take about .* more than the 1e-06 s signal lead" \
  "$WORK/preempted-mpirun.out" || { show_logs; fail "no warning about the short signal lead"; }

# 4. Evaluation of the preempted run's newest checkpoint, one process, no MPI.
job=$(CKPT_DIR=$WORK/preempted TRAINER_ARGS="--limit-test 300" sbatch --parsable --gpus-per-node=0 \
  --cpus-per-task=1 -o "$WORK/eval.out" "$repo/slurm/eval.sbatch")
state=$(wait_for_end "$job")
[ "$state" = COMPLETED ] || { show_logs; fail "eval job $job ended $state"; }
grep -q "evaluating $WORK/preempted/epoch-0003" "$WORK/eval.out" || { show_logs; fail "eval did not pick LATEST"; }
grep -q "^test: 300 samples, loss .*, accuracy " "$WORK/eval.out" || { show_logs; fail "no test accuracy in the eval log"; }
grep -q "^confusion matrix" "$WORK/eval.out" || fail "no confusion matrix in the eval log"

# Bad settings fail the job with a clear line, before any training.
job=$(CKPT_DIR=$WORK/missing sbatch --parsable --gpus-per-node=0 --cpus-per-task=1 -o "$WORK/eval-missing.out" "$repo/slurm/eval.sbatch")
state=$(wait_for_end "$job")
[ "$state" = FAILED ] || fail "eval of a missing run ended $state"
grep -q "no checkpoint to evaluate: $WORK/missing/LATEST does not exist" "$WORK/eval-missing.out" || fail "no clear line for a missing run"
echo "slurm: train, preempt+requeue (srun and mpirun), eval all passed"
