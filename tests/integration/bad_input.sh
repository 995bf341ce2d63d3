#!/bin/bash
# The real executable on bad input: exit status 2 and one line naming the problem, for the command
# line, the configuration file and every kind of bad data file.
source "$(dirname "$0")/common.sh"

expect_bad_input "unrecognised option '--bogus'" --bogus
expect_bad_input "unknown sub-command 'frobnicate'" frobnicate
expect_bad_input "unexpected positional argument 'extra'" train extra
expect_bad_input "for option '--epochs' is invalid" --epochs many
expect_bad_input "--epochs must be at least 1" --epochs 0
expect_bad_input "--lr must be a positive number" --lr -1
expect_bad_input "--signal-lead must be a number of seconds, 0 or more" --signal-lead -5
expect_bad_input "--model vgg: unknown model" --model vgg
expect_bad_input "--device tpu" --device tpu --limit-train 10
[ -e /dev/nvidia0 ] || expect_bad_input "no GPU is visible" --device cuda --limit-train 10
expect_bad_input "--precision fp16 needs a CUDA device" --precision fp16 --device cpu --limit-train 10
expect_bad_input "expected fp32, bf16 or fp16" --precision fp8
expect_bad_input "info: takes no options" info --all
expect_bad_input "--config $WORK/absent.ini: cannot open" --config "$WORK/absent.ini"
printf 'epochs = 1\nwarp = 9\n' >"$WORK/bad.ini"
expect_bad_input "unrecognised option 'warp'" --config "$WORK/bad.ini"

# Data files.
expect_bad_input "--data-dir $WORK/nothing: no such directory" --data-dir "$WORK/nothing"
mkdir "$WORK/fmnist"
expect_bad_input "not found in $WORK/fmnist" --data-dir "$WORK/fmnist"
src=/usr/share/datasets/fashion-mnist
cp "$src"/*.gz "$WORK/fmnist/"
head -c 100000 "$src/train-images-idx3-ubyte.gz" >"$WORK/fmnist/train-images-idx3-ubyte.gz"
expect_bad_input "train-images-idx3-ubyte.gz" --data-dir "$WORK/fmnist"
cp "$src/train-images-idx3-ubyte.gz" "$WORK/fmnist/"
cp "$src/t10k-labels-idx1-ubyte.gz" "$WORK/fmnist/train-labels-idx1-ubyte.gz"
expect_bad_input "holds 60000 images but" --data-dir "$WORK/fmnist"
echo "not an idx file" | gzip >"$WORK/fmnist/train-labels-idx1-ubyte.gz"
expect_bad_input "bad magic number" --data-dir "$WORK/fmnist"

echo "plain text" >"$WORK/text.h5"
expect_bad_input "not an HDF5 file" --dataset hdf5 --data "$WORK/text.h5"
expect_bad_input "no such file" --dataset hdf5 --data "$WORK/absent.h5"
expect_bad_input "--classes: class 12 is not in the data set" --classes 3,12 --limit-train 10
expect_bad_input "lenet expects images of 1x32x32, got 1x28x28" --dataset synthetic \
  --synthetic-shape 1,28,28 --synthetic-size 8
# An output's missing folder is created; one that cannot be (a file is in the way) is named.
: >"$WORK/a-file"
expect_bad_input "--metrics-file $WORK/a-file/dir/m.jsonl: cannot create its folder" --limit-train 10 \
  --metrics-file "$WORK/a-file/dir/m.jsonl"

# --help and --version are not errors.
grep -q -- "--limit-train" <<<"$("$TRAINER" --help)" || fail "--help lacks --limit-train"
grep -q "usage: trainer" <<<"$("$TRAINER" train --help)" || fail "train --help lacks the usage line"
grep -q "^trainer [0-9]" <<<"$("$TRAINER" --version)" || fail "--version is malformed"
grep -q "usage: trainer inspect" <<<"$("$TRAINER" inspect --help)" || fail "inspect --help is missing"
expect_bad_input "inspect: name a checkpoint" inspect
expect_bad_input "$WORK/nothing: no checkpoint here" inspect "$WORK/nothing"
expect_bad_input "--keep-last must not be negative" --keep-last -1
expect_bad_input "--checkpoint-every must not be negative" --checkpoint-every -2
echo "all bad-input cases exit 2 with one line"
