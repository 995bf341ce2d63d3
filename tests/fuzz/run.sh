#!/bin/bash
# Fuzzes the torch.save reader with libFuzzer + AddressSanitizer/UBSan (and LeakSanitizer) for a
# bounded time. Seeds: the committed .pt fixtures and tests/fuzz/corpus/ (regression inputs: every
# input that once found a bug stays there). New crashes are written to $OUT_DIR and fail the run.
#   bash tests/fuzz/run.sh [SECONDS] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
out=${2:-$root/build/fuzz}
command -v clang++ >/dev/null || { echo "clang++ is missing (scripts/install-deps.sh --test installs it)" >&2; exit 1; }
mkdir -p "$out/corpus"
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root" "$root/storage/zip_reader.cpp" "$root/storage/pickle_reader.cpp" "$root/tests/fuzz/pt_fuzzer.cpp" \
  -o "$out/pt_fuzzer"
cp "$root"/tests/fixtures/*.pt "$root"/tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
cd "$out"
# Regression inputs first, each exactly once; then fuzz.
"$out/pt_fuzzer" -runs=0 "$root/tests/fuzz/corpus" "$root/tests/fixtures"
ASAN_OPTIONS=detect_leaks=1 "$out/pt_fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 "$out/corpus" 2>&1 | tail -25
