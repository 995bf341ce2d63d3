#!/bin/bash
# A user's first week, with the trainer installed by `cmake --install` into a prefix of its own and
# run as an unprivileged user (nobody, when the test runs as root), from PATH:
#   install     the installed trainer starts and trains an epoch (its RPATH finds its libraries).
#   quickstart  README's quick start, the blocks marked for it, run verbatim: Fashion-MNIST under
#               mpirun -np 4, continued, evaluated (the run's own accuracy) and exported; ResNet-18
#               fine-tuned on an image folder with --train-only fc and evaluated without data options
#               (the run's own accuracy), a conflicting transform refused, other data named.
#   runs        two experiments in a row with default options never mix or lose a checkpoint; the
#               same configuration continues its run; --name refuses another run, --overwrite
#               replaces it; a run killed with kill -9 and resumed has every epoch once in its
#               metrics; weights.h5 evaluates, inspects, exports and initializes like a checkpoint;
#               --resume FILE.pt takes the file's learning rate; docs/options.md is what --help prints.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$(dirname "$TRAINER")/.." && pwd)

cmake --install "$build" --prefix "$WORK/prefix" >install.log || fail "cmake --install failed: $(tail -3 install.log)"
[ -x "$WORK/prefix/bin/trainer" ] && [ -f "$WORK/prefix/share/trainer/slurm/train.sbatch" ] ||
  fail "the install lacks bin/trainer or the Slurm scripts"
export PATH="$WORK/prefix/bin:$PATH" HOME="$WORK"
export OMPI_MCA_rmaps_base_oversubscribe=1  # README's 4 ranks on this machine's cores
chmod 777 "$WORK"
# as_user CMD...: CMD as nobody when this test runs as root (no privilege the trainer could lean on).
# A prefix, not a function, so that a command started in the background is the process $! names.
user=()
[ "$(id -u)" -ne 0 ] || user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
as_user() { "${user[@]}" "$@"; }
as_user trainer --version | grep -q "^trainer " || fail "the installed trainer does not run as an unprivileged user"

# metrics_epochs FILE: the epochs of FILE's records, space-separated, in file order.
metrics_epochs() { "$PYTHON" -c 'import json,sys; print(*[json.loads(l)["epoch"] for l in open(sys.argv[1])])' "$1"; }
# accuracy_of LOG: the accuracy eval printed; last_accuracy FILE: the last record's, as eval prints it.
accuracy_of() { sed -n 's/^test: [0-9]* samples, loss [0-9.]*, accuracy \([0-9.]*\).*/\1/p' "$1" | head -1; }
last_accuracy() { printf '%.4f' "$(last_field "$1" test_accuracy)"; }
# quickstart_block N: the N-th code block of README marked "run verbatim by ...user_workflow.sh".
quickstart_block() {
  awk -v want="$1" '/<!-- run verbatim by tests\/integration\/user_workflow.sh -->/ { marked++; next }
    marked == want && /^```sh/ { inside = 1; next } inside && /^```/ { exit } inside { print }' "$repo/README.md"
}

quickstart() {
  quickstart_block 1 >fashion.sh
  [ "$(grep -c '^mpirun\|^trainer' fashion.sh)" -eq 4 ] || fail "README's first quick-start block is not the 4 commands"
  as_user bash -euo pipefail fashion.sh >fashion.log 2>&1 || fail "README's quick start failed: $(tail -5 fashion.log)"
  [ "$(metrics_epochs runs/fashion/metrics.jsonl)" = "1 2" ] || fail "runs/fashion/metrics.jsonl: $(metrics_epochs runs/fashion/metrics.jsonl)"
  grep -q "resumed from runs/fashion/checkpoints/epoch-0001" fashion.log || fail "the second command did not continue the run"
  [ "$(accuracy_of fashion.log)" = "$(last_accuracy runs/fashion/metrics.jsonl)" ] ||
    fail "eval runs/fashion says $(accuracy_of fashion.log), the run's last epoch $(last_accuracy runs/fashion/metrics.jsonl)"
  grep -q "^Ankle boot " fashion.log || fail "eval's report has no per-class line by name"
  [ -s fashion.pt ] || fail "no fashion.pt"

  "$PYTHON" - <<'PY' || fail "Python could not write the image folder and resnet18.pt"
import gzip, os
import numpy as np
import torch, torchvision
from PIL import Image
def idx(name):
    raw = gzip.open(f"/usr/share/datasets/fashion-mnist/{name}.gz").read()
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(shape)
images, labels = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte")
for c, name in ((1, "trouser"), (9, "boot")):
    for n, i in enumerate(np.flatnonzero(labels == c)[:12]):
        folder = f"my_images/{'train' if n < 8 else 'val'}/{name}"
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(images[i]).convert("RGB").resize((40, 40)).save(f"{folder}/{n}.png")
torch.manual_seed(0)
torch.save(torchvision.models.resnet18().state_dict(), "resnet18.pt")  # the test's stand-in for ImageNet's
PY
  quickstart_block 2 >pets.sh
  as_user bash -euo pipefail pets.sh >pets.log 2>&1 || fail "README's image-folder quick start failed: $(tail -5 pets.log)"
  grep -q "training only 2 under 'fc'" pets.log || fail "--train-only fc did not freeze the rest: $(grep frozen pets.log)"
  [ "$(accuracy_of pets.log)" = "$(last_accuracy runs/pets/metrics.jsonl)" ] ||
    fail "eval runs/pets says $(accuracy_of pets.log), the run's last epoch $(last_accuracy runs/pets/metrics.jsonl)"
  grep -q "^boot " pets.log || fail "eval's report has no line for class 'boot'"
  expect_bad_input "was trained with --image-size 224" eval runs/pets --image-size 112
  as_user trainer eval runs/pets --val-dir my_images/train >other.log
  grep -q "evaluating on other data than the training's: --val-dir my_images/train" other.log ||
    fail "eval on other data does not say so: $(head -2 other.log)"
}

runs() {
  local small=(--epochs 2 --limit-train 640 --limit-test 200 --progress-seconds 0)
  as_user trainer "${small[@]}" >a.log
  local before
  before=$(cd runs/version_0 && find checkpoints -type f | sort | xargs sha256sum)
  as_user trainer "${small[@]}" --lr 0.05 >b.log
  grep -q "run directory runs/version_1 (new)" b.log || fail "another experiment did not get a new run directory"
  as_user trainer "${small[@]}" --resume none >c.log
  grep -q "run directory runs/version_2 (new)" c.log || fail "--resume none did not start a new run directory"
  [ "$(cd runs/version_0 && find checkpoints -type f | sort | xargs sha256sum)" = "$before" ] ||
    fail "the first run's checkpoints changed"
  # The same configuration continues its newest run (version_2, of the same options as version_0).
  as_user trainer --epochs 3 --limit-train 640 --limit-test 200 --progress-seconds 0 >d.log
  grep -q "run directory runs/version_2: continuing it" d.log || fail "the same configuration did not continue its run"
  [ "$(metrics_epochs runs/version_2/metrics.jsonl)" = "1 2 3" ] || fail "version_2's metrics: $(metrics_epochs runs/version_2/metrics.jsonl)"
  [ "$(metrics_epochs runs/version_0/metrics.jsonl)" = "1 2" ] || fail "version_0's metrics: $(metrics_epochs runs/version_0/metrics.jsonl)"

  as_user trainer "${small[@]}" --name exp >/dev/null
  TRAINER=trainer expect_bad_input "add --overwrite" "${small[@]}" --name exp --lr 0.1
  TRAINER=trainer expect_bad_input "add --overwrite" "${small[@]}" --name exp --resume none
  as_user trainer "${small[@]}" --name exp --lr 0.1 --overwrite >e.log
  grep -q "^lr = 0.1$" runs/exp/config.ini && [ "$(metrics_epochs runs/exp/metrics.jsonl)" = "1 2" ] ||
    fail "--overwrite did not start afresh"

  # kill -9 after the third epoch's record, with a checkpoint every second epoch: the resumed run
  # trains epoch 3 again from epoch 2's checkpoint (or 5 from 4's), and the file has each epoch once.
  local killed=(--name killed --epochs 6 --checkpoint-every 2 --limit-train 3000 --limit-test 200 --progress-seconds 0)
  "${user[@]}" mpirun -np 2 --bind-to none trainer "${killed[@]}" >killed.log 2>&1 &
  local launcher=$!
  for _ in $(seq 1 600); do
    [ -f runs/killed/metrics.jsonl ] && [ "$(wc -l <runs/killed/metrics.jsonl)" -ge 3 ] && break
    sleep 0.05
  done
  kill -9 "$launcher" 2>/dev/null || true
  wait "$launcher" 2>/dev/null || true
  sleep 1  # the ranks die with their launcher (PR_SET_PDEATHSIG)
  [ "$(wc -l <runs/killed/metrics.jsonl)" -lt 6 ] || fail "the run ended before the kill"
  as_user mpirun -np 2 --bind-to none trainer "${killed[@]}" >resumed.log 2>&1 || fail "the resume failed: $(tail -3 resumed.log)"
  grep -q "resumed from runs/killed/checkpoints/epoch-000[24]" resumed.log || fail "no resume: $(grep -m1 resumed resumed.log)"
  [ "$(metrics_epochs runs/killed/metrics.jsonl)" = "1 2 3 4 5 6" ] ||
    fail "the killed and resumed run's metrics hold epochs $(metrics_epochs runs/killed/metrics.jsonl)"

  # The final weights are a model file like a checkpoint.
  as_user trainer eval runs/version_0 >eval_ck.log
  as_user trainer eval runs/version_0/weights.h5 >eval_w.log
  [ "$(accuracy_of eval_w.log)" = "$(accuracy_of eval_ck.log)" ] && [ -n "$(accuracy_of eval_w.log)" ] ||
    fail "weights.h5 evaluates to $(accuracy_of eval_w.log), its checkpoint to $(accuracy_of eval_ck.log)"
  as_user trainer inspect runs/version_0/weights.h5 --verify | grep -q "model lenet, 10 classes" || fail "inspect weights.h5"
  as_user trainer export runs/version_0/weights.h5 --to w.pt | grep -q "exported 10 model tensors" || fail "export weights.h5"
  as_user trainer "${small[@]}" --name ft --init-from runs/version_0/weights.h5 >ft.log
  grep -q "initialized from weights file runs/version_0/weights.h5: 10 tensor(s) loaded" ft.log || fail "--init-from weights.h5"

  # A Python checkpoint dict trained at LR 0.05 continues at 0.05 unless --lr says otherwise.
  as_user trainer export runs/version_1 --to lr05.pt --with-optimizer >/dev/null
  as_user trainer --epochs 3 --limit-train 640 --limit-test 200 --progress-seconds 0 --name fromfile --resume lr05.pt >py.log
  grep -q "taken from lr05.pt (options not given on the command line): lr 0.05" py.log || fail "the file's LR was not taken"
  [ "$(last_field runs/fromfile/metrics.jsonl lr)" = 0.05 ] || fail "trained at $(last_field runs/fromfile/metrics.jsonl lr)"

  TRAINER=trainer expect_bad_input "did you mean '--lr'?" --lrr 0.1
  bash "$repo/scripts/options-doc.sh" "$TRAINER" "$WORK/options.md" >/dev/null
  diff "$repo/docs/options.md" "$WORK/options.md" >options.diff || fail "docs/options.md is stale: $(head -5 options.diff)"
}

install() {
  as_user trainer --epochs 1 --limit-train 256 --limit-test 64 --progress-seconds 0 >install_run.log ||
    fail "the installed trainer could not train: $(tail -3 install_run.log)"
  grep -q "run directory runs/version_0 (new)" install_run.log || fail "no run directory: $(head -3 install_run.log)"
}

run_scenarios install quickstart runs -- "$@"
