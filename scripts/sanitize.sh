#!/bin/bash
# The unit and MPI tests under AddressSanitizer + UndefinedBehaviorSanitizer (CMake preset
# "sanitize", built into build-sanitize/). scripts/test.sh builds it (--build-only) and runs its
# tests as one of its timed phases.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset sanitize >/dev/null
cmake --build --preset sanitize
[ "${1:-}" = --build-only ] || ctest --preset sanitize
