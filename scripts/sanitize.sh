#!/bin/bash
# The unit and MPI tests under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset
# "sanitize", built into build-sanitize/). scripts/test.sh runs it after the main suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
ctest --preset sanitize
