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
row 2 "--lr 1e+300: more than 1000 is not a learning rate" --lr 1e300
row 2 "--checkpoint-dir is empty" "${small[@]}" --checkpoint-dir ""
row 2 "--batch-size 64 with --image-size 8192: a batch of 51.5 GB of float images" --dataset image-folder \
  --data-dir "$WORK" --image-size 8192 --batch-size 64
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

row 2 "--timeline fifo: not a regular file" "${small[@]}" --epochs 1 --checkpoint-dir none --timeline fifo

# --- outputs that would overwrite a committed checkpoint: refused, whatever the checkpoint option ---
row 2 "--timeline ck/LATEST: lies inside the checkpoint directory $WORK/ck," "${small[@]}" --epochs 1 --checkpoint-dir none \
  --timeline ck/LATEST
row 2 "--save-weights ck/epoch-0002/index.h5: lies inside the checkpoint directory" "${small[@]}" --epochs 3 \
  --checkpoint-dir ck --save-weights ck/epoch-0002/index.h5
row 2 "--metrics-file ck/epoch-0002/shard-00000-of-00001.h5: lies inside" "${small[@]}" --epochs 1 --checkpoint-dir none \
  --metrics-file ck/epoch-0002/shard-00000-of-00001.h5
row 2 "--tensorboard ck/tb: lies inside the checkpoint directory" "${small[@]}" --epochs 1 --checkpoint-dir none --tensorboard ck/tb
ln -s ck/LATEST latest-link
row 2 "--timeline latest-link: lies inside the checkpoint directory" "${small[@]}" --epochs 1 --checkpoint-dir none \
  --timeline latest-link
row 2 "--to ck/LATEST: lies inside the checkpoint directory" export ck --to ck/LATEST
row 2 "--predictions-out ck/epoch-0002/p.h5: lies inside" eval --checkpoint ck --limit-test 10 --predictions-out ck/epoch-0002/p.h5

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
# One flipped bit in the metadata (here completed_epochs, 2 -> 3) is found, not resumed from.
cp -r ck flipped && $craft flip-attr flipped/epoch-0002 /epoch completed_epochs
row 2 "index.h5: its metadata (attributes and links) does not match the checksum" inspect flipped --verify
row 2 "does not match the checksum written with it" "${small[@]}" --epochs 3 --checkpoint-dir none --resume flipped/epoch-0002
cp -r ck world && $craft set-attr world/epoch-0002 / world_size -1
row 2 "world_size -1 does not match its 1 shard file(s)" inspect world
cp -r ck version && $craft set-attr version/epoch-0002 / format_version -1
row 2 "format_version -1 is not a version" eval --checkpoint version --limit-test 10
printf 'epoch-0002%.0s' $(seq 1000000) >big-latest && cp -r ck long-latest && cp big-latest long-latest/LATEST
row 2 "LATEST: longer than the 256 bytes expected" inspect long-latest
# Names with a newline or an escape sequence reach the terminal escaped.
row 2 'name\nwith\x1b[31mcolour.pt: no such file or directory' eval --checkpoint $'name\nwith\e[31mcolour.pt'

# --- Python checkpoints whose fields are not what they must be ---
"$TRAINER" export ck --to exported.pt --with-optimizer >/dev/null
for kind in epoch-float epoch-nan epoch-str epoch-bool; do
  $craft pt-resume exported.pt "$kind.pt" "$kind"
  row 2 "$kind.pt: 'epoch' is a $(case $kind in epoch-str) echo str ;; epoch-bool) echo bool ;; *) echo float ;; esac)," \
    "${small[@]}" --epochs 3 --checkpoint-dir none --resume "$kind.pt"
done
$craft pt-resume exported.pt lr-nan.pt lr-nan
row 2 "lr-nan.pt: parameter group 0 has lr nan, not a finite number" "${small[@]}" --epochs 3 --checkpoint-dir none --resume lr-nan.pt
$craft pt-resume exported.pt lr-str.pt lr-str
row 2 "lr-str.pt: parameter group 0 has lr '0.1' (a string), not a finite number" "${small[@]}" --epochs 3 --checkpoint-dir none \
  --resume lr-str.pt
$craft pt-resume exported.pt nan-weight.pt nan-weight
row 2 "nan-weight.pt: tensor features.0.weight holds NaN or infinite values" "${small[@]}" --checkpoint-dir none \
  --init-from nan-weight.pt

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
"$TRAINER" "${small[@]}" --epochs 3 --checkpoint-dir fallback >fallback.log 2>fallback.err ||
  fail "no fallback: $(cat fallback.err)"
# ... saying so on standard error, not in the log
grep -q "^trainer: warning: checkpoint fallback/epoch-0002 is unusable (.*shard_sizes: 'lots' is not a byte count)" fallback.err &&
  grep -q "resumed from fallback/epoch-0001" fallback.log || fail "no fallback past shard_sizes 'lots': $(cat fallback.err fallback.log)"
! grep -q "warning" fallback.log || fail "a warning went to standard output: $(cat fallback.log)"
# ... and past a LATEST that names nothing
cp -r ck bad-latest && printf 'epoch-00\x01\n' >bad-latest/LATEST
"$TRAINER" "${small[@]}" --epochs 3 --checkpoint-dir bad-latest >bad-latest.log 2>bad-latest.err ||
  fail "a damaged LATEST stopped --resume auto: $(cat bad-latest.err)"
grep -q "^trainer: warning: bad-latest/LATEST: does not name a checkpoint" bad-latest.err &&
  grep -q "resumed from bad-latest/epoch-0002" bad-latest.log || fail "no fallback past LATEST: $(cat bad-latest.err bad-latest.log)"

# --- the lock: deleting .trainer.lock does not let a second job in; replacing the directory stops the first ---
long=(--limit-train 4000 --limit-test 100 --progress-seconds 0 --epochs 20 --batch-size 16 --checkpoint-dir locked
  --checkpoint-every-steps 1)  # saving all the time: the replacement lands mid-save
"$TRAINER" "${long[@]}" >locked.log 2>&1 &
job=$!
while [ ! -e locked/LATEST ] && kill -0 "$job" 2>/dev/null; do sleep 0.05; done
rm -f locked/.trainer.lock
status=0
"$TRAINER" "${long[@]}" >second.log 2>&1 || status=$?  # the same run: only the lock stands in its way
[ "$status" = 2 ] && grep -q "is in use by another training job" second.log ||
  fail "a second job after rm .trainer.lock: exit $status: $(cat second.log)"
mv locked locked-moved && mkdir locked && echo "another job's" >locked/notes.txt
status=0
wait "$job" || status=$?
[ "$status" = 2 ] && grep -q "was removed or replaced while this job ran" locked.log ||
  fail "the first job went on writing into a replaced directory: exit $status: $(tail -2 locked.log)"
[ "$(ls -A locked)" = notes.txt ] || fail "the first job wrote into the directory that replaced its own: $(ls -A locked)"
echo "lock: held on the directory (rm of its note changes nothing); a replaced directory is never written"

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

# Model and image files that lie, crash LibTorch's loader, or hold what training cannot take: each
# refused with status 2 and one line before the first step, at bounded memory.
files() {
for kind in half complex sparse train-mode batch2 short inflate-bomb truncated; do $craft torchscript "$kind.pt" "$kind"; done
$craft torchscript good.pt good
row 0 "run summary" "${small[@]}" --epochs 1 --checkpoint-dir none --model good.pt
row 2 "--model half.pt: parameter fc.weight is Half; trainer trains float32 parameters" "${small[@]}" --model half.pt
row 2 "--model complex.pt:complex/data.pkl: unknown storage type torch.ComplexFloatStorage" "${small[@]}" --model complex.pt
row 2 "--model sparse.pt: in training mode at batch 64, one step fails: parameter embedding.weight gets Sparse gradients" \
  "${small[@]}" --model sparse.pt
row 2 "--model train-mode.pt: in training mode at batch 64, one step fails: forward returns logits of [64, 5]" \
  "${small[@]}" --model train-mode.pt
row 2 "--model batch2.pt: in training mode at batch 64, one step fails: forward returns logits of [2, 10]" \
  "${small[@]}" --model batch2.pt
row 2 "--model short.pt: record short/data/2 holds 64 bytes, its storage declares 31360 x 4 = 125440" "${small[@]}" --model short.pt
row 2 "code/__torch__.py claims 314573" "${small[@]}" --model inflate-bomb.pt
row 2 "--model truncated.pt: not a TorchScript archive" "${small[@]}" --model truncated.pt

# Images: a folder of small PNGs, then one hostile file at a time, read by 2 workers.
"$PYTHON" - <<'PY'
import os
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for split in ("train", "val"):
    for label in "ab":
        os.makedirs(f"images/{split}/{label}", exist_ok=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(f"images/{split}/{label}/{i}.png")
PY
images=(--dataset image-folder --data-dir images --model lenet --image-size 32 --resize 36 --workers 2 --epochs 1
  --batch-size 4 --checkpoint-dir none --progress-seconds 0)
limit=$((1024 * 1024))  # KiB: 1 GiB, the issue's bound for any image file at --workers 2
image_row() {  # STATUS EXPECTED FILE KIND
  $craft image "images/train/a/$3" "$4"
  local peak
  peak=$(peak_kb timeout 60 "$TRAINER" "${images[@]}")
  [ "$(cat status)" = "$1" ] || fail "$3: exited $(cat status), expected $1: $(cat err)"
  grep -qF -- "$2" err out || fail "$3: '$(cat err)' does not say '$2'"
  [ "$1" = 0 ] || [ "$(wc -l <err)" -eq 1 ] || fail "$3: not one line: $(cat err)"
  [ "$peak" -le "$limit" ] || fail "$3: peak memory $peak KiB, more than 1 GiB"
  echo "$3: exit $1, peak memory $((peak / 1024)) MiB"
  rm "images/train/a/$3"
}
image_row 2 "bomb.png: an image of 16000x16000 pixels is beyond what is decoded (89478485 pixels at most)" bomb.png png-bomb
image_row 2 "header.png: a PNG of 9000x9000 pixels cannot fit in its 1033 bytes" header.png png-header
image_row 0 "run summary" large.jpg jpeg-large
ln -s .. images/train/a/loop
status=0
"$TRAINER" "${images[@]}" >out 2>err || status=$?
[ "$status" = 2 ] && [ "$(wc -l <err)" = 1 ] && grep -q "images/train/a/loop/a: a link back to images/train/a (a loop" err ||
  fail "a link loop in an image folder: exit $status: $(cat err)"
rm images/train/a/loop
echo "files: model files refused before the first step, image bombs within 1 GiB at --workers 2, link loops named"
}

# A stop signal in the first 2 seconds, every 50 ms: from the moment the process holds the signals
# (the executable's .preinit_array, before any library's constructor) it ends with status 75 and a
# checkpoint; before that moment (the dynamic loader mapping LibTorch) the signal's default action
# ends it (143), with nothing written. README states the window; here it must stay under 1 s.
startup() {
local first
LD_DEBUG=files "$TRAINER" --version >loader.log 2>&1 || fail "trainer --version: $(tail -1 loader.log)"
first=$(grep -m1 "calling" loader.log | sed 's/.*calling //')
[ "$first" = "preinit: $TRAINER" ] || fail "the first code to run is not the trainer's .preinit_array but $first"
local window=none step delay status stopped=0
# A SIGTERM that lands between the fork of "... &" and its exec hits a copy of this shell, which
# runs the EXIT trap (bash runs it on SIGTERM); common.sh's $BASHPID guard did not stop it removing
# $WORK under load (one CI run of three). No EXIT trap while the signals fly; it is set again after the loop.
trap - EXIT
for step in $(seq 0 40); do
  delay=$(awk -v s="$step" 'BEGIN { printf "%.2f", s * 0.05 }')
  "$TRAINER" --limit-train 4000 --limit-test 100 --progress-seconds 0 --batch-size 64 --epochs 20 \
    --checkpoint-dir "start-$step" >start.log 2>&1 &
  job=$!
  sleep "$delay"
  kill -TERM "$job"
  status=0
  wait "$job" || status=$?
  case $status in
    75) [ -e "start-$step/LATEST" ] || fail "SIGTERM at $delay s: status 75 without a checkpoint: $(cat start.log)"
        stopped=$((stopped + 1)) ;;
    143) [ ! -e "start-$step/LATEST" ] || fail "SIGTERM at $delay s: killed after writing a checkpoint"
         window=$delay ;;
    *) fail "SIGTERM at $delay s: exit $status: $(tail -3 start.log)" ;;
  esac
done
trap '[ "$BASHPID" != "$TEST_SHELL" ] || rm -rf "$WORK"' EXIT
# How long the window lasts is the loader's time, which a loaded machine stretches (a CI run beside
# a build saw 1 s): printed, not asserted; that the preinit section runs first is asserted above.
echo "startup: $stopped of 41 SIGTERMs in the first 2 s ended with status 75 and a checkpoint; the last one that killed the process came at ${window} s"
}

run_scenarios table around files startup -- "$@"
