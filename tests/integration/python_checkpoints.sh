#!/bin/bash
# Files a Python training script writes, with the PyTorch of the LibTorch under test
# ($TRAINER_PYTHON): the tutorial's checkpoint dict {epoch, model_state_dict,
# optimizer_state_dict, loss} of SGD with momentum and of Adam continues in the trainer
# (--resume FILE.pt), and the trainer's next optimizer step on a fixed batch equals the step Python
# takes from the same file to 1e-6; a file in PyTorch's legacy format evaluates with Python's
# logits; what is not a state dict is refused with a line that says what it is.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"  # same_weights
fixtures="$(cd "$(dirname "$0")/../fixtures" && pwd)"

"$PYTHON" - "$fixtures" <<'PY' || fail "Python could not write the files"
import sys
import h5py
import numpy as np
import torch
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet

torch.manual_seed(3)
x = torch.randn(64, 1, 32, 32)
y = torch.randint(0, 10, (64,))
with h5py.File("batch.h5", "w") as f:
    f["images"] = x.numpy()
    f["labels"] = y.numpy()

def step(model, optimizer):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()

for name, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
                   ("adam", lambda p: torch.optim.Adam(p, lr=0.001))):
    model = LeNet()
    optimizer = make(model.parameters())
    for _ in range(3):
        step(model, optimizer)
    torch.save({"epoch": 2, "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "loss": 0.5}, f"{name}.pt")
    step(model, optimizer)  # the step the trainer must take too
    with h5py.File(f"{name}_after.h5", "w") as f:
        for key, tensor in model.state_dict().items():
            f[f"model/{key}"] = tensor.numpy()

model = LeNet()
model.eval()
torch.save(model.state_dict(), "legacy.pt", _use_new_zipfile_serialization=False)
with torch.no_grad():
    np.save("legacy_logits.npy", model(x).numpy())
torch.jit.save(torch.jit.script(model), "scripted.pt")
torch.save(model, "whole_model.pt")
print(f"python {torch.__version__}: tutorial dicts (SGD, Adam), a legacy file, a TorchScript file, a whole model")
PY

# Continuing: epoch 3 of 3 is one step over the 64 samples, at the file's hyper-parameters.
batch=(--dataset hdf5 --data batch.h5 --batch-size 64 --epochs 3 --lr-step 0 --progress-seconds 0 --checkpoint-dir none)
"$TRAINER" "${batch[@]}" --resume sgd.pt --lr 0.05 --momentum 0.9 --save-weights sgd_ours.h5 >sgd.log ||
  fail "resume from the SGD dict: $(cat sgd.log)"
grep -q "resumed from torch.save checkpoint dict sgd.pt: 10 model tensors, sgd state of 10 parameter(s), epoch 2" sgd.log ||
  fail "no resume line: $(cat sgd.log)"
grep -q "not in the file: the generator state" sgd.log || fail "the line does not say what was not taken"
"$TRAINER" "${batch[@]}" --resume adam.pt --optimizer adam --lr 0.001 --save-weights adam_ours.h5 >adam.log ||
  fail "resume from the Adam dict: $(cat adam.log)"
# The same Adam state taken by --shard-optimizer (one rank: its share is everything).
"$TRAINER" "${batch[@]}" --resume adam.pt --optimizer adam --lr 0.001 --shard-optimizer \
  --save-weights adam_sharded_ours.h5 >adam_sharded.log || fail "sharded resume from the Adam dict: $(cat adam_sharded.log)"
same_weights adam_sharded_ours.h5 adam_after.h5 1e-6 || fail "adam, sharded: the trainer's step differs from Python's"
for name in sgd adam; do
  same_weights "$name"_ours.h5 "$name"_after.h5 1e-6 || fail "$name: the trainer's step differs from Python's"
done

# What does not fit is one line naming it.
expect_bad_input "parameter group 0 has momentum 0.9, this run has 0.5" "${batch[@]}" --resume sgd.pt --momentum 0.5
expect_bad_input "holds adam state, this run uses --optimizer sgd" "${batch[@]}" --resume adam.pt
expect_bad_input "does not fit the model: missing conv1.weight" "${batch[@]}" --resume sgd.pt --model resnet18 --synthetic-shape 1,32,32
expect_bad_input "the file holds no optimizer_state_dict" "${batch[@]}" --resume legacy.pt

# PyTorch's legacy format: the same logits as Python.
"$TRAINER" eval --checkpoint legacy.pt --dataset hdf5 --data batch.h5 --predictions-out legacy_ours.h5 >legacy.log ||
  fail "eval of a legacy file: $(cat legacy.log)"
"$PYTHON" -c '
import h5py, numpy as np, sys
worst = float(np.abs(h5py.File("legacy_ours.h5")["logits"][()] - np.load("legacy_logits.npy")).max())
print(f"legacy format: largest logit difference {worst:.3g}")
sys.exit(0 if worst < 1e-5 else 1)' || fail "the legacy file gives other logits"
"$TRAINER" inspect legacy.pt | grep -q "(a dict, legacy format)" || fail "inspect does not know the legacy format"

# Files that are not state dicts say what they are.
expect_bad_input "scripted.pt: a TorchScript archive (torch.jit.save), not a state dict that torch.save wrote" \
  eval --checkpoint scripted.pt --dataset hdf5 --data batch.h5
expect_bad_input "a whole model saved with torch.save(model)? save model.state_dict()" eval --checkpoint whole_model.pt \
  --dataset hdf5 --data batch.h5
echo "python checkpoints: SGD and Adam continue with Python's next step, legacy files read, other files named"
