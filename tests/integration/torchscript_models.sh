#!/bin/bash
# Models defined in Python and scripted (examples/torchscript_models.py, with the PyTorch of the
# LibTorch under test) train as built-in ones do:
#   - one SGD step with momentum, from the file's weights on a fixed batch, equals Python's step
#     on the same scripted module to 1e-6 (BatchNorm's running statistics included);
#   - np=2 x batch 32 equals np=1 x batch 64 to 1e-5 after a few steps (the MLP: no BatchNorm or
#     dropout, whose per-rank statistics and draws differ by design);
#   - a kill -9 under mpirun and --resume auto end bit-identical to a straight run (BatchNorm and
#     dropout: buffers and generator state restored);
#   - --freeze by the module's own names; export loads weights_only=True into the eager class with
#     strict=True and gives trainer eval's logits; resuming with another model file is refused;
#   - a moved model file is named with --model to eval, export and inspect, and must be the file the
#     checkpoint was trained with; a changed one is refused;
#   - --init-from a checkpoint or a Python state dict into a model file with a new head;
#   - files that are no usable model are one line and exit 2.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
examples="$(cd "$(dirname "$0")/../../examples" && pwd)"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"

# torch.jit.script reads the classes' source: the script is a file, not stdin.
cat >make_modules.py <<'PY'
import subprocess, sys, zipfile
from typing import List, Tuple
import h5py
import torch
import torch.nn as nn
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from torchscript_models import SmallCNN, MLP
subprocess.run([sys.executable, f"{sys.argv[1]}/torchscript_models.py", "models"], check=True, capture_output=True)

class BatchNormNet(nn.Module):  # BatchNorm without dropout: a step Python and C++ can both take
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(4))
        self.fc = nn.Linear(8 * 16, 10)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1))

class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 10)
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.fc(x + y)

class ReturnsTuple(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32 * 32, 10)
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        logits = self.fc(x.flatten(1))
        return logits, logits

torch.manual_seed(1)
torch.jit.script(BatchNormNet()).save("bn.ts")
torch.jit.script(TwoInputs()).save("two_inputs.ts")
torch.jit.script(ReturnsTuple()).save("returns_tuple.ts")
frozen = torch.jit.script(MLP())
for p in frozen.parameters():
    p.requires_grad_(False)
frozen.save("frozen.ts")
torch.save(SmallCNN(), "eager.pt")
with zipfile.ZipFile("other.zip", "w") as z:
    z.writestr("hello.txt", "not a model")

torch.manual_seed(3)
x = torch.randn(64, 1, 32, 32)
y = torch.randint(0, 10, (64,))
with h5py.File("batch.h5", "w") as f:
    f["images"] = x.numpy()
    f["labels"] = y.numpy()
module = torch.jit.load("bn.ts")
module.train()
optimizer = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
F.cross_entropy(module(x), y).backward()
optimizer.step()
with h5py.File("bn_after.h5", "w") as f:
    for key, tensor in module.state_dict().items():
        f[f"model/{key}"] = tensor.numpy()
print(f"python {torch.__version__}: example modules, a BatchNorm step, bad modules")
PY
"$PYTHON" make_modules.py "$examples" || fail "Python could not write the modules"

# One step from the file's weights equals Python's.
"$TRAINER" --model bn.ts --dataset hdf5 --data batch.h5 --batch-size 64 --epochs 1 --lr 0.05 --momentum 0.9 \
  --lr-step 0 --progress-seconds 0 --checkpoint-dir none --save-weights bn_ours.h5 >bn.log || fail "bn.ts: $(cat bn.log)"
same_weights bn_ours.h5 bn_after.h5 1e-6 || fail "the trainer's step on a scripted module differs from Python's"

# Data parallel: np=2 x 32 equals np=1 x 64.
fashion=(--classes 0,1,2,3,4,5,6,7,8,9 --limit-train 512 --limit-test 128 --epochs 1 --seed 4 --progress-seconds 0
  --checkpoint-dir none)
run_mpi 2 "$TRAINER" --model models/mlp.ts "${fashion[@]}" --batch-size 32 --save-weights np2.h5 >np2.log ||
  fail "np 2: $(cat np2.log)"
grep -q "replicas identical on 2 rank(s)" np2.log || fail "replicas differ: $(cat np2.log)"
"$TRAINER" --model models/mlp.ts "${fashion[@]}" --batch-size 64 --save-weights np1.h5 >np1.log || fail "np 1: $(cat np1.log)"
same_weights np2.h5 np1.h5 1e-5 || fail "np=2 x 32 differs from np=1 x 64"

# kill -9 mid-run, resume: bit-identical to the straight run (BatchNorm, dropout).
cnn=(--model models/small_cnn.ts --limit-train 1024 --limit-test 128 --epochs 2 --batch-size 32 --seed 6
  --progress-seconds 0 --checkpoint-every-steps 3 --keep-last 0)
run_mpi 2 "$TRAINER" "${cnn[@]}" --checkpoint-dir straight >straight.log || fail "straight: $(cat straight.log)"
kill_after_checkpoint killed epoch-0000-step-00000005 2 "$TRAINER" "${cnn[@]}" --checkpoint-dir killed
run_mpi 2 "$TRAINER" "${cnn[@]}" --checkpoint-dir killed >resumed.log || fail "resume: $(cat resumed.log)"
grep -q "resumed from killed/" resumed.log || fail "no resume: $(cat resumed.log)"
$tools same straight/epoch-0002 killed/epoch-0002 || fail "the resumed run does not end where the straight one did"

# Another model file in the same directory is refused, naming both.
expect_bad_input "was written for model file models/small_cnn.ts (sha256" "${cnn[@]/models\/small_cnn.ts/models/mlp.ts}" \
  --checkpoint-dir straight

# --freeze and --lr-group by the module's own names.
"$TRAINER" "${cnn[@]}" --checkpoint-dir none --freeze features. --lr-group classifier.2.bias=0.005 \
  --save-weights frozen.h5 >freeze.log || fail "freeze: $(cat freeze.log)"
grep -q "parameter group 0 (classifier.2.bias): 1 tensor(s), lr 0.005" freeze.log || fail "--lr-group: $(cat freeze.log)"
"$PYTHON" - <<'PY' || fail "--freeze features. changed the features or left the classifier alone"
import h5py, torch
module, saved = torch.jit.load("models/small_cnn.ts"), h5py.File("frozen.h5")["model"]
for name, tensor in module.named_parameters():
    same = bool((torch.from_numpy(saved[name][()]) == tensor).all())
    assert same == name.startswith("features."), name
PY

# Export: the eager class loads it weights-only and strictly, and gives trainer eval's logits.
"$TRAINER" export straight --to cnn.pt >/dev/null || fail "export"
"$TRAINER" eval --checkpoint straight --dataset hdf5 --data batch.h5 --predictions-out ours.h5 >eval.log ||
  fail "eval: $(cat eval.log)"
"$PYTHON" - "$examples" <<'PY' || fail "the export does not give trainer eval's logits"
import sys
import h5py, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from torchscript_models import SmallCNN
model = SmallCNN()
state = torch.load("cnn.pt", weights_only=True)
assert list(state) == list(model.state_dict()), "key order"
model.load_state_dict(state, strict=True)
model.eval()
with torch.no_grad():
    logits = model(torch.from_numpy(h5py.File("batch.h5")["images"][()])).numpy()
worst = float(np.abs(h5py.File("ours.h5")["logits"][()] - logits).max())
print(f"export: eager SmallCNN, largest logit difference {worst:.3g}")
sys.exit(0 if worst < 1e-5 else 1)
PY

# The model file moves: eval, export and inspect are told where it is with --model; it must be the
# file the checkpoint was trained with, and a changed file is refused.
mkdir moved && mv models/small_cnn.ts moved/cnn.ts
data=(--dataset hdf5 --data batch.h5)
expect_bad_input "trained with model file models/small_cnn.ts (sha256" eval --checkpoint straight "${data[@]}"
expect_bad_input "which is no longer there; export --model FILE" export straight --to gone.pt
"$TRAINER" eval --checkpoint straight --model moved/cnn.ts "${data[@]}" --predictions-out moved.h5 >moved.log ||
  fail "eval --model moved/cnn.ts: $(cat moved.log)"
"$PYTHON" -c 'import h5py, numpy as np; assert np.array_equal(*(h5py.File(f)["logits"][()] for f in ("ours.h5", "moved.h5")))' ||
  fail "eval of the moved file gives other logits"
"$TRAINER" export straight --model moved/cnn.ts --to moved.pt >/dev/null || fail "export --model moved/cnn.ts"
"$PYTHON" -c 'import torch; a, b = torch.load("cnn.pt"), torch.load("moved.pt"); assert list(a) == list(b) and all(a[k].equal(b[k]) for k in a)' ||
  fail "export with the moved file writes other weights"
"$TRAINER" inspect straight --model moved/cnn.ts >inspect.log || fail "inspect --model: $(cat inspect.log)"
grep -q "^--model moved/cnn.ts: the weights fit, 16 tensors, 10 classes, sha256 " inspect.log ||
  fail "inspect --model: $(tail -1 inspect.log)"
"$TRAINER" inspect cnn.pt --model moved/cnn.ts | grep -q ": the weights fit, 16 tensors" || fail "inspect FILE.pt --model"
expect_bad_input "eval: model file models/mlp.ts (sha256" eval --checkpoint straight --model models/mlp.ts "${data[@]}"
expect_bad_input "eval --model lenet: straight/" eval --checkpoint straight --model lenet "${data[@]}"
expect_bad_input "inspect: model file models/mlp.ts" inspect straight --model models/mlp.ts
cp models/mlp.ts models/small_cnn.ts  # another file where the recorded one was
expect_bad_input "(the file changed since)" eval --checkpoint straight "${data[@]}"
mv moved/cnn.ts models/small_cnn.ts

# --init-from into a model file with another head: the features come from the checkpoint (and
# stay there, frozen), the new 3-class head starts fresh; a Python state dict works the same way.
"$PYTHON" "$examples/torchscript_models.py" three --classes 3 --seed 9 >/dev/null 2>&1 || fail "3-class models"
finetune=(--model three/small_cnn.ts --classes 0,1,2 --limit-train 256 --limit-test 64 --epochs 1 --batch-size 32
  --freeze features. --checkpoint-dir none --progress-seconds 0)
"$TRAINER" "${finetune[@]}" --init-from straight --save-weights tuned.h5 >tuned.log || fail "init-from: $(cat tuned.log)"
new_head="re-initialized (shape differs): classifier.2.weight ([10, 512] in the file, [3, 512] in the model)"
grep -qF "14 tensor(s) loaded; $new_head" tuned.log ||
  fail "init-from: $(grep initialized tuned.log)"
"$TRAINER" "${finetune[@]}" --init-from cnn.pt --save-weights tuned_pt.h5 >tuned_pt.log || fail "init-from .pt"
"$PYTHON" - <<'PY' || fail "--init-from did not carry the features over"
import h5py, numpy as np, torch
tuned, tuned_pt = h5py.File("tuned.h5")["model"], h5py.File("tuned_pt.h5")["model"]
state = torch.load("cnn.pt")
for name in state:
    if name.startswith("features.") and name.endswith("weight"):
        assert np.array_equal(tuned[name][()], state[name].numpy()), name
        assert np.array_equal(tuned_pt[name][()], state[name].numpy()), name
assert tuned["classifier.2.weight"].shape == (3, 512)
PY

# Files that are no usable model.
data=(--dataset hdf5 --data batch.h5 --checkpoint-dir none)
expect_bad_input "eager.pt: a torch.save file, not a TorchScript archive" --model eager.pt "${data[@]}"
expect_bad_input "other.zip: not a TorchScript archive" --model other.zip "${data[@]}"
expect_bad_input "two_inputs.ts: forward must take one Tensor" --model two_inputs.ts "${data[@]}"
expect_bad_input "returns_tuple.ts: forward must take one Tensor" --model returns_tuple.ts "${data[@]}"
expect_bad_input "frozen.ts: the module has no trainable parameters" --model frozen.ts "${data[@]}"
expect_bad_input "expected 2 x 3 (the data set's classes)" --model models/mlp.ts --classes 0,1,2 --checkpoint-dir none
expect_bad_input "images of 3x32x32 do not go through the module" --model bn.ts --dataset synthetic \
  --synthetic-shape 3,32,32 --checkpoint-dir none
expect_bad_input "missing.ts: neither a built-in model" --model missing.ts "${data[@]}"
echo "torchscript models: Python's step, np2 = np1, kill -9 resume, freeze, export, bad files"
