#!/bin/bash
# README's second command (and what CI runs): install, build, and run every test; then the unit
# and MPI tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/build.sh -DTRAINER_BUILD_TESTS=ON
ctest --test-dir build -j 2 --output-on-failure --timeout 900
bash scripts/sanitize.sh
