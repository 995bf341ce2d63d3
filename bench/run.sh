#!/bin/bash
# The whole benchmark suite, one command, every figure against a baseline measured in the same run:
#   bash bench/run.sh [BUILD_DIR]            (default build/; about 15 minutes on 2 cores)
# 1. training throughput and scaling efficiency, 1/2/4 ranks, LeNet and ResNet-18 (scaling.sh);
# 2. gradient exchange in real ResNet-18 steps vs one raw MPI_Allreduce, overlap off/on;
# 3. gradient exchange by message size vs raw MPI_Allreduce (nccl-tests style);
# 4. checkpoint save/load vs raw write+fsync/read, and the stall of an asynchronous save;
# 5. side by side with Python: LeNet under DistributedDataParallel (gloo, torchrun) with the same
#    batch, threads and data, and torch.save/torch.load of the same ResNet-18 + Adam state;
# 6. the TorchScript interpreter's cost: LeNet and ResNet-18 as model files against built in;
# 7. the image-folder loader against torchvision's DataLoader, the data wait, peak memory;
# 8. --precision bf16 against fp32;
# 9. the performance targets side by side (targets.sh), and the cost curves from 1 to 16 ranks
#    (cost_curves.sh): save, commit, load read once per job, bytes read, start-up, save memory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
source "$root/scripts/mpi-env.sh"
mpi() { mpirun -np "$1" --oversubscribe --bind-to none "${@:2}"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo
echo "## 1. training throughput"
bash "$root/bench/scaling.sh" "$build/bin/trainer"
echo
echo "## 2. gradient exchange in training steps"
mpi 2 "$build/bin/overlap_bench" 20 32
echo
echo "## 3. gradient exchange by size"
mpi 2 "$build/bin/allreduce_bench" --min-bytes 262144 --max-bytes 67108864 --seconds 0.2
echo
echo "## 4. checkpoints"
mpi 2 "$build/bin/checkpoint_bench" "$work/ckpt" 5
"$build/bin/checkpoint_bench" "$work/ckpt" 5
echo
echo "## 5. side by side with Python (Debian python3-torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "python3-torch/torchvision not installed: skipped"
  exit 0
fi
lenet=(--epochs 2 --limit-train 12000 --limit-test 1000 --batch-size 64 --threads 1 --checkpoint-dir none)
mpi 2 "$build/bin/trainer" "${lenet[@]}" --progress-seconds 0 --metrics-file "$work/m.jsonl" >/dev/null
ours=$(/usr/bin/python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).read().splitlines()[-1])["samples_per_second"]))' "$work/m.jsonl")
# Debian's torch 1.13 launcher needs --redirects/--tee under Python 3.11.
ddp=$(/usr/bin/torchrun --nproc_per_node=2 --redirects 1 --tee 1 "$root/bench/python_baseline.py" ddp 12000 64 2>/dev/null |
  sed -n 's/.*ddp samples\/s //p')
printf "lenet, 2 ranks, batch 64, 1 thread: trainer %6d samples/s | python DDP (gloo) %6d samples/s | ratio %.2f\n" \
  "$ours" "$ddp" "$(awk -v a="$ours" -v b="$ddp" 'BEGIN { print a / b }')"
read -r save_py _ _ load_py _ mb _ <<<"$(/usr/bin/python3 "$root/bench/python_baseline.py" save "$work" | sed 's/torch.save+fsync //')"
line=$("$build/bin/checkpoint_bench" "$work/ckpt" 5 | grep '^save ')
save_ours=$(awk '{print $2}' <<<"$line")
printf "resnet18 + adam checkpoint: trainer save %.3f s | torch.save+fsync %.3f s (%s MB) | ratio %.2f; torch.load %.3f s\n" \
  "$save_ours" "$save_py" "$mb" "$(awk -v a="$save_ours" -v b="$save_py" 'BEGIN { print a / b }')" "$load_py"
echo
echo "## 6. model files: the TorchScript interpreter's cost"
bash "$root/bench/torchscript.sh" "$build/bin/trainer"
echo
echo "## 7. image folders: the loader against torchvision's DataLoader, data wait, memory"
bash "$root/bench/loader.sh" "$build"
bash "$root/bench/data_memory.sh" "$build/bin/trainer"
echo
echo "## 8. --precision bf16 against fp32"
bash "$root/bench/precision.sh" "$build/bin/trainer"
echo
echo "## 9. targets, and cost curves from 1 to 16 ranks"
bash "$root/bench/targets.sh" "$build"
bash "$root/bench/cost_curves.sh" "$build"
