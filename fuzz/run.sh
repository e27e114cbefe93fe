#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, address + undefined sanitizers) and runs each for
# SECONDS seconds over a seed corpus made of everything under testdata/. Exits non-zero when a
# target finds a crash, a leak or undefined behaviour; the input that did it is kept in
# build-fuzz/crashes/.
#
#   fuzz/run.sh [SECONDS]      default 30
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
jobs=${JOBS:-$(nproc)}

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDMARC_BUILD_FUZZERS=ON -DDMARC_BUILD_TESTS=OFF -DDMARC_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j "$jobs" --target dmarc-fuzz-archive dmarc-fuzz-mime dmarc-fuzz-aggregate \
  dmarc-fuzz-arf dmarc-fuzz-tlsrpt

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
# Seeds: every fixture, each as its own file (bombs included: the limits must hold).
i=0
while IFS= read -r -d '' f; do
  cp "$f" "$seeds/seed-$i"
  i=$((i + 1))
done < <(find testdata -type f ! -name '*.py' ! -name '*.md' -size -1M -print0)
mkdir -p build-fuzz/crashes

status=0
for target in archive mime aggregate arf tlsrpt; do
  dict=""
  case $target in
    aggregate) dict="-dict=fuzz/xml.dict" ;;
    mime) dict="-dict=fuzz/mime.dict" ;;
    arf) dict="-dict=fuzz/arf.dict" ;;
    tlsrpt) dict="-dict=fuzz/tlsrpt.dict" ;;
  esac
  corpus="build-fuzz/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzz: dmarc-fuzz-$target for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
       UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       "build-fuzz/fuzz/dmarc-fuzz-$target" $dict -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
       -artifact_prefix="build-fuzz/crashes/$target-" "$corpus" "$seeds" \
       > "build-fuzz/fuzz-$target.log" 2>&1; then
    echo "fuzz: dmarc-fuzz-$target FAILED; see build-fuzz/fuzz-$target.log and build-fuzz/crashes/"
    tail -40 "build-fuzz/fuzz-$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "build-fuzz/fuzz-$target.log" | tail -2
  fi
done
exit $status
