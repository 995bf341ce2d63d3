#!/bin/bash
# Installs the Debian 12 packages trainer needs to build and run; with --test also those its tests
# use (GoogleTest, and Python's torch/torchvision/h5py for the interoperability tests). Idempotent,
# non-interactive; installing packages needs root. Only missing packages are installed. (--test
# adds clang and its libFuzzer runtime for tests/fuzz/run.sh, Slurm with munge for the one-node
# test cluster, and iproute2 for the hosts in network namespaces.)
#
# --torch2 also provides LibTorch 2.x: PyPI's torch wheel (CUDA-enabled) in a virtual environment,
# scripts/install-torch2.sh. Debian's LibTorch 1.13 (CPU) is always installed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make ninja-build pkg-config
  libtorch-dev
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libboost-program-options-dev
  nlohmann-json3-dev
  zlib1g-dev
  libssl-dev
  libturbojpeg0-dev libspng-dev
  dataset-fashion-mnist
)
test_packages=(libgtest-dev python3 python3-torch python3-torchvision python3-h5py clang libclang-rt-14-dev
  slurm-wlm munge iproute2)

torch2=false
for arg in "$@"; do
  case "$arg" in
    --test) packages+=("${test_packages[@]}") ;;
    --torch2) torch2=true; packages+=(python3 python3-venv) ;;
    *) echo "usage: $0 [--test] [--torch2]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: must run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if $torch2; then
  bash scripts/install-torch2.sh
fi
