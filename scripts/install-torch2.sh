#!/bin/bash
# LibTorch 2.x for trainer: PyPI's torch wheel (CUDA 13.0 build) in a virtual environment, with
# torchvision and h5py for the tests, and tensorboard, whose event reader checks --tensorboard's
# files (in both builds' tests). The wheel carries LibTorch's headers, libraries and CMake
# package (torch.utils.cmake_prefix_path); trainer never needs Python to build or run.
#
# Of the CUDA libraries the wheel depends on, those the machine has (same CUDA major, at least the
# version the wheel pins) are used from the machine; the rest come from PyPI
# (scripts/torch2_cuda_libs.py decides). Idempotent: an environment already holding these pins is
# left alone. TRAINER_TORCH2_VENV chooses where (default .venv-torch2 in the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.14.1        # newest whose torchvision exists on PyPI (torch 2.15 has none yet)
TORCHVISION_VERSION=0.29.2
venv="${TRAINER_TORCH2_VENV:-.venv-torch2}"
stamp="$venv/.trainer-torch2"
want="torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"

if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$want" ] &&
   "$venv/bin/python" -c 'import torch, torchvision, h5py, tensorboard' 2>/dev/null; then
  echo "install-torch2: $want present in $venv"
  exit 0
fi
rm -f "$stamp"
/usr/bin/python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-warn-conflicts)
# --no-deps: the wheel's CUDA dependencies are chosen below, not all downloaded.
"${pip[@]}" --no-deps "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
"${pip[@]}" filelock 'typing-extensions>=4.10' 'sympy>=1.13.3' 'networkx>=2.5.1' jinja2 'fsspec>=0.8.5' \
  numpy h5py pillow tensorboard
dist_info=$(echo "$venv"/lib/python3*/site-packages/torch-"$TORCH_VERSION".dist-info)
cuda_libs=()
while read -r requirement; do cuda_libs+=("$requirement"); done \
  < <("$venv/bin/python" scripts/torch2_cuda_libs.py "$dist_info")
for requirement in "${cuda_libs[@]}"; do
  case "$requirement" in
    cuda-toolkit*) "${pip[@]}" "$requirement" ;;    # the extras' packages, nothing else
    *) "${pip[@]}" --no-deps "$requirement" ;;
  esac
done
"$venv/bin/python" -c 'import torch, torchvision, h5py; print("install-torch2: torch", torch.__version__,
  "CUDA", torch.version.cuda, "in", torch.utils.cmake_prefix_path)'
{ echo "$want"; echo "from PyPI: ${cuda_libs[*]:-nothing}"; } > "$stamp"
