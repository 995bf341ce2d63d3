#!/bin/bash
# The recipes users bring from PyTorch, end to end on real Fashion-MNIST under mpirun:
#   - two steps from Python's weights on a fixed batch (AdamW, cosine, clipping, label smoothing;
#     fp32 and bf16 autocast) equal PyTorch's to 2e-6; clipping at np=2 x 32 equals np=1 x 64 (it acts on the average);
#   - linear warmup + cosine + AdamW + --clip-grad-norm + --label-smoothing + bf16 at np=2, killed -9
#     mid-epoch and resumed: bit-identical to the straight run; the metrics carry each group's LR
#     (the cosine's end) and the gradient norm; the checkpoint refuses a resume that would change
#     the schedule, its length, the clipping or the smoothing;
#   - its TensorBoard files, read by TensorBoard's own reader, hold every scalar at every step, the
#     killed and resumed run's once each and equal to the straight run's; its timeline is JSON with
#     a track per rank and an allreduce span for every bucket of every step;
#   - --keep-best keeps the best epochs by test accuracy beside the newest; --resume best;
#   - RMSprop (centered, momentum) and SGD with Nesterov momentum under a multistep schedule, each
#     resumed bit-identically from a mid-run checkpoint;
#   - an export of AdamW's and RMSprop's state loads (with weights_only=True on PyTorch 2.x) into
#     torch.optim.AdamW/RMSprop with the run's options;
#   - options that do not fit the schedule or the optimizer are one line and exit 2.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/mpi_common.sh"
tools="$PYTHON $(dirname "$0")/checkpoint_tools.py"

# Two steps on a fixed batch from Python's weights equal PyTorch's: AdamW with decoupled weight
# decay, cosine (the second step at half the LR), clip_grad_norm_, label-smoothed cross-entropy, in
# fp32 and under bf16 autocast (torch.autocast("cpu", dtype=torch.bfloat16), the loss in fp32).
# To 2e-6: forward and backward round differently in LibTorch's C++ and Python's autograd (float32,
# 1.07e-6 seen with PyTorch 2.14), and Adam's step turns the smallest gradient differences into
# differences of the order of the LR; the optimizer step alone, on given gradients, is held to 1e-6
# in optim_parity_test.cpp. LibTorch's bf16 kernels take the same paths in C++ and Python where the
# CPU computes bf16 natively (avx512_bf16), and there bf16 is held to 2e-6 as well. Elsewhere (AVX2,
# as on an AMD EPYC) the emulated kernels leave C++'s and Python's weight gradients 1-3 bf16 ULPs
# apart (seen with 1.13: 1e-4 on gradients of 1e-2), which Adam turns into differences of the order
# of the LR: there the bf16 steps are held to 3 x LR, and must differ from fp32's (autocast acted).
if grep -qw avx512_bf16 /proc/cpuinfo; then bf16_tolerance=2e-6; else bf16_tolerance=0.03; fi
"$PYTHON" - "$(dirname "$0")/../fixtures" <<'PY' || fail "Python could not take the reference steps"
import sys
import h5py, torch
import torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
from make_pt_fixtures import LeNet
torch.manual_seed(0)
model = LeNet(10)
torch.save(model.state_dict(), "init.pt")
x, y = torch.randn(64, 1, 32, 32), torch.randint(0, 10, (64,))
with h5py.File("batch.h5", "w") as f:
    f["images"], f["labels"] = x.numpy(), y.numpy()
initial = {k: v.clone() for k, v in model.state_dict().items()}
for precision in ("fp32", "bf16"):
    model.load_state_dict(initial)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=2)
    norms = []
    for _ in range(2):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(x)
        F.cross_entropy(logits.float(), y, label_smoothing=0.2).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)))
        optimizer.step()
        schedule.step()
    assert min(norms) > 0.1, f"the gradients were not clipped: {norms}"
    with h5py.File(f"python_steps_{precision}.h5", "w") as f:
        for key, tensor in model.state_dict().items():
            f[f"model/{key}"] = tensor.numpy()
PY
for precision in fp32 bf16; do
  "$TRAINER" --dataset hdf5 --data batch.h5 --init-from init.pt --batch-size 64 --epochs 2 --optimizer adamw \
    --lr 0.01 --weight-decay 0.05 --lr-schedule cosine --clip-grad-norm 0.1 --label-smoothing 0.2 \
    --precision $precision --progress-seconds 0 --checkpoint-dir none --save-weights our_steps_$precision.h5 \
    >steps.log || fail "the fixed-batch steps in $precision: $(cat steps.log)"
  tolerance=2e-6
  [ $precision = bf16 ] && tolerance=$bf16_tolerance
  same_weights our_steps_$precision.h5 python_steps_$precision.h5 $tolerance ||
    fail "two AdamW steps in $precision differ from PyTorch's"
done
! same_weights our_steps_bf16.h5 our_steps_fp32.h5 1e-5 >/dev/null || fail "--precision bf16 computed as fp32 does"

# Clipping acts on the averaged gradients: np=2 x 32 equals np=1 x 64 (clipping each rank's own
# gradients would not).
clip=(--limit-train 640 --limit-test 64 --epochs 1 --seed 3 --progress-seconds 0 --checkpoint-dir none --lr 0.05
  --lr-step 0 --clip-grad-norm 0.05)
run_mpi 2 "$TRAINER" "${clip[@]}" --batch-size 32 --save-weights clip2.h5 >clip2.log || fail "clip np 2: $(cat clip2.log)"
"$TRAINER" "${clip[@]}" --batch-size 64 --save-weights clip1.h5 --metrics-file clip.jsonl >clip1.log ||
  fail "clip np 1: $(cat clip1.log)"
at_least "$(json_field clip.jsonl -1 grad_norm)" 0.1
same_weights clip2.h5 clip1.h5 1e-5 || fail "clipping at np=2 x 32 differs from np=1 x 64"

fixed=(--limit-train 1200 --limit-test 200 --seed 5 --progress-seconds 0 --optimizer adamw --lr 0.003
  --lr-group classifier.=0.001 --checkpoint-every-steps 4 --keep-last 0)
# recipe [OPTION VALUE]...: sets $args to the recipe, with OPTION's value replaced (or dropped: "").
recipe() {
  local -A chosen=([--epochs]=2 [--batch-size]=32 [--precision]=bf16 [--lr-schedule]=cosine [--lr-min]=0.0001
    [--warmup-steps]=8 [--clip-grad-norm]=0.5 [--label-smoothing]=0.1)
  while [ $# -gt 0 ]; do chosen[$1]=$2; shift 2; done
  args=("${fixed[@]}")
  for option in "${!chosen[@]}"; do [ -z "${chosen[$option]}" ] || args+=("$option" "${chosen[$option]}"); done
}
recipe
recipe=("${args[@]}")
run_mpi 2 "$TRAINER" "${recipe[@]}" --checkpoint-dir straight --metrics-file metrics.jsonl --tensorboard tb-straight \
  --timeline timeline.json >straight.log || fail "straight: $(cat straight.log)"
kill_after_checkpoint killed epoch-0001 2 "$TRAINER" "${recipe[@]}" --checkpoint-dir killed --tensorboard tb-killed
run_mpi 2 "$TRAINER" "${recipe[@]}" --checkpoint-dir killed --tensorboard tb-killed >resumed.log ||
  fail "resume: $(cat resumed.log)"
grep -q "resumed from killed/" resumed.log || fail "no resume: $(cat resumed.log)"
$tools same straight/epoch-0002 killed/epoch-0002 || fail "the resumed recipe does not end where the straight one did"

# 1200 samples / (32 x 2 ranks) = 19 steps an epoch: the last step (37 of 38) is the cosine's end,
# lr_min + (lr - lr_min) * (1 + cos(pi * 29 / 30)) / 2 for each group.
"$PYTHON" - <<'PY' || fail "metrics: $(cat metrics.jsonl)"
import json, math
lines = [json.loads(line) for line in open("metrics.jsonl")]
assert [m["global_step"] for m in lines] == [19, 38], lines
last = lines[-1]
expected = [1e-4 + (lr - 1e-4) * (1 + math.cos(math.pi * 29 / 30)) / 2 for lr in (0.001, 0.003)]
assert all(abs(a - b) < 1e-15 for a, b in zip(last["group_lrs"], expected)), (last["group_lrs"], expected)
assert 0 < last["grad_norm"] < 100, last
PY
grep -q "grad norm" straight.log || fail "no gradient norm in the epoch line: $(cat straight.log)"

# TensorBoard's own reader finds every scalar at every step, with the straight run's values, in the
# killed and resumed run's files and after a resume from an older checkpoint into the straight
# run's directory: each step once (a resumed run's session start drops what was logged after its
# checkpoint); the LR of every step is the warmup and the cosine.
cp -r tb-straight tb-again
run_mpi 2 "$TRAINER" "${recipe[@]}" --resume straight/epoch-0000-step-00000012 --checkpoint-dir none \
  --tensorboard tb-again >again.log || fail "resume from an older checkpoint: $(cat again.log)"
"${TRAINER_TENSORBOARD_PYTHON:-$PYTHON}" - <<'PY' || fail "TensorBoard's reader disagrees"
import math
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, SCALARS
def scalars(directory):
    events = EventAccumulator(directory, size_guidance={SCALARS: 0}, purge_orphaned_data=True)
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
straight = scalars("tb-straight")
for tag in ("train/step_loss", "train/grad_norm", "lr/default", "lr/classifier."):
    assert [step for step, _ in straight[tag]] == list(range(1, 39)), (tag, straight[tag][:3])
for tag in ("train/loss", "train/accuracy", "test/loss", "test/accuracy", "throughput/samples_per_second",
            "data/wait_share", "train/epoch"):
    assert [step for step, _ in straight[tag]] == [19, 38], (tag, straight[tag])
for directory in ("tb-killed", "tb-again"):
    resumed = scalars(directory)
    for tag in ("train/step_loss", "train/grad_norm", "lr/default", "lr/classifier.", "test/accuracy", "train/loss"):
        assert resumed[tag] == straight[tag], (directory, tag, [step for step, _ in resumed[tag]])
assert len(straight["checkpoint/save_seconds"]) >= 9, straight["checkpoint/save_seconds"]
for step, value in straight["lr/default"]:
    t = step - 1
    expected = (0.003 * (0.001 + 0.999 * t / 8) if t < 8
                else 1e-4 + (0.003 - 1e-4) * (1 + math.cos(math.pi * (t - 8) / 30)) / 2)
    assert abs(value - expected) <= 1e-6 * expected, (step, value, expected)
print(f"tensorboard: {len(straight)} scalar tags, the resumed run's equal to the straight run's")
PY

# The timeline: valid JSON, a track per rank, every phase, an allreduce for every bucket of every step.
buckets=$(grep -o "in [0-9]* bucket(s)" straight.log | grep -o "[0-9]*")
"$PYTHON" - "$buckets" <<'PY' || fail "the timeline is incomplete"
import json, sys
buckets = int(sys.argv[1])
events = json.load(open("timeline.json"))
spans = [e for e in events if e["ph"] == "X"]
names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
assert names == {"rank 0", "rank 1"}, names
for rank in (0, 1):
    mine = [e for e in spans if e["pid"] == rank]
    for phase in ("data", "forward", "backward", "waiting", "optimizer", "agree", "checkpoint"):
        assert any(e["name"] == phase for e in mine), (rank, phase)
    reduced = {(e["args"]["step"], e["args"]["bucket"]) for e in mine if e["cat"] == "allreduce"}
    assert reduced == {(s, b) for s in range(1, 39) for b in range(buckets)}, (rank, len(reduced))
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in mine)
print(f"timeline: {len(spans)} spans, {buckets} bucket(s) x 38 steps x 2 ranks")
PY

# What the checkpoint was trained with is what a resume must use (one rank with batch 64 takes the
# steps of two with 32).
refused() {
  local expected=$1
  shift
  recipe --batch-size 64 "$@"
  expect_bad_input "$expected" "${args[@]}" --resume straight/epoch-0001 --checkpoint-dir none
}
refused "was trained with --lr-schedule cosine, this run has --lr-schedule step" --lr-schedule step --lr-min ""
refused "was trained with lr_total_steps 38, this run has 57 (--epochs x optimizer steps per epoch" --epochs 3
refused "was trained with lr_total_steps 38, this run has 76" --batch-size 32
refused "was trained with clip_grad_norm 0.5, this run has 1" --clip-grad-norm 1
refused "was trained with label_smoothing 0.1, this run has 0" --label-smoothing ""
refused "was trained with warmup_steps 8, this run has 0" --warmup-steps ""
refused "was trained with precision bf16, this run has fp32" --precision ""

# RMSprop and Nesterov SGD, resumed from a mid-run checkpoint of the same run.
for optimizer in "--optimizer rmsprop --lr 0.001 --momentum 0.5 --centered --alpha 0.9" \
  "--optimizer sgd --nesterov --lr 0.02 --lr-schedule multistep --lr-milestones 1 --lr-gamma 0.5 --warmup-epochs 1"; do
  # shellcheck disable=SC2206
  run=(--limit-train 640 --limit-test 100 --epochs 2 --batch-size 32 --seed 9 --progress-seconds 0 $optimizer
    --checkpoint-every-steps 5 --keep-last 0)
  "$TRAINER" "${run[@]}" --checkpoint-dir whole >whole.log || fail "$optimizer: $(cat whole.log)"
  mkdir -p part && cp -r whole/epoch-0000-step-00000015 part/
  "$TRAINER" "${run[@]}" --checkpoint-dir part --resume part/epoch-0000-step-00000015 >part.log ||
    fail "$optimizer resume: $(cat part.log)"
  $tools same whole/epoch-0002 part/epoch-0002 || fail "$optimizer: the resumed run differs"
  rm -rf whole part
done

# The exported optimizer state loads into PyTorch's optimizer with the run's options.
for optimizer in "--optimizer adamw --lr 0.002 --weight-decay 0.1" "--optimizer rmsprop --lr 0.001 --momentum 0.5 --centered"; do
  # shellcheck disable=SC2206
  run=(--limit-train 256 --limit-test 64 --batch-size 64 --seed 2 --progress-seconds 0 --lr-step 0 $optimizer
    --checkpoint-every 1 --keep-last 0)
  "$TRAINER" "${run[@]}" --epochs 1 --checkpoint-dir one >one.log || fail "$optimizer: $(cat one.log)"
  "$TRAINER" export one/epoch-0001 --to one.pt --with-optimizer >/dev/null || fail "$optimizer: export"
  "$PYTHON" - "$optimizer" "$(dirname "$0")/../fixtures" <<'PY' || fail "$optimizer: PyTorch does not load the export"
import sys
import torch
sys.path.insert(0, sys.argv[2])
from make_pt_fixtures import LeNet
# PyTorch 1.13's weights-only unpickler knows no floats (an optimizer's options); 2.x's default does.
checkpoint = torch.load("one.pt", weights_only=int(torch.__version__.split(".")[0]) >= 2)
model = LeNet(10)
model.load_state_dict(checkpoint["model_state_dict"], strict=True)
kind = torch.optim.AdamW if "adamw" in sys.argv[1] else torch.optim.RMSprop
optimizer = kind(model.parameters(), lr=1.0)
optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
group = optimizer.param_groups[0]
if kind is torch.optim.AdamW:
    assert group["weight_decay"] == 0.1 and group["lr"] == 0.002, group
    assert group.get("decoupled_weight_decay", True), group  # PyTorch 2.x: AdamW, not Adam
else:
    assert group["centered"] and group["momentum"] == 0.5 and group["alpha"] == 0.99, group
print(f"{kind.__name__} state loaded: {len(optimizer.state)} parameters")
PY
  rm -rf one one.pt
done

# --keep-best: the best epochs by test accuracy stay beside the newest (ties: the newer); --resume
# best goes on from the best.
ranked=(--limit-train 640 --limit-test 300 --batch-size 32 --seed 11 --progress-seconds 0 --lr 0.05
  --checkpoint-dir ranked --keep-last 1 --keep-best 2)
"$TRAINER" "${ranked[@]}" --epochs 5 --metrics-file ranked.jsonl >ranked.log || fail "keep-best: $(cat ranked.log)"
expected=$("$PYTHON" - <<'PY'
import json
lines = [json.loads(line) for line in open("ranked.jsonl")]
best = sorted(lines, key=lambda m: (m["test_accuracy"], m["epoch"]), reverse=True)
kept = {m["epoch"] for m in best[:2]} | {5}
print(" ".join(f"epoch-{e:04d}" for e in sorted(kept)), best[0]["epoch"])
PY
)
[ "$(ls ranked | grep '^epoch-' | tr '\n' ' ')" = "${expected% *} " ] ||
  fail "--keep-best kept $(ls ranked | tr '\n' ' '), expected ${expected% *}: $(cat ranked.log)"
"$TRAINER" "${ranked[@]}" --epochs 6 --resume best >best.log || fail "--resume best: $(cat best.log)"
grep -q "resumed from ranked/epoch-$(printf %04d "${expected##* }"):" best.log ||
  fail "--resume best did not take epoch ${expected##* }: $(cat best.log)"

# Options that would be ignored, or cannot be honoured, are refused before anything runs.
small=(--limit-train 64 --epochs 1 --checkpoint-dir none --progress-seconds 0)
expect_bad_input "--lr-min does not apply to --lr-schedule step" "${small[@]}" --lr-min 0.001
expect_bad_input "--lr-schedule multistep needs --lr-milestones" "${small[@]}" --lr-schedule multistep
expect_bad_input "--lr-milestones must be increasing" "${small[@]}" --lr-schedule multistep --lr-milestones 3,2
expect_bad_input "--warmup-steps and --warmup-epochs exclude each other" "${small[@]}" --warmup-steps 2 --warmup-epochs 1
expect_bad_input "onecycle warms up by itself" "${small[@]}" --lr-schedule onecycle --warmup-steps 1
expect_bad_input "leave none of the run's 1 for the cosine" "${small[@]}" --lr-schedule cosine --warmup-steps 1
expect_bad_input "--momentum does not apply to --optimizer adam" "${small[@]}" --optimizer adam --momentum 0.5
expect_bad_input "--betas does not apply to --optimizer sgd" "${small[@]}" --betas 0.9,0.99
expect_bad_input "--clip-grad-norm and --clip-grad-value exclude each other" "${small[@]}" --clip-grad-norm 1 \
  --clip-grad-value 1
expect_bad_input "--label-smoothing must be in [0, 1]" "${small[@]}" --label-smoothing 1.5
expect_bad_input "--lr-schedule linear: unknown schedule" "${small[@]}" --lr-schedule linear
expect_bad_input "--monitor applies to --keep-best and --resume best" "${small[@]}" --monitor test_loss
expect_bad_input "--resume best needs a --checkpoint-dir" "${small[@]}" --resume best
echo "training recipes: warmup+cosine+AdamW+clipping+smoothing+bf16 resumed bit-identically at np=2; RMSprop, Nesterov; exports load in PyTorch"
