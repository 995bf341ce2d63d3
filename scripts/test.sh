#!/bin/bash
# README's second command (and what CI runs): install, build, and run every test against Debian's
# LibTorch 1.13 (CPU); then build against LibTorch 2.x (PyPI's CUDA wheel) and run the tests that
# depend on LibTorch's version there, checkpoints across the two versions included; then the unit
# and MPI tests again under AddressSanitizer + UndefinedBehaviorSanitizer. Each phase is timed;
# the table of phases and the ten slowest tests close the output (scripts/phases.sh).
# Every tree is a unity build with Ninja (README, "Build time"); each builds only what its tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/phases.sh
ctest_args=(-j 2 --output-on-failure --timeout 900)

phase "install" bash scripts/install-deps.sh --test --torch2
phase "build: LibTorch 1.13, build/" bash scripts/build.sh -DTRAINER_BUILD_TESTS=ON -DCMAKE_UNITY_BUILD=ON
suite "tests: LibTorch 1.13" build "${ctest_args[@]}"
phase "build: LibTorch 2.x, build-torch2/" bash scripts/build-torch2.sh -DCMAKE_UNITY_BUILD=ON
suite "tests: LibTorch 2.x" build-torch2 "${ctest_args[@]}"
phase "build: sanitizers, build-sanitize/" bash scripts/sanitize.sh --build-only
suite "tests: sanitizers" build-sanitize -L sanitize "${ctest_args[@]}"
phase_report
