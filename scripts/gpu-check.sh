#!/bin/bash
# The GPU check, one command for a machine with an NVIDIA GPU, CUDA 13, a Python with PyTorch 2.x
# (CUDA), CMake and a C++ compiler, without Debian's development packages and without network:
#   1. unpacks the bundle of scripts/gpu-bundle.sh (MPI, HDF5, Boost, JSON, image codecs, GoogleTest
#      as Debian .deb files) into build-gpu/prefix, never into /;
#   2. builds trainer and the GPU tier against that Python's LibTorch and the bundle, and checks that
#      every library came from the bundle;
#   3. with a GPU: the GPU tier (tests/gpu/), a 1-GPU training run killed with -9 and resumed
#      bit-identically, a checkpoint written on the GPU evaluated on the CPU and one written on the
#      CPU evaluated on the GPU, --shard-optimizer against the unsharded run, --virtual-ranks 4 run
#      twice (the same bits), and ResNet-18 at
#      224 x 224, batch 64, in fp32 and bf16: trainer
#      against the same model in a plain PyTorch loop on the same GPU.
# Prints one summary. Exit status 0: every part ran and passed; 1: a part failed; 77: no GPU is
# visible, so it stopped after step 2 (and says so).
#
#   scripts/gpu-check.sh [--bundle DIR] [--python PYTHON] [--jobs N]
#     defaults: gpu-bundle/, python3, every core
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bundle=gpu-bundle python=python3 jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) echo "usage: $0 [--bundle DIR] [--python PYTHON] [--jobs N]" >&2; exit 2 ;;
  esac
done
work=$root/build-gpu prefix=$root/build-gpu/prefix build=$root/build-gpu/build
start=$(date +%s)
summary=()
note() { summary+=("$1"); echo "gpu-check: $1"; }
finish() {
  echo; echo "=== gpu-check summary ($(( $(date +%s) - start )) s) ==="
  printf '  %s\n' "${summary[@]}"
  exit "$1"
}
die() { note "FAILED: $1"; finish 1; }

# --- the parts that need a GPU ---

gpu_tier() {
  "$build/bin/gpu_tests" >"$work/gpu_tier.log" 2>&1 || die "GPU tier: $(grep -m 3 'FAILED\|Failure' "$work/gpu_tier.log" | paste -sd' ')"
  ! grep -q '^\[  SKIPPED' "$work/gpu_tier.log" || die "GPU tier skipped tests on a machine with a GPU (build-gpu/gpu_tier.log)"
  note "GPU tier: $(grep -c '^\[       OK' "$work/gpu_tier.log") tests passed (NCCL allreduce/broadcast, overlap = no overlap, CUDA generator, pinned snapshot, fp16 scaler)"
}

fingerprint() { grep -o 'fingerprint [0-9a-f]*' "$1" | tail -1; }

# ResNet-18 on synthetic 3x32x32 images, checkpoints every 10 steps; a run killed with -9 in its
# second epoch and resumed ends with the uninterrupted run's weights, bit for bit.
resume_after_kill() {
  local runs=$work/runs args
  rm -rf "$runs" && mkdir -p "$runs"
  args=(--device cuda --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 2560
        --synthetic-test-size 512 --batch-size 64 --epochs 2 --deterministic --seed 7 --progress-seconds 0
        --checkpoint-every-steps 10 --keep-last 0)
  "$trainer" "${args[@]}" --checkpoint-dir "$runs/straight" >"$runs/straight.log" 2>&1 || die "1-GPU run: $(tail -1 "$runs/straight.log")"
  "$trainer" "${args[@]}" --checkpoint-dir "$runs/killed" >"$runs/killed.log" 2>&1 &
  local pid=$! waited=0
  until grep -q '^epoch-0001-step' "$runs/killed/LATEST" 2>/dev/null; do
    sleep 0.2; waited=$((waited + 1))
    [ $waited -lt 1500 ] && kill -0 $pid 2>/dev/null || die "no mid-epoch checkpoint in the second epoch to kill after"
  done
  kill -9 $pid; wait $pid 2>/dev/null
  local at; at=$(cat "$runs/killed/LATEST")
  "$trainer" "${args[@]}" --checkpoint-dir "$runs/killed" >"$runs/resumed.log" 2>&1 || die "resume: $(tail -1 "$runs/resumed.log")"
  grep -q "resumed from" "$runs/resumed.log" || die "the killed run did not resume"
  [ "$(fingerprint "$runs/straight.log")" = "$(fingerprint "$runs/resumed.log")" ] ||
    die "killed at $at and resumed: $(fingerprint "$runs/resumed.log"), uninterrupted: $(fingerprint "$runs/straight.log")"
  note "1-GPU resume: killed -9 at $at, resumed; weights bit-identical to the uninterrupted run ($(fingerprint "$runs/straight.log"))"
}

# --shard-optimizer on the GPU (one rank: its share is everything, and the buckets' reduce-scatter
# and allgather are copies on the device): the same weights as the unsharded run, bit for bit.
sharded_on_gpu() {
  local runs=$work/runs args
  args=(--device cuda --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 1280
        --synthetic-test-size 256 --batch-size 64 --epochs 1 --deterministic --seed 7 --progress-seconds 0
        --optimizer adam --lr 0.001 --checkpoint-dir none)
  "$trainer" "${args[@]}" >"$runs/unsharded.log" 2>&1 || die "unsharded run: $(tail -1 "$runs/unsharded.log")"
  "$trainer" "${args[@]}" --shard-optimizer >"$runs/sharded.log" 2>&1 || die "sharded run: $(tail -1 "$runs/sharded.log")"
  [ "$(fingerprint "$runs/unsharded.log")" = "$(fingerprint "$runs/sharded.log")" ] ||
    die "--shard-optimizer on the GPU: $(fingerprint "$runs/sharded.log"), unsharded: $(fingerprint "$runs/unsharded.log")"
  note "1-GPU --shard-optimizer: weights bit-identical to the unsharded run ($(fingerprint "$runs/sharded.log"))"
}

# --virtual-ranks 4 on one GPU (its four virtual ranks one after another, the exchange's sums on
# the device): it trains, and a second run gives the same bits.
virtual_on_gpu() {
  local runs=$work/runs args
  args=(--device cuda --model resnet18 --dataset synthetic --synthetic-shape 3,32,32 --synthetic-size 1280
        --synthetic-test-size 256 --batch-size 16 --virtual-ranks 4 --epochs 1 --deterministic --seed 7
        --progress-seconds 0 --optimizer adamw --lr 0.001 --checkpoint-dir none)
  "$trainer" "${args[@]}" >"$runs/virtual1.log" 2>&1 || die "--virtual-ranks run: $(tail -1 "$runs/virtual1.log")"
  "$trainer" "${args[@]}" >"$runs/virtual2.log" 2>&1 || die "--virtual-ranks rerun: $(tail -1 "$runs/virtual2.log")"
  [ "$(fingerprint "$runs/virtual1.log")" = "$(fingerprint "$runs/virtual2.log")" ] ||
    die "--virtual-ranks 4 on the GPU: two runs differ ($(fingerprint "$runs/virtual1.log"), $(fingerprint "$runs/virtual2.log"))"
  note "1-GPU --virtual-ranks 4: trained; a rerun gives the same bits ($(fingerprint "$runs/virtual1.log"))"
}

accuracy() { grep -o 'accuracy [0-9.]*' "$1" | head -1 | cut -d' ' -f2; }

# A checkpoint written on the GPU evaluated on the CPU, one written on the CPU evaluated on the GPU:
# the same accuracy either way (map_location).
across_devices() {
  local runs=$work/runs data=(--dataset synthetic --synthetic-shape 3,32,32 --synthetic-test-size 512 --seed 7)
  "$trainer" eval --checkpoint "$runs/straight" --device cuda "${data[@]}" >"$runs/eval_gpu.log" 2>&1 &&
    "$trainer" eval --checkpoint "$runs/straight" --device cpu "${data[@]}" >"$runs/eval_cpu.log" 2>&1 ||
    die "eval of the GPU checkpoint: $(tail -1 "$runs/eval_cpu.log")"
  "$trainer" --device cpu --model lenet --dataset synthetic --synthetic-shape 1,28,28 --synthetic-size 512 \
    --synthetic-test-size 256 --epochs 1 --checkpoint-dir "$runs/cpu" --progress-seconds 0 >"$runs/cpu.log" 2>&1 &&
    "$trainer" eval --checkpoint "$runs/cpu" --device cuda --dataset synthetic --synthetic-shape 1,28,28 \
      --synthetic-test-size 256 >"$runs/eval_cpu_on_gpu.log" 2>&1 || die "the CPU checkpoint on the GPU: $(tail -1 "$runs/eval_cpu_on_gpu.log")"
  "$trainer" --device cuda --model resnet18 "${data[@]}" --synthetic-size 2560 --batch-size 64 --epochs 3 --seed 7 \
    --deterministic --checkpoint-dir "$runs/straight" --progress-seconds 0 >"$runs/continued.log" 2>&1 ||
    die "a GPU run resumed from its own checkpoint: $(tail -1 "$runs/continued.log")"
  local gpu cpu; gpu=$(accuracy "$runs/eval_gpu.log") cpu=$(accuracy "$runs/eval_cpu.log")
  "$python" -c "import sys; sys.exit(abs($gpu - $cpu) > 0.002)" || die "GPU checkpoint: accuracy $gpu on the GPU, $cpu on the CPU"
  note "across devices: the GPU checkpoint evaluates to $gpu on the GPU and $cpu on the CPU; the CPU checkpoint to $(accuracy "$runs/eval_cpu_on_gpu.log") on the GPU"
}

# samples/s of trainer's second epoch (the first one includes cuDNN's autotuning).
trainer_rate() {
  "$trainer" --device cuda --model resnet18 --dataset synthetic --synthetic-shape 3,224,224 --synthetic-size 3200 \
    --synthetic-test-size 0 --batch-size 64 --epochs 2 --precision "$1" --checkpoint-dir none --progress-seconds 0 \
    >"$work/rate_$1.log" 2>&1 || die "throughput run ($1): $(tail -1 "$work/rate_$1.log")"
  grep '^epoch 2/2' "$work/rate_$1.log" | grep -o '[0-9]* samples/s' | cut -d' ' -f1
}

python_rate() {  # the same model, batch and optimizer in a plain PyTorch loop
  "$python" - "$1" <<'PY' 2>"$work/python_rate.err"
import sys, time, torch, torchvision
torch.backends.cudnn.benchmark = True
model = torchvision.models.resnet18(num_classes=10).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
x, y = torch.randn(64, 3, 224, 224, device="cuda"), torch.randint(10, (64,), device="cuda")
def step():
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=sys.argv[1] == "bf16"):
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    opt.zero_grad(); loss.backward(); opt.step(); return loss
for _ in range(10): step()
torch.cuda.synchronize(); start = time.time()
for _ in range(50): loss = step()
loss.item(); print(int(64 * 50 / (time.time() - start)))
PY
}

throughput() {
  local line="ResNet-18 224x224 batch 64:"
  for precision in fp32 bf16; do
    local ours theirs; ours=$(trainer_rate $precision); theirs=$(python_rate $precision) || theirs=""
    if [ -n "$theirs" ]; then
      line+=" $precision trainer $ours samples/s, PyTorch loop $theirs ($("$python" -c "print(f'{$ours / $theirs:.2f}')")x);"
    else
      line+=" $precision trainer $ours samples/s (no Python baseline: $(tail -1 "$work/python_rate.err"));"
    fi
  done
  note "$line"
}

# 0. The Python's PyTorch: its LibTorch (CMake package) is what trainer builds against.
read -r torch_version torch_cuda cmake_path gpus < <("$python" -c 'import torch
print(torch.__version__, torch.version.cuda, torch.utils.cmake_prefix_path, torch.cuda.device_count())' 2>/dev/null) ||
  die "$python cannot import torch (give --python)"
[ "$torch_cuda" != None ] || die "$python's torch $torch_version is a CPU build: the GPU check needs a CUDA one"
note "PyTorch $torch_version (CUDA $torch_cuda) from $python; $gpus GPU(s) visible to it"

# 1. The bundle, unpacked.
[ -f "$bundle/MANIFEST" ] || die "no bundle in $bundle: run scripts/gpu-bundle.sh on a machine with Debian's registry"
rm -rf "$prefix" && mkdir -p "$prefix"
for deb in "$bundle"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$deb" "$prefix"
  else (cd "$prefix" && ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x -J -f - 2>/dev/null ||
        ar p "$deb" "$(ar t "$deb" | grep '^data.tar')" | tar -x --zstd -f -); fi || die "cannot unpack $deb"
done
note "bundle: $(wc -l < "$bundle/MANIFEST") packages unpacked into build-gpu/prefix ($(du -sm "$prefix" | cut -f1) MB)"
multiarch=x86_64-linux-gnu
lib=$prefix/usr/lib/$multiarch
# Open MPI and pkgconf find their files relative to the prefix they are told, HDF5's compiler
# wrapper (which FindHDF5 asks) from the prefix written into it; the rest by the paths given.
sed -i "s|^prefix=\"/usr\"|prefix=\"$prefix/usr\"|" "$prefix/usr/bin/h5cc"
export OPAL_PREFIX=$prefix/usr PATH=$prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$lib:$lib/openmpi/lib:$lib/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$prefix/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$prefix

# 2. The build (configured afresh: nothing found in an earlier run is trusted).
rm -f "$build/CMakeCache.txt"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRAINER_WITH_NCCL=ON \
  -DTRAINER_BUILD_TESTS=ON -DTRAINER_FULL_TEST_SUITE=OFF -DTRAINER_BUILD_BENCH=OFF \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$cmake_path" -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf" \
  -DMPI_C_HEADER_DIR="$lib/openmpi/include" -DMPI_C_LIB_NAMES=mpi -DMPI_mpi_LIBRARY="$lib/openmpi/lib/libmpi.so" \
  -DMPIEXEC_EXECUTABLE="$prefix/usr/bin/mpirun.openmpi" \
  -DHDF5_C_COMPILER_EXECUTABLE="$prefix/usr/bin/h5cc" \
  -DBoost_DIR="$lib/cmake/Boost-1.74.0" -DBoost_NO_SYSTEM_PATHS=ON \
  -DZLIB_ROOT="$prefix/usr" -DOPENSSL_ROOT_DIR="$prefix/usr" -DGTest_DIR="$lib/cmake/GTest" \
  >"$work/configure.log" 2>&1 || die "CMake configure (build-gpu/configure.log)"
cmake --build "$build" -j "$jobs" --target trainer gpu_tests >"$work/build.log" 2>&1 || die "build (build-gpu/build.log)"
trainer=$build/bin/trainer
# Every library of the bundle's kind must resolve into the prefix, none into the system.
outside=$(ldd "$trainer" "$build/bin/gpu_tests" | grep -E 'lib(mpi|open-|hdf5|sz|aec|boost|turbojpeg|spng|crypto|pmix|hwloc|event)' |
          grep -v "=> $prefix" | sort -u)
[ -z "$outside" ] || die "libraries not from the bundle: $outside"
# And every header of theirs: no include directory of the build outside the prefix but CUDA's and LibTorch's.
site=$(cd "$cmake_path/../../.." && pwd)  # the Python's site-packages: torch and its nvidia-* wheels
headers=$(cat "$build"/CMakeFiles/*/flags.make "$build"/*/CMakeFiles/*/flags.make | grep -o -- '-\(I\|isystem \)/[^ ]*' |
          sed 's/^-I\|^-isystem //' | sort -u | grep -v -e "^$prefix" -e "^$root\$" -e '^/usr/local/cuda' -e "^$site")
[ -z "$headers" ] || die "include directories outside the bundle: $headers"
grep -q "NCCL communicator enabled" "$work/configure.log" || die "NCCL was not found in the build"
note "build: trainer and the GPU tier against LibTorch $torch_version; MPI, HDF5, Boost, codecs from the bundle"
"$trainer" info >"$work/info.txt" 2>&1 || die "trainer info: $(tail -1 "$work/info.txt")"
sed 's/^/    /' "$work/info.txt"

if [ "$gpus" -lt 1 ] || ! "$trainer" info | grep -q '^  cuda:0'; then
  note "stopped here: no GPU visible (CUDA_VISIBLE_DEVICES, driver). The GPU tier, the resume, the"
  note "cross-device loads and the throughput figures need one; nothing of them ran."
  finish 77
fi
gpu_tier
resume_after_kill
across_devices
sharded_on_gpu
virtual_on_gpu
throughput
note "every part passed"
finish 0
