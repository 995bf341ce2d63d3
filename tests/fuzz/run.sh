#!/bin/bash
# Fuzzes the loaders with libFuzzer + AddressSanitizer/UBSan (and LeakSanitizer) for a bounded
# time each: the torch.save reader (zip container, restricted unpickler) and our HDF5 reading paths.
# Seeds: the committed fixtures and tests/fuzz/corpus*/ (regression inputs: every input that once
# found a bug stays there). A finding is written to OUT_DIR and fails the run.
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [OUT_DIR]
# libhdf5 itself is not instrumented; its own leaks on malformed files are suppressed and its
# allocations of absurd sizes may fail (allocator_may_return_null), which it reports as errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
out=${2:-$root/build/fuzz}
command -v clang++ >/dev/null || { echo "clang++ is missing (scripts/install-deps.sh --test installs it)" >&2; exit 1; }
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root")
mkdir -p "$out/pt" "$out/h5"
clang++ "${flags[@]}" "$root/storage/zip_reader.cpp" "$root/storage/pickle_reader.cpp" \
  "$root/tests/fuzz/pt_fuzzer.cpp" -o "$out/pt_fuzzer"
clang++ "${flags[@]}" -I/usr/include/hdf5/serial "$root/storage/h5.cpp" "$root/tests/fuzz/h5_fuzzer.cpp" \
  -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -o "$out/h5_fuzzer"
echo "leak:libhdf5_serial.so" >"$out/lsan.supp"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=$out/lsan.supp

cp "$root"/tests/fixtures/*.pt "$root"/tests/fuzz/corpus/* "$out/pt/"
cp "$root"/tests/fixtures/*.h5 "$root"/tests/fuzz/corpus_h5/* "$out/h5/"
cd "$out"
# Regression inputs first, each exactly once; then fuzz.
./pt_fuzzer -runs=0 "$root/tests/fuzz/corpus" "$root/tests/fixtures"
./h5_fuzzer -runs=0 "$root/tests/fuzz/corpus_h5"
./pt_fuzzer -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 pt 2>&1 | tail -8
./h5_fuzzer -max_total_time="$seconds" -max_len=20000 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 h5 2>&1 | tail -8
