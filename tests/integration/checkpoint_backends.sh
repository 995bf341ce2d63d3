#!/bin/bash
# --checkpoint-backend on real mpirun ranks and Fashion-MNIST: staged:DIR writes each rank's shard
# under DIR and copies it into the checkpoint root before the commit. The checkpoints are those of
# the posix backend, bit for bit, with synchronous and background saves; a run killed with -9 (its
# staged files left behind) resumes bit-identically and clears its leftovers, and nothing of a
# user's in the staging directory is touched; bad specifications are one line and exit status 2.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools=("$PYTHON" "$(dirname "$0")/checkpoint_tools.py")
run=(--limit-train 960 --limit-test 64 --batch-size 16 --progress-seconds 0 --seed 5 --epochs 2)

train() { train_into "$1" 2 "${run[@]}" "${@:2}"; }

# One directory per checkpoint root under the staging directory (COUNT of them), each empty.
nothing_staged() {
  local roots
  roots=$(find stage -mindepth 1 -maxdepth 1 -name 'trainer-*' | wc -l)
  [ "$roots" = "$1" ] || fail "expected $1 trainer-* directories in stage/: $(ls -la stage)"
  [ -z "$(find stage/trainer-* -mindepth 1)" ] || fail "files left staged: $(find stage/trainer-* -mindepth 1)"
  [ "$(cat stage/notes.txt)" = "a user's file" ] || fail "the user's file in the staging directory changed"
}

mkdir stage && echo "a user's file" >stage/notes.txt
train posix --checkpoint-every-steps 10
train staged --checkpoint-every-steps 10 --checkpoint-backend "staged:$WORK/stage"
train staged-async --checkpoint-every-steps 10 --checkpoint-backend staged:stage --checkpoint-async on
for name in staged staged-async; do
  for checkpoint in epoch-0001-step-00000020 epoch-0002; do
    "${tools[@]}" same "posix/$checkpoint" "$name/$checkpoint" || fail "$name/$checkpoint differs from the posix backend's"
  done
done
nothing_staged 2

# kill -9 mid-epoch: the staged files of the save in flight stay behind; the resumed run clears
# them and ends where the run that never stopped ended.
before=$(ls -d stage/trainer-*)
kill_after_checkpoint killed epoch-0001-step-00000010 2 "$TRAINER" "${run[@]}" --checkpoint-dir killed \
  --checkpoint-backend staged:stage --checkpoint-every-steps 1
# The killed job's own directory: the one that is new. A save in flight leaves files there; one
# for sure.
killed_stage=$(comm -13 <(echo "$before") <(ls -d stage/trainer-*))
[ "$(echo "$killed_stage" | wc -l)" = 1 ] || fail "which staging directory is the killed job's? $killed_stage"
mkdir -p "$killed_stage/epoch-0009.tmp" && touch "$killed_stage/epoch-0009.tmp/shard-00001-of-00002.h5"
mkdir -p stage/trainer-leftover-of-another-root && touch stage/trainer-leftover-of-another-root/shard.h5
train killed --checkpoint-backend staged:stage --checkpoint-every-steps 1
grep -q "resumed from killed/epoch-0001-step-" killed.log || fail "no mid-epoch resume: $(head -5 killed.log)"
"${tools[@]}" same posix/epoch-0002 killed/epoch-0002 || fail "killed and resumed with staging: not bit-identical"
[ -f stage/trainer-leftover-of-another-root/shard.h5 ] || fail "another root's staged files were removed"
rm -r stage/trainer-leftover-of-another-root
nothing_staged 3

expect_bad_input "--checkpoint-backend s3: unknown backend 's3' (posix: " --checkpoint-backend s3 --epochs 1
expect_bad_input "--checkpoint-backend staged: staged needs an argument" --checkpoint-backend staged --epochs 1
expect_bad_input "lies inside the checkpoint root" --checkpoint-dir ck --checkpoint-backend staged:ck/stage \
  --limit-train 64 --limit-test 64 --epochs 1
[ ! -e ck/stage ] || fail "a refused staging directory was created"
echo "checkpoint backends: ok"
