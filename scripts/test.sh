#!/bin/bash
# README's second command (and what CI runs): install, build, and run every test against Debian's
# LibTorch 1.13 (CPU); then build against LibTorch 2.x (PyPI's CUDA wheel) and run the tests that
# depend on LibTorch's version there, checkpoints across the two versions included; then the unit
# and MPI tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test --torch2
bash scripts/build.sh -DTRAINER_BUILD_TESTS=ON
ctest --test-dir build -j 2 --output-on-failure --timeout 900
bash scripts/build-torch2.sh
ctest --test-dir build-torch2 -j 2 --output-on-failure --timeout 900
bash scripts/sanitize.sh
