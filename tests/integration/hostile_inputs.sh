#!/bin/bash
# What a careless or hostile user hands the trainer: options that overflow, files that lie about
# their sizes, FIFOs, link cycles, links out of the checkpoint, symlinks where temporaries go,
# damaged progress, nan data. Each row must end with the documented status (2 for bad input, one
# line naming the problem), in seconds (no hang), at a bounded peak memory, and with the checkpoint
# directory and every file outside it exactly as they were (names and bytes).
source "$(dirname "$0")/common.sh"
craft="$PYTHON $(dirname "$0")/craft.py"
small=(--limit-train 640 --limit-test 100 --progress-seconds 0 --batch-size 64)

# Names and bytes of everything in a directory, but the lock file, whose note (the holder's pid)
# each training job rewrites.
fingerprint() {
  (cd "$1" && find . -type f ! -name .trainer.lock -print0 | sort -z | xargs -0 sha256sum; find . ! -name .trainer.lock | sort) |
    sha256sum
}
# peak_kb COMMAND...: runs it, prints its peak resident memory in KiB (its exit status in $WORK/status).
peak_kb() {
  "$PYTHON" -c '
import resource, subprocess, sys
status = subprocess.run(sys.argv[1:], stdout=open("out", "w"), stderr=open("err", "w")).returncode
open("status", "w").write(str(status))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

"$TRAINER" "${small[@]}" --epochs 2 --checkpoint-dir ck --save-weights weights.h5 --keep-last 0 >/dev/null
echo "outside: a file that must never change" >outside.txt
pristine=$(fingerprint ck)
outside=$(sha256sum outside.txt weights.h5)
# What reading legitimate files takes, for the readers and for a training run.
reading=$(peak_kb "$TRAINER" eval --checkpoint ck --limit-test 100)
[ "$(cat status)" = 0 ] || fail "the baseline eval failed: $(cat err)"
training=$(peak_kb "$TRAINER" "${small[@]}" --epochs 3 --checkpoint-dir none --resume ck)
[ "$(cat status)" = 0 ] || fail "the baseline training failed: $(cat err)"
echo "peak memory of legitimate runs: eval $reading KiB, training $training KiB"

rows=0 worst=0
# row STATUS EXPECTED_TEXT ARGS...: exit STATUS within 60 s, one stderr line holding the text (for
# status 2 and 1), nothing changed, and a peak memory within 64 MiB of a legitimate run of the same
# kind (eval, inspect, export: a plain eval; training: a plain resumed training run).
row() {
  local status=$1 expected=$2
  shift 2
  local peak
  peak=$(peak_kb timeout 60 "$TRAINER" "$@")
  local got
  got=$(cat status)
  [ "$got" != 124 ] || fail "trainer $*: still running after 60 s (a hang)"
  [ "$got" = "$status" ] || fail "trainer $*: exited $got, expected $status: $(cat err)"
  if [ "$status" != 0 ] && [ "$status" != 75 ]; then
    [ "$(wc -l <err)" -eq 1 ] || fail "trainer $*: not one line: $(cat err)"
  fi
  grep -qF -- "$expected" err out || fail "trainer $*: '$(cat err)' does not say '$expected'"
  [ "$(fingerprint ck)" = "$pristine" ] || fail "trainer $*: changed the checkpoints in ck"
  [ "$(sha256sum outside.txt weights.h5)" = "$outside" ] || fail "trainer $*: changed a file outside"
  local baseline=$training
  case $1 in eval | inspect | export) baseline=$reading ;; esac
  [ "$peak" -lt $((baseline + 65536)) ] || fail "trainer $*: peak memory $peak KiB, a legitimate run takes $baseline"
  [ $((peak - baseline)) -le "$worst" ] || worst=$((peak - baseline))
  rows=$((rows + 1))
}

# Two scenarios, one ctest entry each (no argument: both): `table`, the rows; `around`, what a
# damaged checkpoint, a user's files, early signals and concurrent readers meet.
table() {
# --- options that overflow or make no sense ---
row 2 "--keep-last 4294967297: must be between 0 and 1000000" "${small[@]}" --checkpoint-dir ck --keep-last 4294967297
row 2 "--batch-size 4611686018427387904: must be between" --batch-size 4611686018427387904 --accumulate-steps 4
row 2 "--accumulate-steps 65537: must be between 1 and 65536" --batch-size 16777216 --accumulate-steps 65537
row 2 "--comm-timeout must be a number of seconds" --comm-timeout 1e10
row 2 "--lr" --lr 1e300
row 2 "--weight-decay must be a finite number" --weight-decay inf
row 2 "--config $WORK/ck: not a regular file" --config "$WORK/ck"
row 2 "--metrics-file /dev/full: not a regular file" "${small[@]}" --epochs 1 --checkpoint-dir none \
  --metrics-file /dev/full

# --- files that would block: FIFOs everywhere a file is read ---
mkfifo fifo
row 2 "fifo: not a regular file" "${small[@]}" --checkpoint-dir none --dataset hdf5 --data fifo
row 2 "fifo" eval --checkpoint fifo
row 2 "fifo" inspect fifo
row 2 "fifo: not a regular file" "${small[@]}" --checkpoint-dir none --init-from fifo
cp -r ck fifo-latest && rm fifo-latest/LATEST && mkfifo fifo-latest/LATEST
row 2 "LATEST: not a regular file" inspect fifo-latest
cp -r ck fifo-index && rm fifo-index/epoch-0002/index.h5 && mkfifo fifo-index/epoch-0002/index.h5
row 2 "index.h5: not a regular file" eval --checkpoint fifo-index --limit-test 10
cp -r ck fifo-shard && rm fifo-shard/epoch-0002/shard-00000-of-00001.h5 && mkfifo fifo-shard/epoch-0002/shard-00000-of-00001.h5
row 2 "shard-00000-of-00001.h5" inspect fifo-shard --verify
mkdir fmnist-fifo && cp /usr/share/datasets/fashion-mnist/*.gz fmnist-fifo/ && rm fmnist-fifo/train-labels-idx1-ubyte.gz &&
  mkfifo fmnist-fifo/train-labels-idx1-ubyte.gz
row 2 "train-labels-idx1-ubyte.gz: not a regular file" "${small[@]}" --checkpoint-dir none --data-dir fmnist-fifo

# --- files that lie about their sizes: refused before the memory is taken ---
$craft pt-expanded expanded.pt
row 2 "repeats elements" eval --checkpoint expanded.pt --limit-test 10
$craft pt-wrapping wrapping.pt
row 2 "wrapping.pt: tensor size or stride out of range" eval --checkpoint wrapping.pt --limit-test 10
$craft pt-with-junk junk.pt 256  # refused by name before its 256 MB are read
row 2 "does not fit the model: unexpected junk" eval --checkpoint junk.pt --limit-test 100
$craft h5-bomb bomb.h5
row 2 "bomb.h5:/images: announces 26214400000 bytes but stores" "${small[@]}" --checkpoint-dir none --dataset hdf5 --data bomb.h5
cp -r ck huge && $craft replace-tensor huge/epoch-0002 /model/classifier.0.weight huge
row 2 "shape mismatch classifier.0.weight" "${small[@]}" --epochs 3 --checkpoint-dir none --resume huge/epoch-0002
row 2 "more than its shard holds" inspect huge --verify

# --- checkpoints that lie about their structure ---
cp -r ck cycle && $craft cycle cycle/epoch-0002
row 2 "nests groups deeper than any checkpoint" inspect cycle
cp -r ck outside-link && $craft link-outside outside-link/epoch-0002 "$WORK/weights.h5"
row 2 "which is not the same tensor in a shard of this checkpoint" export outside-link --to out.pt
cp -r ck outside-shard && $craft set-attr outside-shard/epoch-0002 / shard_files "'../../weights.h5'"
row 2 "is not shard-NNNNN-of-NNNNN.h5" eval --checkpoint outside-shard --limit-test 10
cp -r ck sizes && $craft set-attr sizes/epoch-0002 / shard_sizes "'lots'"
row 2 "shard_sizes: 'lots' is not a byte count" "${small[@]}" --epochs 3 --checkpoint-dir none --resume sizes/epoch-0002
cp -r ck negative && $craft set-attr negative/epoch-0002 /epoch completed_epochs -2
row 2 "completed_epochs: -2 is not a possible count" "${small[@]}" --epochs 3 --checkpoint-dir none --resume negative/epoch-0002
cp -r ck minimum && $craft set-attr minimum/epoch-0002 /epoch completed_epochs -9223372036854775808
row 2 "is not a possible count" "${small[@]}" --epochs 3 --checkpoint-dir none --resume minimum/epoch-0002
cp -r ck opt-int && $craft replace-tensor opt-int/epoch-0002 /optimizer/state/features.0.weight/momentum_buffer int64
row 2 "optimizer state momentum_buffer is Long" "${small[@]}" --epochs 3 --checkpoint-dir none --resume opt-int/epoch-0002
cp -r ck opt-shape && $craft replace-tensor opt-shape/epoch-0002 /optimizer/state/features.0.weight/momentum_buffer shape
row 2 "has shape [3, 3], the parameter [6, 1, 5, 5]" "${small[@]}" --epochs 3 --checkpoint-dir none --resume opt-shape/epoch-0002
cp -r ck rng && $craft replace-tensor rng/epoch-0002 /epoch/rng_state shape
row 2 "is not a CPU generator state of this LibTorch" "${small[@]}" --epochs 3 --checkpoint-dir none --resume rng/epoch-0002
printf 'epoch-0002%.0s' $(seq 1000000) >big-latest && cp -r ck long-latest && cp big-latest long-latest/LATEST
row 2 "LATEST: longer than the 256 bytes expected" inspect long-latest
# Names with a newline or an escape sequence reach the terminal escaped.
row 2 'name\nwith\x1b[31mcolour.pt: no such file or directory' eval --checkpoint $'name\nwith\e[31mcolour.pt'

# --- data that would train to nan, or make no sense ---
$craft h5-values nan.h5 nan
row 2 "nan.h5:/images: sample 17 holds NaN or infinite values" "${small[@]}" --checkpoint-dir none --dataset hdf5 --data nan.h5
$craft h5-values label.h5 label
row 2 "the training labels go up to 1000000" "${small[@]}" --checkpoint-dir none --dataset hdf5 --data label.h5
$craft h5-values clean.h5 clean
row 2 "--classes: class 5 has no samples" "${small[@]}" --checkpoint-dir none --dataset hdf5 --data clean.h5 --classes 0,5
$craft h5-values huge.h5 huge
row 1 "training diverged: the loss is nan at global step" --checkpoint-dir diverged --dataset hdf5 --data huge.h5 \
  --epochs 2 --batch-size 8 --progress-seconds 0
[ ! -e diverged/LATEST ] || fail "a diverged run wrote a checkpoint"

# --- options that contradict the checkpoint ---
row 2 "eval --model resnet18: $WORK/ck/epoch-0002 holds a lenet model" eval --checkpoint "$WORK/ck" --model resnet18 \
  --dataset synthetic --synthetic-shape 1,32,32 --synthetic-test-size 8
mid=(--limit-test 100 --progress-seconds 0 --batch-size 64 --epochs 1 --checkpoint-dir mid)
"$TRAINER" "${mid[@]}" --limit-train 320 --checkpoint-every-steps 2 --keep-last 0 >/dev/null
rm -rf mid/epoch-0001 && echo epoch-0000-step-00000004 >mid/LATEST
row 2 "stopped inside an epoch of 320 training samples, this run has 128" "${mid[@]}" --limit-train 128
# The file to evaluate is the one obvious option: --data alone is it.
row 0 "test: 64 samples" eval --checkpoint "$WORK/ck" --dataset hdf5 --data clean.h5

echo "$rows rows: the documented status, one line, nothing touched; peak memory at most $worst KiB above a legitimate run's"
}

around() {
# --- what --resume auto does with a damaged checkpoint: it says so and takes the previous one ---
cp -r ck fallback && $craft set-attr fallback/epoch-0002 / shard_sizes "'lots'"
"$TRAINER" "${small[@]}" --epochs 3 --checkpoint-dir fallback >fallback.log 2>&1 || fail "no fallback: $(cat fallback.log)"
grep -q "warning: checkpoint fallback/epoch-0002 is unusable (.*shard_sizes: 'lots' is not a byte count)" fallback.log &&
  grep -q "resumed from fallback/epoch-0001" fallback.log || fail "no fallback past shard_sizes 'lots': $(cat fallback.log)"
# inspect --verify says how many tensors a checksum covered (scalars have none).
"$TRAINER" inspect ck --verify >verify.out
grep -q "^verify: 21 tensors read, 21 of them through their Fletcher-32 checksums: OK$" verify.out ||
  fail "inspect --verify: $(tail -1 verify.out)"

# --- neighbours: only the trainer's own names are ever created, removed or followed ---
cp -r ck neighbours
mkdir neighbours/best-model neighbours/Z-pretrained neighbours/experiment-notes.tmp
echo mine >neighbours/best-model/notes.txt && echo mine >neighbours/experiment-notes.tmp/notes.txt
cp -r ck/epoch-0002 neighbours/Z-pretrained/
ln -s "$WORK/outside.txt" neighbours/LATEST.tmp  # a symlink where a temporary once went
mkdir neighbours/epoch-0001.tmp                  # a leftover of an interrupted save: ours
ln -s "$WORK/outside.txt" w.h5.tmp
ln -s "$WORK/outside.txt" x.pt.tmp
users=$( (cd neighbours && find best-model Z-pretrained experiment-notes.tmp -type f -print0 | sort -z | xargs -0 sha256sum))
"$TRAINER" "${small[@]}" --epochs 4 --checkpoint-dir neighbours --keep-last 1 --save-weights w.h5 >neighbours.log ||
  fail "training next to a user's files: $(cat neighbours.log)"
"$TRAINER" export neighbours --to x.pt >/dev/null || fail "export next to a symlinked temporary"
[ "$(sha256sum outside.txt weights.h5)" = "$outside" ] || fail "a symlinked temporary was followed"
[ "$( (cd neighbours && find best-model Z-pretrained experiment-notes.tmp -type f -print0 | sort -z | xargs -0 sha256sum))" = "$users" ] ||
  fail "retention or clean-up touched a user's directory: $(ls neighbours)"
[ "$(cat neighbours/LATEST)" = epoch-0004 ] && [ ! -L neighbours/LATEST ] || fail "LATEST: $(ls -l neighbours)"
[ ! -e neighbours/epoch-0001.tmp ] && [ ! -e neighbours/epoch-0002 ] || fail "ours not cleaned: $(ls neighbours)"
[ -f w.h5 ] && [ -f x.pt ] || fail "--save-weights or export did not write"
echo "neighbours: a user's directories kept, symlinked temporaries not followed, our leftovers removed"

# --- signals: from main()'s first instruction, and Ctrl-C and a closed terminal like TERM ---
# held() PID: whether the process holds back (blocks) SIGTERM, SIGINT and SIGHUP.
held() {
  local mask
  mask=$(awk '/^SigBlk:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$mask" ] && (((0x$mask & 0x4003) == 0x4003))
}
for signal in TERM USR1 INT HUP; do
  status=0
  "$TRAINER" "${small[@]}" --epochs 2 --checkpoint-dir "early-$signal" >"early-$signal.log" 2>&1 &
  job=$!
  # The first moment main() runs: MPI, LibTorch and the data are still to start, no handler exists.
  until held "$job"; do sleep 0.001; done
  kill -"$signal" "$job"
  wait "$job" || status=$?
  [ "$status" -eq 75 ] || fail "SIG$signal at start-up: exit $status, expected 75: $(cat "early-$signal.log")"
  [ -e "early-$signal/LATEST" ] || fail "SIG$signal at start-up: no checkpoint"
done
echo "signals: TERM, USR1, INT and HUP at start-up each end in a checkpoint and status 75"

# --- readers beside a job that is removing checkpoints (--keep-last 1, a save every step) ---
"$TRAINER" --limit-train 4000 --limit-test 100 --progress-seconds 0 --epochs 5 --batch-size 16 --checkpoint-dir racing \
  --checkpoint-every-steps 1 --keep-last 1 >racing.log 2>&1 &
job=$!
while [ ! -e racing/LATEST ] && kill -0 "$job" 2>/dev/null; do sleep 0.05; done
reads=0
while kill -0 "$job" 2>/dev/null && [ "$reads" -lt 20 ]; do
  "$TRAINER" inspect racing --verify >inspect.out 2>&1 || fail "inspect racing retention: $(cat inspect.out)"
  "$TRAINER" eval --checkpoint racing --limit-test 50 >eval.out 2>&1 || fail "eval racing retention: $(cat eval.out)"
  reads=$((reads + 1))
done
wait "$job" || fail "the racing job failed: $(tail -3 racing.log)"
[ "$reads" -ge 5 ] || fail "only $reads reads while the job ran"
echo "readers: $reads inspect --verify and eval while retention removed checkpoints under them, all fine"
}

run_scenarios table around -- "$@"
