#!/bin/bash
# README's second command (and what CI runs): install, build, and run every test against Debian's
# LibTorch 1.13 (CPU); then build against LibTorch 2.x (PyPI's CUDA wheel) and run the tests that
# depend on LibTorch's version there, checkpoints across the two versions included; then the unit
# and MPI tests again under AddressSanitizer + UndefinedBehaviorSanitizer. Each phase is timed;
# the table of phases and the ten slowest tests close the output (scripts/phases.sh).
# Every tree is a unity build with Ninja, with line tables only for debug information, and builds
# only what its tests use; the next tree builds at the lowest priority while a suite runs; ctest
# packs one-process tests two at a time (README, "Test time").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/phases.sh
tree=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
ctest_args() { echo "-j 2 --output-on-failure --timeout 900 --resource-spec-file $PWD/$1/tests/resources.json"; }

phase "install" bash scripts/install-deps.sh --test --torch2
phase "build: LibTorch 1.13, build/" bash scripts/build.sh -DTRAINER_BUILD_TESTS=ON "${tree[@]}"
# Each next tree builds while the tests before it run, on the cycles they leave idle.
background "build: LibTorch 2.x, build-torch2/" bash scripts/build-torch2.sh "${tree[@]}"
suite "tests: LibTorch 1.13" build $(ctest_args build)
join "build: LibTorch 2.x, build-torch2/"
background "build: sanitizers, build-sanitize/" bash scripts/sanitize.sh --build-only
suite "tests: LibTorch 2.x" build-torch2 $(ctest_args build-torch2)
join "build: sanitizers, build-sanitize/"
suite "tests: sanitizers" build-sanitize -L sanitize $(ctest_args build-sanitize)
phase_report
