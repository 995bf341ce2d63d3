#!/bin/bash
# Configures and builds trainer against LibTorch 2.x (PyPI's torch wheel, scripts/install-torch2.sh)
# into build-torch2/, with the tests that depend on LibTorch's version (tests/CMakeLists.txt,
# TRAINER_FULL_TEST_SUITE=OFF) run with that wheel's Python torch, and the checkpoints-across-
# versions test against build/ (Debian's 1.13). Extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TRAINER_TORCH2_VENV:-.venv-torch2}"
python="$(cd "$venv/bin" && pwd)/python"
source scripts/cmake-generator.sh
cmake -S . -B build-torch2 $(cmake_generator build-torch2) -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_PREFIX_PATH="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
  -DTRAINER_BUILD_TESTS=ON -DTRAINER_FULL_TEST_SUITE=OFF -DTRAINER_BUILD_BENCH=OFF \
  -DTRAINER_PYTHON="$python" -DTRAINER_TENSORBOARD_PYTHON="$python" -DTRAINER_OTHER_BUILD="$PWD/build" "$@"
cmake --build build-torch2 -j "${JOBS:-2}" ${TARGETS:+--target $TARGETS}
