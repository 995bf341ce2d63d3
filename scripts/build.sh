#!/bin/bash
# Configures and builds trainer (and its tests) into build/ with both cores. Ninja when it is
# installed (a build folder made with another generator keeps it). Extra arguments go to CMake;
# scripts/test.sh and scripts/main-job.sh add -DCMAKE_UNITY_BUILD=ON (README, "Build time").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cmake-generator.sh
cmake -S . -B build $(cmake_generator build) -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@"
cmake --build build -j "${JOBS:-2}" ${TARGETS:+--target $TARGETS}
