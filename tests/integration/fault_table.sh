#!/bin/bash
# The bad-input table: every kind of bad file next to a run's real checkpoints (a checkpoint of
# another model or shape, truncated and foreign files, unreadable directories, a full disk) must
# give exit status 2 and one line naming the problem, and leave the existing checkpoints exactly as
# they were (names and bytes). Command-line errors are in bad_input.sh; this table is about files.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
small=(--limit-train 640 --limit-test 100 --progress-seconds 0)
fmnist=/usr/share/datasets/fashion-mnist

"$TRAINER" "${small[@]}" --epochs 2 --checkpoint-dir ck --save-weights weights.h5 >/dev/null
# Names and bytes of everything in a directory, but the lock file, whose note (the holder's pid)
# each training job rewrites.
fingerprint() {
  (cd "$1" && find . -type f ! -name .trainer.lock -print0 | sort -z | xargs -0 sha256sum; find . ! -name .trainer.lock | sort) |
    sha256sum
}
pristine=$(fingerprint ck)

# Bad files, each made once.
cp -r ck truncated && truncate -s 5000 truncated/epoch-0002/shard-00000-of-00001.h5
cp -r ck foreign && cp weights.h5 foreign/epoch-0002/index.h5
cp ck/epoch-0002/shard-00000-of-00001.h5 lone-shard.h5
echo "plain text" >notes.txt
mkdir fmnist-truncated && cp "$fmnist"/*.gz fmnist-truncated/
head -c 100000 "$fmnist/train-images-idx3-ubyte.gz" >fmnist-truncated/train-images-idx3-ubyte.gz
# Unreadable for an unprivileged user (root reads everything): these rows run as nobody.
mkdir fmnist-unreadable && cp "$fmnist"/*.gz fmnist-unreadable/ && chmod 000 fmnist-unreadable
cp -r ck ck-unreadable && chmod 000 ck-unreadable
chmod 711 "$WORK"
as_nobody=""
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
  as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi

# expected text | arguments (split on spaces; no path here has one)
table=(
  "was written for model lenet, this run trains resnet18|--model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 64 --limit-test 8 --epochs 3 --checkpoint-dir ck"
  "checkpoint ck/epoch-0002 has 10 classes, this run's model has 3|${small[*]} --classes 0,1,2 --epochs 3 --checkpoint-dir ck"
  "checkpoint ck/epoch-0002 holds sgd state, this run uses --optimizer adam|${small[*]} --optimizer adam --epochs 3 --checkpoint-dir ck"
  "does not fit the model: shape mismatch features.0.weight ([6, 1, 5, 5] in the file, [6, 3, 5, 5] in the model)|eval --checkpoint ck --dataset synthetic --synthetic-shape 3,32,32 --synthetic-test-size 8"
  "shard shard-00000-of-00001.h5 has 5000 bytes, the index records|${small[*]} --epochs 3 --resume truncated/epoch-0002 --checkpoint-dir ck"
  "foreign/epoch-0002/index.h5: not a trainer checkpoint|eval --checkpoint foreign/epoch-0002 --limit-test 10"
  "notes.txt: neither a checkpoint directory nor a torch.save file|${small[*]} --init-from notes.txt --checkpoint-dir ck --epochs 3"
  "absent.pt: no such file or directory|${small[*]} --init-from absent.pt --checkpoint-dir ck --epochs 3"
  "weights.h5: has no /images dataset|--dataset hdf5 --data weights.h5 --checkpoint-dir ck --epochs 3"
  "train-images-idx3-ubyte.gz|--data-dir fmnist-truncated --checkpoint-dir ck --epochs 3"
  "/nonexistent/dir/x.pt: cannot write|export ck --to /nonexistent/dir/x.pt"
  "inspect: name a checkpoint|inspect"
  "lone-shard.h5: an HDF5 file that is not a --save-weights file|inspect lone-shard.h5"
)
if [ -n "$as_nobody" ]; then
  table+=(
    "nobody|fmnist-unreadable/train-images-idx3-ubyte.gz: cannot access: Permission denied|${small[*]} --data-dir $WORK/fmnist-unreadable --checkpoint-dir none"
    "nobody|$WORK/ck-unreadable: cannot list: Permission denied|${small[*]} --checkpoint-dir $WORK/ck-unreadable --epochs 3"
    "nobody|$WORK/ck-unreadable/index.h5: cannot access: Permission denied|eval --checkpoint $WORK/ck-unreadable"
  )
fi

rows=0
for row in "${table[@]}"; do
  runner=()
  if [[ "$row" == nobody\|* ]]; then
    runner=($as_nobody)
    row=${row#nobody|}
  fi
  expected=${row%%|*}
  read -ra args <<<"${row#*|}"
  status=0
  "${runner[@]}" "$TRAINER" "${args[@]}" >out 2>err || status=$?
  [ "$status" -eq 2 ] || fail "trainer ${args[*]} exited $status, expected 2: $(cat err)"
  [ "$(wc -l <err)" -eq 1 ] || fail "trainer ${args[*]} printed more than one line: $(cat err)"
  grep -qF -- "$expected" err || fail "trainer ${args[*]}: '$(cat err)' does not say '$expected'"
  [ "$(fingerprint ck)" = "$pristine" ] || fail "trainer ${args[*]} changed the checkpoints in ck"
  rows=$((rows + 1))
done
echo "$rows rows of the table: exit 2, one line each, checkpoints untouched"

# A full disk during a save (a 1 MiB tmpfs that holds one LeNet checkpoint, not two): the save
# fails with the system's reason, its partial files are removed, the previous checkpoint stays
# LATEST and verifies. Single process and mpirun -np 2.
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the disk-full rows need root to mount a tmpfs (the table above passed)"
  exit 77
fi
mkdir full
mount -t tmpfs -o size=1m tmpfs full
trap '[ "$BASHPID" != "$TEST_SHELL" ] || { umount "$WORK/full" 2>/dev/null; rm -rf "$WORK"; }' EXIT  # common.sh
for launcher in single mpirun; do
  rm -rf full/*
  cp -r ck/epoch-0002 full/ && echo epoch-0002 >full/LATEST
  before=$(fingerprint full)
  status=0
  if [ $launcher = single ]; then
    "$TRAINER" "${small[@]}" --epochs 4 --checkpoint-dir full --keep-last 0 >out 2>err || status=$?
  else
    run_mpi 2 "$TRAINER" "${small[@]}" --epochs 4 --checkpoint-dir full --keep-last 0 >out 2>err || status=$?
  fi
  [ "$status" -eq 2 ] || fail "$launcher: a full disk exited $status, expected 2: $(cat err)"
  [ "$(grep -c '^trainer: error:' err)" -eq 1 ] || fail "$launcher: expected one error line: $(cat err)"
  grep -q "^trainer: error: .*full/epoch-0003.tmp/shard-0000[01]-of-0000[12].h5:.*No space left on device" err ||
    fail "$launcher: the error does not name the file and the reason: $(cat err)"
  [ "$(fingerprint full)" = "$before" ] || fail "$launcher: the failed save left files or changed the previous checkpoint: $(ls -R full)"
  "$TRAINER" inspect full --verify >/dev/null || fail "$launcher: the previous checkpoint does not verify"
  echo "$launcher: disk full during a save: exit 2, '$(grep '^trainer: error:' err | sed 's/.*: //')', previous checkpoint intact"
done
