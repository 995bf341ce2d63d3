#!/bin/bash
# Loading paths end to end: a checkpoint trained with mpirun -np 2 evaluates in one process on the
# CPU with the accuracy the training run reported; our export loads in Python (torch.load,
# load_state_dict(strict=True), optimizer.load_state_dict) and gives our logits; inspect reads .pt.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
fixtures="$(dirname "$0")/../fixtures"

run_mpi 2 "$TRAINER" --epochs 2 --limit-train 2000 --limit-test 500 --progress-seconds 0 \
  --metrics-file metrics.jsonl --checkpoint-dir checkpoints >train.log
reported=$(json_field metrics.jsonl -1 test_accuracy)
"$TRAINER" eval --checkpoint checkpoints --limit-test 500 --device cpu --predictions-out predictions.h5 >eval.log
cat eval.log
evaluated=$(grep -o "accuracy [0-9.]*" eval.log | head -1 | cut -d' ' -f2)
awk -v a="$reported" -v b="$evaluated" 'BEGIN { exit !((a - b) < 1e-4 && (b - a) < 1e-4) }' ||
  fail "eval says $evaluated, training reported $reported"
grep -q "confusion matrix" eval.log || fail "no confusion matrix"

# Python's view: our export, plain and as a tutorial checkpoint dict.
"$TRAINER" export checkpoints --to plain.pt >/dev/null
"$TRAINER" export checkpoints --to wrapped.pt --add-prefix module. >/dev/null
"$TRAINER" export checkpoints --to tutorial.pt --with-optimizer >/dev/null
"$PYTHON" - "$fixtures" <<'PY' || fail "Python rejected the export"
import sys
import h5py
import numpy as np
import torch
import torch.nn as nn
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet

# What PyTorch loads with weights_only=True (torch.load's default since 2.6): the state dicts in
# every version; the tutorial dict in 2.x (1.13's weights-only unpickler has no float opcode at all,
# so no optimizer state dict loads there that way, its own neither).
major = int(torch.__version__.split(".")[0])
model = LeNet()
state = torch.load("plain.pt", weights_only=True)
assert list(state.keys()) == list(model.state_dict().keys()), "keys are not in the model's order"
model.load_state_dict(state, strict=True)
wrapped = nn.DataParallel(LeNet())
wrapped.load_state_dict(torch.load("wrapped.pt", weights_only=True), strict=True)
checkpoint = torch.load("tutorial.pt", weights_only=major >= 2)
tutorial = LeNet()
tutorial.load_state_dict(checkpoint["model_state_dict"], strict=True)
optimizer = torch.optim.SGD(tutorial.parameters(), lr=0.1, momentum=0.9)
optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
assert checkpoint["epoch"] == 2, checkpoint["epoch"]
assert len(optimizer.state) == 10 and all("momentum_buffer" in s for s in optimizer.state.values())
# A training step with the restored optimizer runs.
tutorial(torch.randn(2, 1, 32, 32)).sum().backward()
optimizer.step()
print(f"python {torch.__version__}: export loads weights-only and strictly (plain, module. prefix, tutorial dict with SGD state)")
PY

# Same logits: Python's model on a fixed batch vs ours on the same batch through `trainer eval`.
"$PYTHON" - "$fixtures" <<'PY'
import sys
import h5py
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet
torch.manual_seed(0)
x = torch.randn(16, 1, 32, 32)
with h5py.File("batch.h5", "w") as f:
    f["images"] = x.numpy()
    f["labels"] = np.arange(16, dtype=np.int64) % 10
model = LeNet()
model.load_state_dict(torch.load("plain.pt", weights_only=True))
model.eval()
with torch.no_grad():
    np.save("python_logits.npy", model(x).numpy())
PY
"$TRAINER" eval --checkpoint checkpoints --dataset hdf5 --data batch.h5 --test-data batch.h5 \
  --predictions-out ours.h5 >/dev/null
"$PYTHON" -c '
import h5py, numpy as np, sys
ours = h5py.File("ours.h5")["logits"][()]
theirs = np.load("python_logits.npy")
worst = float(np.abs(ours - theirs).max())
print(f"largest logit difference, trainer vs PyTorch on the exported weights: {worst:.3g}")
sys.exit(0 if worst < 1e-4 else 1)' || fail "logits differ"

# inspect and eval on torch.save files; eval of a foreign file with the wrong model is a clear error.
"$TRAINER" inspect "$fixtures/lenet_checkpoint.pt" >inspect.log
grep -q "epoch = 7" inspect.log && grep -q "model_state_dict.features.0.weight" inspect.log || fail "inspect .pt"
"$TRAINER" eval --checkpoint "$fixtures/lenet_dataparallel.pt" --limit-test 100 >dp.log
grep -q "names normalized (stripped 'module.')" dp.log || fail "the module. prefix was not reported"
expect_bad_input "does not fit the model" eval --checkpoint "$fixtures/lenet_plain.pt" --model resnet18 \
  --limit-test 10
expect_bad_input "eval: --checkpoint PATH is required" eval
expect_bad_input "export: --to FILE.pt is required" export checkpoints
